package io.latchd.client;

/**
 * Callbacks of a server that follows its agent, called by {@link LatchdClient} on its one
 * dispatcher thread, one at a time, in the order the agent's lines arrive. Listeners run in the
 * order they were added; the passive callbacks in the reverse order (like Atlas's
 * ActiveStateChangeHandler: activate in order, deactivate in reverse).
 *
 * <p>The sequence of one term {@code e}:
 *
 * <ol>
 *   <li>{@link #onBecomingActive(long) onBecomingActive(e)} on every listener, in order: the
 *       server's activation work (reload caches, start consumers). Returning normally means
 *       "done"; throwing means "failed": the later listeners are not called, the agent is not
 *       acked (with {@code --activation_ack_timeout_ms} it gives leadership up after the timeout,
 *       or at once when {@link LatchdClient.Options#yieldOnActivationFailure} is set) and every
 *       listener gets {@link #onActivationFailed}.
 *   <li>the client sends {@code ack e} (latchd then publishes {@code active_server_info} and goes
 *       ACTIVE).
 *   <li>{@link #onActive(long) onActive(e)} once the agent says ACTIVE for e. Gate each write on
 *       {@link LatchdClient#activeEpoch()} (the lease-aware check), not on this callback.
 *   <li>{@link #onBecomingPassive(long) onBecomingPassive(e)} when the agent leaves the claim
 *       (BECOMING_PASSIVE, PASSIVE, a new term) or the connection to it is lost, once per term
 *       that reached step 1.
 * </ol>
 *
 * A BECOMING_PASSIVE followed by BECOMING_ACTIVE of the same epoch (a lease renewed in the same
 * session) starts again at step 1 with the same epoch. Exceptions of the other callbacks are
 * logged and ignored. Callbacks may call any method of the client except {@code close()}.
 */
public interface RoleListener {
  /** Every status line, including the client's own "unreachable" status; before the others. */
  default void onStatus(LatchdStatus status) {}

  /** This server is about to become ACTIVE for {@code epoch}: activate, or throw to refuse. */
  default void onBecomingActive(long epoch) throws Exception {}

  /** The agent is ACTIVE for {@code epoch} and acked: the activation is complete. */
  default void onActive(long epoch) {}

  /** Activation for {@code epoch} failed (a listener threw, or the ack was refused). */
  default void onActivationFailed(long epoch, Exception cause) {}

  /** Stop accepting writes for {@code epoch} and undo the activation. */
  default void onBecomingPassive(long epoch) {}
}
