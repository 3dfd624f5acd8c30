// The agent's shell: owns the event loop, the ZooKeeper client, the Unix
// socket and HTTP servers, the hook runner and the files, and moves events
// and actions between them and the agent core (lib/agent/agent_core.h),
// which decides everything. Everything runs on the loop thread; the ZooKeeper
// client's and the hook runner's callbacks are posted to it.
#ifndef LATCHD_AGENT_LATCHD_AGENT_H_
#define LATCHD_AGENT_LATCHD_AGENT_H_

#include <functional>
#include <memory>
#include <unordered_map>

#include "lib/agent/agent_core.h"
#include "lib/io/event_loop.h"
#include "lib/io/http_server.h"
#include "lib/io/hook_runner.h"
#include "lib/io/line_server.h"
#include "lib/io/prober.h"
#include "lib/io/sd_notify.h"
#include "lib/metrics/metrics.h"
#include "lib/util/clock.h"
#include "lib/zk/zk_client.h"

namespace latchd {

// What the shell is given instead of making it itself (tests inject them).
struct AgentDeps {
  const Clock* clock = nullptr;  // default: the steady clock
  std::function<std::unique_ptr<ZkClient>(ZkClientOptions, ZkClientCallbacks)> make_zk_client;
};

class Agent {
 public:
  explicit Agent(AgentConfig config, AgentDeps deps = {});
  ~Agent();

  // Binds the socket and HTTP port and opens the ZooKeeper session, then tells
  // systemd READY=1 (when run under Type=notify). Errors name what could not
  // be set up (nothing has been written to ZooKeeper).
  Status Start();
  // Runs until the core says exit. Returns the process exit code.
  int Run();

 private:
  void Dispatch(const agent::Event& event);
  void Execute(const std::vector<agent::Action>& actions);
  void ArmTimer();
  Instant Now() const;

  const AgentConfig config_;
  SteadyClock steady_;
  const Clock& clock_;
  AgentDeps deps_;
  std::unique_ptr<SystemdNotifier> notifier_ = SystemdNotifier::FromEnvironment();
  Metrics metrics_{LATCHD_VERSION};
  std::unique_ptr<AgentCore> core_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<ZkClient> zk_;
  std::unique_ptr<LineServer> socket_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HookRunner> hooks_;
  std::unique_ptr<Prober> prober_;
  std::unordered_map<uint64_t, LineConn*> conns_;
  std::string session_file_;
  EventLoop::TimerId timer_ = 0;
  MonoTime timer_at_{};
  int signal_fd_ = -1;
  int journal_fd_ = -1;
  int exit_code_ = 0;
};

}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHD_AGENT_H_
