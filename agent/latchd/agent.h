// The agent's shell: owns the event loop, the ZooKeeper client, the election
// core and the interfaces (Unix socket, HTTP), and moves events between them.
// Everything runs on the loop thread; the ZooKeeper client's callbacks are
// posted to it. Role answers are computed from the core at the moment they are
// given (LatchCore::RoleAt re-checks the lease).
#ifndef LATCHD_AGENT_LATCHD_AGENT_H_
#define LATCHD_AGENT_LATCHD_AGENT_H_

#include <array>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "lib/api/agent_config.h"
#include "lib/api/protocol.h"
#include "lib/core/latch_core.h"
#include "lib/io/event_loop.h"
#include "lib/io/http_server.h"
#include "lib/io/hook_runner.h"
#include "lib/io/line_server.h"
#include "lib/io/sd_notify.h"
#include "lib/metrics/metrics.h"
#include "lib/util/clock.h"
#include "lib/zk/zk_client.h"

namespace latchd {

class Agent {
 public:
  explicit Agent(AgentConfig config);
  ~Agent();

  // Binds the socket and HTTP port and opens the ZooKeeper session, then tells
  // systemd READY=1 (when run under Type=notify). Errors name what could not
  // be set up (nothing has been written to ZooKeeper).
  Status Start();
  // Runs until a graceful stop finishes. Returns the process exit code.
  int Run();
  // Thread-safe: asks for a graceful stop (used by the signal handler path).
  void RequestStop();

 private:
  // Handles one event and applies the resulting actions; returns them.
  std::vector<Action> Feed(const Event& event);
  void Apply(const std::vector<Action>& actions);
  void OnRoleChange(const RoleChangeAction& change);
  void ArmTimer();
  void OnSession(ZkSessionEvent event, ZkSessionInfo info);
  void OnSignal();
  void OnLine(LineConn& conn, std::string_view line);
  HttpResponse OnHttp(const HttpRequest& request);
  // The status line at `now`, in answer_ (valid until the next call).
  const std::string& StatusLine(MonoTime now);
  // Queues the watch line for `change`; FlushWatchLines sends what is queued.
  void BroadcastToWatchers(const RoleChangeAction& change);
  void FlushWatchLines();
  // Sends `line` and counts the request; `command` nullopt: unparsable.
  void ReplyLine(LineConn& conn, std::optional<Command> command, const std::string& line, bool ok);
  void OpenSession();
  // Sends WATCHDOG=1 and schedules the next ping on the loop, so a wedged loop
  // stops the pings and systemd restarts the agent.
  void PingWatchdog(Duration interval);
  void RecordSession();

  AgentConfig config_;
  SteadyClock clock_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<LatchCore> core_;
  std::unique_ptr<ZkClient> zk_;
  std::unique_ptr<LineServer> socket_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HookRunner> hooks_;
  std::unique_ptr<SystemdNotifier> notifier_ = SystemdNotifier::FromEnvironment();
  Metrics metrics_{LATCHD_VERSION};
  MonoTime becoming_active_at_{};
  EventLoop::TimerId timer_ = 0;
  MonoTime timer_at_{};
  int signal_fd_ = -1;
  int journal_fd_ = -1;
  bool finished_ = false;
  bool stop_requested_ = false;
  bool ever_connected_ = false;
  bool connected_ = false;
  int64_t last_session_ = 0;
  std::string session_password_;
  std::string session_file_;
  std::pair<int64_t, std::string> recorded_{0, ""};
  std::set<LineConn*> watchers_;
  // latchd_requests_total series of the socket: [0] unparsable, [1 + Command];
  // [ok ? 0 : 1]. Filled on first use.
  std::array<std::array<prometheus::Counter*, 2>, kCommandCount + 1> request_counters_{};
  std::string answer_;       // reused buffer of StatusLine
  std::string watch_lines_;  // change lines of the event being handled, '\n'-joined
};

}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHD_AGENT_H_
