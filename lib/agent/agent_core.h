// AgentCore: the whole agent as a deterministic state machine (sans I/O) —
// the election core (LatchCore) plus everything the agent decides around it:
// the socket protocol and its watchers, the HTTP answers, the session record
// for restarts, the journal, hooks, systemd notifications, signals, and the
// order in which all of that leaves the process.
//
// Handle(event, now) takes one AgentEvent (lib/agent/agent_io.h) and returns
// the AgentActions to carry out, in order; HandleHttp answers one HTTP
// request; NextDeadline says when to feed TimerFired. It never reads a clock,
// sleeps or touches a descriptor, so every answer given during a transition is
// a unit test (tests/unit/agent_core_test.cc, and whole agents in the
// simulated cluster).
//
// Promises:
//  * Every role answer (socket, HTTP) is computed when it is given and
//    re-checks the lease (LatchCore::RoleAt).
//  * Role changes leave before the ZooKeeper requests of the same event: the
//    change lines of one event go to every watcher as one SendBytes each,
//    before any ZkSubmit of that event, so a role given up (yield, stop)
//    reaches the co-located server before the write that lets another agent
//    take over.
//  * A socket line gets exactly one answer line, in order, except `watch`
//    (then one line per role change follows).
//  * The session record names the current session and own node whenever
//    both are known and no stop was asked for; it is removed when a stop
//    finishes.
//
// Thread-safety: none; one thread (the agent's event loop).
// Errors: none returned; failures of the shell's effects come back as events
// (ZkOpenFailed, SessionRecordFailed) and are logged.
#ifndef LATCHD_LIB_AGENT_AGENT_CORE_H_
#define LATCHD_LIB_AGENT_AGENT_CORE_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/agent/agent_io.h"
#include "lib/agent/server_health.h"
#include "lib/api/agent_config.h"
#include "lib/api/http_routes.h"
#include "lib/api/protocol.h"
#include "lib/client/client_status.h"
#include "lib/core/latch_core.h"
#include "lib/io/http_message.h"
#include "lib/metrics/metrics.h"

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace latchd {

// After a graceful stop that handed the latch over (the leader's node deleted with the handover
// mark), the session is closed this much later rather than at once: closing it is a ZooKeeper
// commit (closeSession, the member record's deletion) that would otherwise be ordered in front
// of the successor's sync and publish, which wait for it (docs/design.md, "Graceful stop and
// yield"). The agent is PASSIVE, out of the latch and unpublished meanwhile; it ignores
// ZooKeeper's answers and watches, and a second stop signal exits at once.
inline constexpr std::chrono::milliseconds kCloseAfterHandover{200};

// What the agent core needs besides the validated flags.
struct AgentCoreOptions {
  std::function<std::string()> new_uuid;      // for latch node names
  std::optional<Duration> watchdog_interval;  // systemd's WatchdogSec / 2, if any
  std::string session_file;                   // "" without a socket (no record)
  // The record found at session_file by the shell at start: nullopt if there
  // was no file, an error if it could not be read.
  std::optional<Result<SessionRecord>> previous_record;
};

class AgentCore {
 public:
  AgentCore(AgentConfig config, AgentCoreOptions options, Metrics& metrics);

  // The credentials of the session to resume (from a previous run's record),
  // for the ZooKeeper client's first Open(); nullopt: a new session.
  const std::optional<ZkSessionCredentials>& resume() const { return resume_; }

  // One event at `now`; the returned actions stay valid until the next call.
  const std::vector<agent::Action>& Handle(const agent::Event& event, Instant now);
  // One HTTP request (GET or HEAD) at `now`.
  HttpResponse HandleHttp(const HttpRequest& request, Instant now);
  // When to feed TimerFired; nullopt: nothing scheduled.
  std::optional<MonoTime> NextDeadline() const;

  const LatchCore& latch() const { return *core_; }
  size_t socket_clients() const { return conns_.size(); }

 private:
  struct Conn {
    Peer peer;
    bool watching = false;
  };
  using CommandHandler = void (AgentCore::*)(uint64_t conn, Conn& c, const ProtocolRequest& req);
  using RouteHandler = HttpResponse (AgentCore::*)(const CoreStatus& s);
  static const std::array<CommandHandler, kCommandCount> kCommandHandlers;
  static const std::array<RouteHandler, kHttpRouteCount> kRouteHandlers;

  // Events.
  void OnStarted();
  void OnLine(uint64_t conn, std::string_view line);
  void OnZkSession(const agent::ZkSession& e);
  void OnSignal(const agent::SignalReceived& e);
  void OnTimer();

  // The election core: feeds it, carries out what it answers, and returns
  // that (nothing once finished).
  std::vector<Action> Feed(const Event& event);
  void ApplyCoreActions(const std::vector<Action>& actions);
  void OnRoleChange(const RoleChangeAction& change);
  void UpdateSessionRecord();

  // Socket commands (lib/agent/socket_commands.cc), one per row of kCommands.
  void CmdStatus(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdWatch(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdAck(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdYield(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdLeader(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdParticipants(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdHold(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdPing(uint64_t conn, Conn& c, const ProtocolRequest& req);
  void CmdHelp(uint64_t conn, Conn& c, const ProtocolRequest& req);

  // The server binding: after anything that may change the health.
  void UpdateHealth();
  // The server fields of a status line.
  void FillServer(ClientStatus* s) const;

  // HTTP routes (lib/agent/http_routes.cc), one per row of kHttpRoutes.
  HttpResponse GetAtlasStatus(const CoreStatus& s);
  HttpResponse GetActive(const CoreStatus& s);
  HttpResponse GetPassive(const CoreStatus& s);
  HttpResponse GetLeader(const CoreStatus& s);
  HttpResponse GetStatus(const CoreStatus& s);
  HttpResponse GetHealthz(const CoreStatus& s);
  HttpResponse GetMetrics(const CoreStatus& s);
  HttpResponse GetIndex(const CoreStatus& s);

  // Output.
  // Answers `conn` with `line` (or with what wire_ holds from `offset` on)
  // and counts the request; `command` nullopt: unparsable.
  void Reply(uint64_t conn, std::optional<Command> command, std::string_view line, bool ok);
  void ReplyFrom(uint64_t conn, std::optional<Command> command, size_t offset, bool ok);
  // The status line at now_ into wire_ (with its '\n'); returns its offset.
  size_t AppendStatus();
  void Send(uint64_t conn, size_t offset, size_t size);
  void Emit(agent::Action action) { out_.push_back(std::move(action)); }
  void Log(LogAction::Level level, std::string message);
  void LogAtStart(LogAction::Level level, std::string message);
  void Finish(int code);

  const AgentConfig config_;
  const AgentCoreOptions options_;
  Metrics& metrics_;
  std::unique_ptr<LatchCore> core_;
  std::optional<ZkSessionCredentials> resume_;

  Instant now_;
  std::vector<agent::Action> out_;
  std::vector<agent::Log> startup_logs_;
  // Bytes of this Handle's SendBytes; their views are set at its end.
  std::string wire_;
  struct PendingSend {
    size_t index;  // in out_
    size_t offset;
    size_t size;
  };
  std::vector<PendingSend> sends_;
  ClientStatus scratch_;  // reused for every status line

  std::unordered_map<uint64_t, Conn> conns_;
  size_t watchers_ = 0;
  // latchd_requests_total series of the socket: [0] unparsable, [1 + Command];
  // [ok ? 0 : 1]. Filled on first use.
  std::array<std::array<prometheus::Counter*, 2>, kCommandCount + 1> request_counters_{};

  // ZooKeeper session.
  bool ever_connected_ = false;
  bool connected_ = false;
  int64_t last_session_ = 0;
  std::string session_password_;
  std::optional<MonoTime> open_retry_at_;
  std::optional<MonoTime> unreachable_warning_at_;
  // Session record: what is recorded, and what should be.
  std::pair<int64_t, std::string> recorded_{0, ""};
  std::pair<int64_t, std::string> desired_{0, ""};

  std::optional<ServerHealth> health_;  // from Started on
  std::optional<MonoTime> watchdog_at_;
  MonoTime becoming_active_at_{};
  bool stop_requested_ = false;
  bool led_at_stop_ = false;           // the stop handed over leadership (HandoverAction "stop")
  std::optional<MonoTime> close_at_;   // the handed-over stop's session close (kCloseAfterHandover)
  bool finished_ = false;
};

}  // namespace latchd

#endif  // LATCHD_LIB_AGENT_AGENT_CORE_H_
