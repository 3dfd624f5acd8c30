package io.latchd.servlet;

import io.latchd.client.LatchdClient;
import io.latchd.client.LatchdStatus;
import io.latchd.client.Role;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * The decision of {@link ActiveGateFilter}, independent of the servlet API (so that a jakarta
 * filter is a thin copy of the javax one): for one request, pass it (with the fencing epoch),
 * refuse it (503 + Retry-After) or redirect it (307 to the active server's advertised address).
 */
public final class ActiveGate {
  /** What a server that is not ACTIVE does with a gated request. */
  public enum PassiveMode {
    /** 503 Service Unavailable with Retry-After. */
    REFUSE,
    /**
     * 307 Temporary Redirect to the active server's advertised address (as Atlas's
     * ActiveServerFilter does) when this server is PASSIVE and the leader's address is known;
     * 503 otherwise (BECOMING_ACTIVE, BECOMING_PASSIVE, no leader, agent unreachable).
     */
    REDIRECT
  }

  /** What happens to reads (GET, HEAD, OPTIONS, TRACE). */
  public enum ReadMode {
    /** Reads pass on every server. */
    ALLOW,
    /** Reads are gated like writes. */
    GATE
  }

  /** The outcome for one request. */
  public static final class Decision {
    /** 0: pass the request on; else the status to answer. */
    public final int status;
    /** The epoch of the claim a passed request was accepted under; -1 if none. */
    public final long epoch;
    /** Location of a redirect, else null. */
    public final String location;
    /** A one-line explanation for a refused request. */
    public final String message;

    Decision(int status, long epoch, String location, String message) {
      this.status = status;
      this.epoch = epoch;
      this.location = location;
      this.message = message;
    }

    public boolean pass() {
      return status == 0;
    }
  }

  private final LatchdClient client;
  private final PassiveMode passiveMode;
  private final ReadMode readMode;
  private final int retryAfterSeconds;
  private final List<String> exemptPrefixes;

  public ActiveGate(LatchdClient client, PassiveMode passiveMode, ReadMode readMode,
      int retryAfterSeconds, List<String> exemptPrefixes) {
    this.client = client;
    this.passiveMode = passiveMode;
    this.readMode = readMode;
    this.retryAfterSeconds = retryAfterSeconds;
    this.exemptPrefixes = List.copyOf(exemptPrefixes);
  }

  public LatchdClient client() {
    return client;
  }

  public int retryAfterSeconds() {
    return retryAfterSeconds;
  }

  /** True for the methods that do not change anything (GET, HEAD, OPTIONS, TRACE). */
  public static boolean isRead(String method) {
    switch (method.toUpperCase(Locale.ROOT)) {
      case "GET":
      case "HEAD":
      case "OPTIONS":
      case "TRACE":
        return true;
      default:
        return false;
    }
  }

  /**
   * Decides on one request. {@code pathInContext} is matched against the exempt prefixes;
   * {@code requestUri} and {@code query} (may be null) make the redirect's Location.
   */
  public Decision decide(String method, String pathInContext, String requestUri, String query) {
    for (String p : exemptPrefixes) {
      if (pathInContext.startsWith(p)) {
        return new Decision(0, -1, null, null);
      }
    }
    boolean read = isRead(method);
    OptionalLong epoch = client.activeEpoch();
    if (epoch.isPresent()) {
      return new Decision(0, epoch.getAsLong(), null, null);
    }
    if (read && readMode == ReadMode.ALLOW) {
      return new Decision(0, -1, null, null);
    }
    LatchdStatus st = client.lastStatus();
    if (passiveMode == PassiveMode.REDIRECT && st.agentReachable()
        && st.role() == Role.PASSIVE && st.leaderAddress() != null
        && !st.leader().id().equals(st.id())) {
      String base = st.leaderAddress();
      while (base.endsWith("/")) {
        base = base.substring(0, base.length() - 1);
      }
      String location = base + requestUri + (query == null || query.isEmpty() ? "" : "?" + query);
      return new Decision(307, -1, location, "latchd: this server is PASSIVE; the active server is "
          + st.leader().id() + " at " + st.leaderAddress());
    }
    String why = st.agentReachable()
        ? "this server is " + st.role() + (st.role() == Role.ACTIVE ? " without a fresh lease" : "")
        : "the latchd agent is unreachable";
    return new Decision(503, -1, null, "latchd: " + why + "; retry later");
  }
}
