package io.latchd.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The client of the co-located latchd agent, over its Unix socket (docs/protocol.md): what a
 * Java server needs to gate writes on latchd's signal instead of running Curator in process.
 *
 * <pre>{@code
 * LatchdClient latch = new LatchdClient("/run/latchd/latchd.sock");
 * latch.addListener(new RoleListener() {
 *   public void onBecomingActive(long epoch) throws Exception { reloadCaches(); }
 *   public void onBecomingPassive(long epoch) { stopConsumers(); }
 * });
 * latch.hold();   // bind the agent to this JVM (agents with --server_hold)
 * latch.start();  // watch, listeners, lease checks
 * OptionalLong epoch = latch.activeEpoch();
 * if (epoch.isPresent()) { write(data, epoch.getAsLong()); }  // the epoch is the fencing token
 * }</pre>
 *
 * <h2>What "never stale" means for {@link #isActive()}</h2>
 *
 * The same rule as the C++ {@code RoleClient::IsActive()} (lib/client/role_client.h).
 * {@code isActive()} returns true at local monotonic time t ({@link System#nanoTime()}) only if
 * all of these hold, else false:
 *
 * <ol>
 *   <li>the client's watch connection to the agent is open, and everything the agent has pushed
 *       on it was read <em>by this call</em> (it drains the socket before answering), so a role
 *       change the agent wrote to the socket before t is never missed;
 *   <li>the newest status line read (watch push or status answer) says ACTIVE;
 *   <li>a {@code status} request sent at time s was answered ACTIVE with {@code lease_ms} L, no
 *       role change was pushed between s and the answer's arrival, and t &lt; s + L. The agent
 *       computed the answer after s and never claims beyond its own lease, so this bounds the
 *       claim by the agent's lease however late the answer was read (even after a GC pause);
 *   <li>no status request has been waiting for its answer longer than the deadline ({@link
 *       Options#deadline}, 2 s by default).
 * </ol>
 *
 * Consequences: an agent that exits or crashes makes the very next call false (EOF is read); a
 * stopped or hung agent within the poll interval + the deadline, and by the end of the lease it
 * last reported at the latest; a lapsed lease at its end even if the agent has not said so. The
 * watch thread re-asks {@code status} every lease_ms/3 while the role is a claim (clamped to
 * [100 ms, 1 s]) and every second otherwise.
 *
 * <h2>Threads</h2>
 *
 * {@link #start()} (or the first {@code isActive()}) starts one watch thread, which keeps the
 * {@code watch} connection (reconnecting with backoff 100 ms doubling to 2 s) and the status
 * polls, and one dispatcher thread, which calls the {@link RoleListener}s in order. {@link
 * #hold()} adds one thread per hold. {@link #close()} stops them all promptly. Every method is
 * thread-safe. Requests ({@link #status()}, {@link #ack}, {@link #yieldLeadership()}, {@link
 * #request}) use a connection of their own, bounded by the deadline.
 *
 * <h2>Listener order on activation</h2>
 *
 * See {@link RoleListener}: onBecomingActive(e) (the server's activation work) → {@code ack e} →
 * onActive(e); a failed activation is not acked. When the connection to the agent is lost the
 * listeners see an unreachable status (once per outage) and onBecomingPassive.
 *
 * <p>Errors are {@link LatchdException}s whose message names the socket and what failed.
 */
public final class LatchdClient implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(LatchdClient.class.getName());
  private static final long BACKOFF_FIRST = TimeUnit.MILLISECONDS.toNanos(100);
  private static final long BACKOFF_MAX = TimeUnit.SECONDS.toNanos(2);
  private static final long POLL_MIN = TimeUnit.MILLISECONDS.toNanos(100);
  private static final long POLL_MAX = TimeUnit.SECONDS.toNanos(1);

  /** Settings of a client; the defaults suit a server beside a local agent. */
  public static final class Options {
    Duration deadline = Duration.ofSeconds(2);
    boolean yieldOnActivationFailure = false;
    Duration holdPingInterval = Duration.ofSeconds(1);

    /** Bound on every request, and on how long a status poll may stay unanswered (2 s). */
    public Options deadline(Duration d) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("deadline must be positive");
      }
      this.deadline = d;
      return this;
    }

    /** Send {@code yield} when an activation fails, instead of waiting for the ack timeout. */
    public Options yieldOnActivationFailure(boolean y) {
      this.yieldOnActivationFailure = y;
      return this;
    }

    /** How often a hold pings (1 s; at most a third of the agent's --hold_timeout_ms). */
    public Options holdPingInterval(Duration d) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("holdPingInterval must be positive");
      }
      this.holdPingInterval = d;
      return this;
    }
  }

  private final String path;
  private final long deadlineNanos;
  private final boolean yieldOnFailure;
  private final Duration holdPing;

  // --- watch state, under mu ---
  private final Object mu = new Object();
  private LineChannel watch;
  private boolean watchReady; // first line of this watch connection read
  private boolean watchFailed; // EOF/error seen; the watch thread closes it
  private long watchLines; // status lines read on watch connections, ever
  private Role role = Role.PASSIVE; // newest line's role
  private boolean trusted; // trustedUntil is valid
  private long trustedUntil; // System.nanoTime() bound of the claim
  private long trustedEpoch;
  private boolean pollOutstanding;
  private long pollSent;
  private long watchLinesAtSend;
  private boolean pollNow;
  private boolean settled; // first poll answered, or the agent found unreachable
  private boolean outageReported;
  private volatile LatchdStatus last = LatchdStatus.unreachable("not started");
  private Selector selector;

  // --- threads ---
  private final Object lifecycle = new Object();
  private Thread watchThread;
  private Thread dispatcher;
  private final List<Hold> holds = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  // --- listeners, used by the dispatcher thread only (except add) ---
  private final List<RoleListener> listeners = new CopyOnWriteArrayList<>();
  private final LinkedBlockingQueue<LatchdStatus> events = new LinkedBlockingQueue<>();
  private static final LatchdStatus STOP = LatchdStatus.unreachable("client closed");
  private enum Local { PASSIVE, ACTIVATED, ACTIVE, FAILED }
  private Local local = Local.PASSIVE;
  private long localEpoch;

  /** A client of the agent at {@code socketPath} with the default {@link Options}. */
  public LatchdClient(String socketPath) {
    this(socketPath, new Options());
  }

  public LatchdClient(String socketPath, Options options) {
    this.path = Objects.requireNonNull(socketPath, "socketPath");
    this.deadlineNanos = options.deadline.toNanos();
    this.yieldOnFailure = options.yieldOnActivationFailure;
    this.holdPing = options.holdPingInterval;
  }

  /** The agent's socket path. */
  public String socketPath() {
    return path;
  }

  // ------------------------------------------------------------------------------------------
  // Requests

  /**
   * One raw request line (no newline) and the raw answer line, on a connection of its own,
   * within the deadline. An {@code {"error":...}} answer is returned as a line, not thrown.
   */
  public String request(String line) throws LatchdException {
    if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
      throw new IllegalArgumentException("a request must be a single line");
    }
    long deadline = System.nanoTime() + deadlineNanos;
    try (LineChannel c = LineChannel.connect(path)) {
      c.send(line, deadline);
      return c.readLine(deadline, "\"" + line + "\"");
    }
  }

  /** The agent's {@code status}, within the deadline. */
  public LatchdStatus status() throws LatchdException {
    return LatchdStatus.parse(request("status"), path);
  }

  /**
   * {@code ack epoch}: the server finished activating for {@code epoch}. Throws with the agent's
   * refusal ("latchd at S refused ack 42: ...") or the transport error.
   */
  public void ack(long epoch) throws LatchdException {
    okOrThrow(request("ack " + epoch), "ack " + epoch);
  }

  /** {@code yield}: the agent steps down and rejoins at the back of the latch. */
  public void yieldLeadership() throws LatchdException {
    okOrThrow(request("yield"), "yield");
  }

  private void okOrThrow(String answer, String what) throws LatchdException {
    JsonNode j;
    try {
      j = LatchdStatus.JSON.readTree(answer);
    } catch (IOException e) {
      throw new LatchdException("latchd at " + path + ": answer to " + what + " is not JSON: "
          + LatchdStatus.clip(answer));
    }
    if (j == null || !j.isObject()) {
      throw new LatchdException("latchd at " + path + ": answer to " + what
          + " is not a JSON object: " + LatchdStatus.clip(answer));
    }
    if (j.has("error")) {
      throw new LatchdException("latchd at " + path + " refused " + what + ": "
          + j.get("error").asText());
    }
  }

  // ------------------------------------------------------------------------------------------
  // The lease-aware check

  /** See "never stale" in the class comment. */
  public boolean isActive() {
    return activeEpoch().isPresent();
  }

  /**
   * Same rule as {@link #isActive()}; when ACTIVE, the epoch of the status answer that makes it
   * so: tag the writes done now with it (the fencing token). {@code isActive() ==
   * activeEpoch().isPresent()}. The first call starts the client (if not started) and waits at
   * most the deadline for the first answer; later calls take a lock and make one non-blocking
   * read: microseconds, no round trip.
   */
  public OptionalLong activeEpoch() {
    if (closed) {
      return OptionalLong.empty();
    }
    startAndSettle();
    synchronized (mu) {
      drainWatchLocked();
      long now = System.nanoTime();
      if (watch == null || watchFailed || !watchReady || role != Role.ACTIVE || !trusted) {
        return OptionalLong.empty();
      }
      if (now - trustedUntil >= 0) {
        return OptionalLong.empty();
      }
      if (pollOutstanding && now - pollSent >= deadlineNanos) {
        return OptionalLong.empty();
      }
      return OptionalLong.of(trustedEpoch);
    }
  }

  /**
   * The newest status read: a watch line, a status poll answered with no push in between (polls
   * run every second while PASSIVE, so the leader's address is at most about a second old), or
   * the client's unreachable status. Describes the past: use it for the leader's address, never
   * to decide on a write.
   */
  public LatchdStatus lastStatus() {
    return last;
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle and listeners

  /**
   * Adds a listener. Listeners added before {@link #start()} see every line; one added later
   * sees the lines that arrive after it was added.
   */
  public void addListener(RoleListener listener) {
    listeners.add(Objects.requireNonNull(listener));
  }

  /** Starts the watch and dispatcher threads (idempotent). */
  public void start() {
    synchronized (lifecycle) {
      if (closed) {
        throw new IllegalStateException("latchd client for " + path + " is closed");
      }
      if (watchThread != null) {
        return;
      }
      try {
        selector = Selector.open();
      } catch (IOException e) {
        throw new IllegalStateException("cannot open a selector", e);
      }
      dispatcher = new Thread(this::dispatchLoop, "latchd-dispatch " + path);
      dispatcher.setDaemon(true);
      dispatcher.start();
      watchThread = new Thread(this::watchLoop, "latchd-watch " + path);
      watchThread.setDaemon(true);
      watchThread.start();
    }
  }

  private void startAndSettle() {
    start();
    long until = System.nanoTime() + deadlineNanos;
    synchronized (mu) {
      while (!settled && !closed) {
        long left = until - System.nanoTime();
        if (left <= 0) {
          return;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(mu, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /**
   * Stops every thread of the client (watch, dispatcher, holds) and closes its connections; a
   * hold ends, so an agent with --server_hold hands over. Waits for a listener callback that is
   * running to return (it is interrupted). Must not be called from a listener callback.
   */
  @Override
  public void close() {
    Thread w;
    Thread d;
    synchronized (lifecycle) {
      if (closed) {
        return;
      }
      closed = true;
      w = watchThread;
      d = dispatcher;
    }
    for (Hold h : holds) {
      h.close();
    }
    synchronized (mu) {
      settled = true;
      mu.notifyAll();
      if (selector != null) {
        selector.wakeup();
      }
    }
    events.add(STOP);
    join(w);
    if (d != null && d != Thread.currentThread()) {
      d.interrupt();
      join(d);
    }
  }

  private static void join(Thread t) {
    if (t == null || t == Thread.currentThread()) {
      return;
    }
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join(10_000);
        if (t.isAlive()) {
          LOG.log(System.Logger.Level.WARNING, "{0} did not stop within 10 s", t.getName());
          t.interrupt();
        }
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  // ------------------------------------------------------------------------------------------
  // The watch thread

  private void settleLocked() {
    if (!settled) {
      settled = true;
      mu.notifyAll();
    }
  }

  private void applyWatchLineLocked(String line) {
    LatchdStatus st;
    try {
      st = LatchdStatus.parse(line, path);
    } catch (LatchdException e) {
      LOG.log(System.Logger.Level.WARNING, "ignoring a watch line: {0}", e.getMessage());
      return;
    }
    ++watchLines;
    watchReady = true;
    outageReported = false;
    role = st.role();
    // A push is no answer to a timed request: it never extends trust, it only takes it away.
    if (role != Role.ACTIVE || st.epoch() != trustedEpoch) {
      trusted = false;
    }
    pollNow = true;
    last = st;
    events.add(st);
  }

  private void drainWatchLocked() {
    if (watch == null || watchFailed) {
      return;
    }
    List<String> lines = new ArrayList<>();
    boolean open = watch.readAvailable(lines);
    for (String l : lines) {
      applyWatchLineLocked(l);
    }
    if (!open) {
      watchFailed = true;
      role = Role.PASSIVE;
      trusted = false;
    }
    if ((!lines.isEmpty() || !open) && selector != null) {
      selector.wakeup();
    }
  }

  private void reportOutageLocked(String why) {
    if (!outageReported) {
      outageReported = true;
      LatchdStatus st = LatchdStatus.unreachable(why);
      last = st;
      events.add(st);
    }
  }

  private void loseWatchLocked() {
    watch.close();
    watch = null;
    watchReady = false;
    watchFailed = false;
    role = Role.PASSIVE;
    trusted = false;
    pollOutstanding = false;
    settleLocked();
    reportOutageLocked("latchd at " + path + ": watch connection lost");
  }

  private static long pollInterval(LatchdStatus st) {
    if (!st.role().isClaim()) {
      // A PASSIVE that knows no leader asks more often, to learn where to redirect to.
      return st.leaderAddress() == null ? 2 * POLL_MIN : POLL_MAX;
    }
    long p = TimeUnit.MILLISECONDS.toNanos(st.leaseMs()) / 3;
    return Math.max(POLL_MIN, Math.min(POLL_MAX, p));
  }

  private void watchLoop() {
    LineChannel statusConn = null;
    long backoff = BACKOFF_FIRST;
    long nextConnect = System.nanoTime();
    long nextPoll = nextConnect;
    try {
      while (!closed) {
        long now = System.nanoTime();
        long wakeAt = now + POLL_MAX;
        synchronized (mu) {
          if (watchFailed) {
            loseWatchLocked();
            if (statusConn != null) {
              statusConn.close();
              statusConn = null;
            }
            nextConnect = now + backoff;
            backoff = Math.min(backoff * 2, BACKOFF_MAX);
          }
          if (watch == null && now - nextConnect >= 0) {
            try {
              LineChannel c = LineChannel.connect(path);
              try {
                c.send("watch", now + deadlineNanos);
                c.channel().register(selector, SelectionKey.OP_READ);
              } catch (IOException e) {
                c.close();
                throw e instanceof LatchdException ? (LatchdException) e
                    : new LatchdException("latchd at " + path + ": " + LineChannel.describe(e));
              }
              watch = c;
              watchReady = false;
              watchFailed = false;
              backoff = BACKOFF_FIRST;
            } catch (LatchdException e) {
              settleLocked(); // isActive's first call need not wait: it is false
              reportOutageLocked(e.getMessage());
              nextConnect = now + backoff;
              backoff = Math.min(backoff * 2, BACKOFF_MAX);
            }
          }
          if (watch == null) {
            wakeAt = earliest(wakeAt, nextConnect);
          }
          // An unanswered status: no trust until an answer comes.
          if (pollOutstanding && now - pollSent >= deadlineNanos) {
            pollOutstanding = false;
            trusted = false;
            if (statusConn != null) {
              statusConn.close();
              statusConn = null;
            }
            nextPoll = now;
            settleLocked();
          }
          // Polls start once the watch is registered (its first line was read): every change
          // after that is pushed, so an answer computed after the send is trusted until a push
          // says otherwise.
          if (watch != null && watchReady && !pollOutstanding
              && (pollNow || now - nextPoll >= 0)) {
            if (statusConn == null) {
              try {
                statusConn = LineChannel.connect(path);
                statusConn.channel().register(selector, SelectionKey.OP_READ);
              } catch (IOException e) {
                if (statusConn != null) {
                  statusConn.close();
                }
                statusConn = null;
              }
            }
            long sentAt = System.nanoTime(); // taken before the send
            boolean sent = false;
            if (statusConn != null) {
              try {
                statusConn.send("status", sentAt + deadlineNanos);
                sent = true;
              } catch (LatchdException e) {
                sent = false;
              }
            }
            if (sent) {
              pollOutstanding = true;
              pollSent = sentAt;
              watchLinesAtSend = watchLines;
              pollNow = false;
            } else {
              if (statusConn != null) {
                statusConn.close();
                statusConn = null;
              }
              trusted = false;
              pollNow = false;
              nextPoll = now + POLL_MIN;
              settleLocked();
            }
          }
          if (pollOutstanding) {
            wakeAt = earliest(wakeAt, pollSent + deadlineNanos);
          } else if (watchReady) {
            wakeAt = earliest(wakeAt, pollNow ? now : nextPoll);
          }
        }
        long waitMs = TimeUnit.NANOSECONDS.toMillis(wakeAt - System.nanoTime());
        if (waitMs > 0) {
          selector.select(waitMs);
        } else {
          selector.selectNow();
        }
        selector.selectedKeys().clear();
        if (closed) {
          break;
        }
        if (statusConn != null) {
          List<String> lines = new ArrayList<>();
          boolean open = statusConn.readAvailable(lines);
          synchronized (mu) {
            long got = System.nanoTime();
            for (String line : lines) {
              if (!pollOutstanding) {
                continue; // the late answer of a timed-out request
              }
              pollOutstanding = false;
              LatchdStatus st;
              try {
                st = LatchdStatus.parse(line, path);
              } catch (LatchdException e) {
                LOG.log(System.Logger.Level.WARNING, "status poll: {0}", e.getMessage());
                trusted = false;
                nextPoll = got + POLL_MIN;
                settleLocked();
                continue;
              }
              // Trust the answer only if no push was read while it was on its way.
              drainWatchLocked();
              if (watchLines != watchLinesAtSend || watchFailed) {
                pollNow = true;
                continue;
              }
              role = st.role();
              trusted = true;
              trustedUntil = pollSent + TimeUnit.MILLISECONDS.toNanos(st.leaseMs());
              trustedEpoch = st.epoch();
              // No push since the send: this answer is the newest view (the leader's address
              // changes without a role change of this agent, so only polls bring it).
              last = st;
              nextPoll = got + pollInterval(st);
              settleLocked();
            }
            if (!open) {
              statusConn.close();
              statusConn = null;
              pollOutstanding = false;
              trusted = false;
              nextPoll = got + POLL_MIN;
            }
          }
        }
        synchronized (mu) {
          drainWatchLocked();
        }
      }
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        LOG.log(System.Logger.Level.ERROR, "latchd watch thread for " + path + " failed", e);
      }
    } finally {
      synchronized (mu) {
        if (watch != null) {
          watch.close();
          watch = null;
        }
        role = Role.PASSIVE;
        trusted = false;
        settleLocked();
      }
      if (statusConn != null) {
        statusConn.close();
      }
      try {
        selector.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }

  private static long earliest(long a, long b) {
    return a - b <= 0 ? a : b;
  }

  // ------------------------------------------------------------------------------------------
  // The dispatcher thread

  private void dispatchLoop() {
    while (true) {
      LatchdStatus st;
      try {
        st = events.take();
      } catch (InterruptedException e) {
        if (closed) {
          return;
        }
        continue;
      }
      if (st == STOP || closed) {
        return;
      }
      try {
        dispatch(st);
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.ERROR, "latchd listener dispatch failed", e);
      }
    }
  }

  private void dispatch(LatchdStatus st) {
    for (RoleListener l : listeners) {
      try {
        l.onStatus(st);
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "RoleListener.onStatus threw", e);
      }
    }
    boolean claim = st.agentReachable() && st.role().isClaim();
    if (local != Local.PASSIVE && (!claim || st.epoch() != localEpoch)) {
      deactivate(localEpoch);
    }
    if (!claim) {
      return;
    }
    long e = st.epoch();
    if (local == Local.PASSIVE) {
      activate(e);
    }
    if (local == Local.ACTIVATED && st.role() == Role.ACTIVE) {
      local = Local.ACTIVE;
      for (RoleListener l : listeners) {
        try {
          l.onActive(e);
        } catch (RuntimeException ex) {
          LOG.log(System.Logger.Level.WARNING, "RoleListener.onActive threw", ex);
        }
      }
    }
  }

  private void activate(long e) {
    localEpoch = e;
    try {
      for (RoleListener l : listeners) {
        l.onBecomingActive(e);
      }
      if (closed) {
        throw new LatchdException("latchd client for " + path + " closed during activation");
      }
      ack(e);
      local = Local.ACTIVATED;
    } catch (Exception ex) {
      if (ex instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      local = Local.FAILED;
      LOG.log(System.Logger.Level.WARNING, "activation for epoch {0} failed: {1}", e,
          ex.toString());
      for (RoleListener l : listeners) {
        try {
          l.onActivationFailed(e, ex);
        } catch (RuntimeException x) {
          LOG.log(System.Logger.Level.WARNING, "RoleListener.onActivationFailed threw", x);
        }
      }
      if (yieldOnFailure && !closed) {
        try {
          yieldLeadership();
        } catch (LatchdException y) {
          LOG.log(System.Logger.Level.WARNING, "yield after a failed activation: {0}",
              y.getMessage());
        }
      }
    }
  }

  private void deactivate(long e) {
    local = Local.PASSIVE;
    for (int i = listeners.size() - 1; i >= 0; i--) {
      try {
        listeners.get(i).onBecomingPassive(e);
      } catch (RuntimeException ex) {
        LOG.log(System.Logger.Level.WARNING, "RoleListener.onBecomingPassive threw", ex);
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Hold

  /**
   * Binds the agent to this process (socket command {@code hold}; agents run with
   * --server_hold) with the client's hold ping interval. See {@link #hold(Duration)}.
   */
  public Hold hold() {
    return hold(holdPing);
  }

  /**
   * Starts a thread that keeps one hold connection open and sends {@code ping} on it every
   * {@code pingInterval}, or every third of the agent's --hold_timeout_ms when that is shorter;
   * a lost or refused connection is reopened with backoff 100 ms doubling to 2 s. The hold ends
   * when this JVM dies (the kernel closes the socket), when the returned {@link Hold} or the
   * client is closed. Independent of {@link #start()}.
   */
  public Hold hold(Duration pingInterval) {
    synchronized (lifecycle) {
      if (closed) {
        throw new IllegalStateException("latchd client for " + path + " is closed");
      }
      Hold h = new Hold(pingInterval.toNanos());
      holds.add(h);
      h.thread.start();
      return h;
    }
  }

  /** True while a hold started by {@link #hold()} is established. */
  public boolean holding() {
    for (Hold h : holds) {
      if (h.established()) {
        return true;
      }
    }
    return false;
  }

  /** One hold of the agent; {@link #close()} ends it (the agent sees the connection close). */
  public final class Hold implements AutoCloseable {
    private final long pingNanos;
    private final Thread thread;
    private final Object sleeper = new Object();
    private volatile boolean stopped;
    private volatile boolean established;
    private volatile LineChannel conn;

    private Hold(long pingNanos) {
      this.pingNanos = pingNanos;
      this.thread = new Thread(this::loop, "latchd-hold " + path);
      thread.setDaemon(true);
    }

    /** True while the hold's {@code hold} was answered and no ping has failed since. */
    public boolean established() {
      return established;
    }

    private boolean sleep(long nanos) {
      long until = System.nanoTime() + nanos;
      synchronized (sleeper) {
        while (!stopped) {
          long left = until - System.nanoTime();
          if (left <= 0) {
            return true;
          }
          try {
            TimeUnit.NANOSECONDS.timedWait(sleeper, left);
          } catch (InterruptedException e) {
            return false;
          }
        }
      }
      return false;
    }

    private void loop() {
      long backoff = BACKOFF_FIRST;
      while (!stopped) {
        try (LineChannel c = LineChannel.connect(path)) {
          conn = c;
          if (stopped) {
            break;
          }
          c.send("hold", System.nanoTime() + deadlineNanos);
          String answer = c.readLine(System.nanoTime() + deadlineNanos, "\"hold\"");
          JsonNode j = LatchdStatus.JSON.readTree(answer);
          if (j == null || !j.path("hold").asBoolean(false)) {
            throw new LatchdException("latchd at " + path + " refused hold: "
                + LatchdStatus.clip(answer));
          }
          long ping = pingNanos;
          long t = j.path("hold_timeout_ms").asLong(0);
          if (t > 0) {
            ping = Math.min(ping, TimeUnit.MILLISECONDS.toNanos(Math.max(t / 3, 1)));
          }
          established = true;
          backoff = BACKOFF_FIRST;
          while (sleep(ping)) {
            c.send("ping", System.nanoTime() + deadlineNanos);
            c.readLine(System.nanoTime() + deadlineNanos, "\"ping\"");
          }
        } catch (IOException | RuntimeException e) {
          if (!stopped) {
            LOG.log(System.Logger.Level.DEBUG, "hold: {0}", e.getMessage());
          }
        } finally {
          established = false;
          conn = null;
        }
        if (!sleep(backoff)) {
          break;
        }
        backoff = Math.min(backoff * 2, BACKOFF_MAX);
      }
      established = false;
    }

    /** Ends the hold: closes its connection and stops its thread (waits for it). */
    @Override
    public void close() {
      stopped = true;
      synchronized (sleeper) {
        sleeper.notifyAll();
      }
      LineChannel c = conn;
      if (c != null) {
        c.close();
      }
      holds.remove(this);
      join(thread);
    }
  }
}
