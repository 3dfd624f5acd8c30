package io.latchd.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * One status line of the agent ({@code status}, or a line of {@code watch}), parsed. Immutable.
 *
 * <p>{@link #parse} accepts only a JSON object with a known {@code role}, an integer {@code epoch}
 * and an integer {@code lease_ms}; anything else is a {@link LatchdException}, never a role. A
 * status made by the client itself when the agent cannot be reached is {@link #unreachable}: role
 * PASSIVE, {@link #agentReachable()} false.
 */
public final class LatchdStatus {
  static final ObjectMapper JSON = new ObjectMapper();

  /** The leader as the agent knows it ({@code "leader"} of a status line). */
  public static final class Leader {
    private final String id;
    private final String address;
    private final long epoch;

    Leader(String id, String address, long epoch) {
      this.id = id;
      this.address = address;
      this.epoch = epoch;
    }

    /** The leader's agent id. */
    public String id() {
      return id;
    }

    /** The address the leader advertises (its {@code active_server_info}); may be empty. */
    public String address() {
      return address;
    }

    /** The leader's term. */
    public long epoch() {
      return epoch;
    }

    @Override
    public String toString() {
      return "Leader{id=" + id + ", address=" + address + ", epoch=" + epoch + "}";
    }
  }

  private final boolean agentReachable;
  private final String id;
  private final Role role;
  private final long epoch;
  private final long leaseMs;
  private final Leader leader;
  private final boolean zkConnected;
  private final Role previousRole;
  private final String reason;
  private final boolean serverHealthy;
  private final int holds;
  private final int participants;
  private final String raw;

  private LatchdStatus(boolean agentReachable, String id, Role role, long epoch, long leaseMs,
      Leader leader, boolean zkConnected, Role previousRole, String reason, boolean serverHealthy,
      int holds, int participants, String raw) {
    this.agentReachable = agentReachable;
    this.id = id;
    this.role = role;
    this.epoch = epoch;
    this.leaseMs = leaseMs;
    this.leader = leader;
    this.zkConnected = zkConnected;
    this.previousRole = previousRole;
    this.reason = reason;
    this.serverHealthy = serverHealthy;
    this.holds = holds;
    this.participants = participants;
    this.raw = raw;
  }

  /** The status the client reports while the agent cannot be reached. */
  static LatchdStatus unreachable(String why) {
    return new LatchdStatus(false, "", Role.PASSIVE, 0, 0, null, false, null, why, false, 0, 0, "");
  }

  /**
   * Parses one status line of the agent at {@code socket}.
   *
   * @throws LatchdException naming the socket and the problem when the line is an
   *     {@code {"error":...}} answer, not JSON, or misses (or has a wrong type for) {@code role},
   *     {@code epoch} or {@code lease_ms}
   */
  public static LatchdStatus parse(String line, String socket) throws LatchdException {
    JsonNode j;
    try {
      j = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      throw new LatchdException("latchd at " + socket + ": status answer is not JSON ("
          + oneLine(e.getOriginalMessage()) + "): " + clip(line));
    }
    if (j == null || !j.isObject()) {
      throw new LatchdException(
          "latchd at " + socket + ": status answer is not a JSON object: " + clip(line));
    }
    if (j.has("error")) {
      throw new LatchdException(
          "latchd at " + socket + " answered an error: " + j.get("error").asText());
    }
    JsonNode roleNode = j.get("role");
    if (roleNode == null || !roleNode.isTextual()) {
      throw missing(socket, "role", line);
    }
    Role role = Role.parse(roleNode.asText());
    if (role == null) {
      throw new LatchdException("latchd at " + socket + ": unknown role \"" + roleNode.asText()
          + "\" in status answer: " + clip(line));
    }
    long epoch = integer(j, "epoch", socket, line);
    long leaseMs = integer(j, "lease_ms", socket, line);
    Leader leader = null;
    JsonNode l = j.get("leader");
    if (l != null && l.isObject()) {
      leader = new Leader(l.path("id").asText(""), l.path("address").asText(""),
          l.path("epoch").asLong(0));
    }
    JsonNode zk = j.path("zk");
    Role previous = j.has("previous_role") ? Role.parse(j.get("previous_role").asText()) : null;
    JsonNode server = j.path("server");
    return new LatchdStatus(true, j.path("id").asText(""), role, epoch, leaseMs, leader,
        "CONNECTED".equals(zk.path("state").asText()), previous,
        j.has("reason") ? j.get("reason").asText() : null,
        server.path("healthy").asBoolean(true), server.path("holds").asInt(0),
        j.path("participants").asInt(0), line);
  }

  private static long integer(JsonNode j, String field, String socket, String line)
      throws LatchdException {
    JsonNode n = j.get(field);
    if (n == null || !n.canConvertToLong() || !n.isIntegralNumber()) {
      throw missing(socket, field, line);
    }
    return n.asLong();
  }

  private static LatchdException missing(String socket, String field, String line) {
    return new LatchdException("latchd at " + socket + ": status answer misses \"" + field
        + "\" (or it has the wrong type): " + clip(line));
  }

  static String clip(String s) {
    s = oneLine(s);
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  static String oneLine(String s) {
    return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
  }

  /** False only for the client's own status while the agent cannot be reached. */
  public boolean agentReachable() {
    return agentReachable;
  }

  /** The agent's id. */
  public String id() {
    return id;
  }

  public Role role() {
    return role;
  }

  /** The current term: the agent's own while it leads, the leader's otherwise. */
  public long epoch() {
    return epoch;
  }

  /** How long the claim holds if the agent hears nothing more from ZooKeeper, when computed. */
  public long leaseMs() {
    return leaseMs;
  }

  /** The leader, or null when unknown. */
  public Leader leader() {
    return leader;
  }

  /** The leader's advertised address, or null when no leader (or no address) is known. */
  public String leaderAddress() {
    return leader == null || leader.address().isEmpty() ? null : leader.address();
  }

  public boolean zkConnected() {
    return zkConnected;
  }

  /** The role before this change (watch lines of a change only), or null. */
  public Role previousRole() {
    return previousRole;
  }

  /** Why the role changed (watch lines of a change only), or null. */
  public String reason() {
    return reason;
  }

  /** {@code server.healthy}: whether the agent stands for election. */
  public boolean serverHealthy() {
    return serverHealthy;
  }

  /** {@code server.holds}: open hold connections. */
  public int holds() {
    return holds;
  }

  /** How many latch nodes there are (agents standing for election). */
  public int participants() {
    return participants;
  }

  /** The line as the agent sent it (empty for {@link #unreachable}). */
  public String raw() {
    return raw;
  }

  @Override
  public String toString() {
    if (!agentReachable) {
      return "LatchdStatus{unreachable: " + reason + "}";
    }
    return "LatchdStatus{id=" + id + ", role=" + role + ", epoch=" + epoch + ", lease_ms="
        + leaseMs + ", leader=" + leader + (reason != null ? ", reason=" + reason : "") + "}";
  }
}
