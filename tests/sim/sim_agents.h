// SimAgents: whole agents (AgentCore, lib/agent/agent_core.h) against the
// simulated ZooKeeper (tests/sim/sim_zk.h), each with the co-located
// server's view: a socket watcher connection that records every line it
// receives with its simulated time, and HTTP GETs.
//
// Each agent is a process: Start runs a new AgentCore (given the session
// record the previous one left, so a restart resumes its session), Crash
// kills it, Stop sends SIGTERM. After every event any agent handles it checks
// that no two running agents claim ACTIVE at that instant, by their
// watcher's last line or by /active, and that every watcher's lines follow
// the role diagram (BECOMING_PASSIVE before PASSIVE after a claim) and that
// no ACTIVE line leaves before the answer of the agent's publish of
// active_server_info. Violations are collected in violations().
//
// A watcher's ACTIVE counts until the lease its line reported runs out, as a
// client of docs/protocol.md bounds it (a paused agent cannot send more).
// Thread-safety: none.
#ifndef LATCHD_TESTS_SIM_SIM_AGENTS_H_
#define LATCHD_TESTS_SIM_SIM_AGENTS_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/agent/agent_core.h"
#include "tests/sim/sim_zk.h"

namespace latchd::sim {

struct SimAgentsOptions {
  int agents = 3;
  Duration session_timeout = std::chrono::seconds(4);
  SimZkOptions zk;
  std::function<void(int, AgentConfig&)> configure;  // applied at every Start
};

class SimAgents {
 public:
  struct Line {
    MonoTime at;
    std::string text;
    std::optional<Role> role;  // the "role" of the line, if it has one
    std::optional<Duration> lease;  // its "lease_ms"
  };
  struct Process {
    std::unique_ptr<Metrics> metrics;
    std::unique_ptr<AgentCore> core;
    bool running = false;
    bool paused = false;
    bool opened = false;  // the first ZkOpen resumes the recorded session
    std::optional<SessionRecord> record;  // the session file
    std::vector<Line> watcher;            // every line the watchers received
    size_t first_line = 0;                // the current process's first line
    std::vector<agent::Log> logs;
    std::deque<agent::Event> queue;       // events the agent's own actions cause
    std::string asi;                      // <root>/active_server_info
    std::set<uint64_t> publish_ids;       // requests that publish it
    bool publish_answered = false;        // since the last BECOMING_ACTIVE line
  };

  explicit SimAgents(SimAgentsOptions options);

  void Start(int i);
  void Crash(int i);
  void Stop(int i);  // SIGTERM
  void SetPartitioned(int i, bool on) { zk_.SetPartitioned(i, on); }
  void SetPaused(int i, bool on);
  void Advance(Duration d);
  bool Settle();  // false: the run did not quiesce (SimZk failed it)

  HttpResponse Get(int i, const std::string& path);
  // The role the watcher was told last; nullopt: no line yet or not running.
  std::optional<Role> WatcherRole(int i) const;
  // The watcher's last line says ACTIVE and the lease it reported has not
  // run out (docs/protocol.md: a client bounds a claim by lease_ms).
  bool WatcherClaimsActive(int i) const;
  // Running agents claiming ACTIVE now: by the watcher, or by /active (not
  // asked of a paused agent: it cannot answer).
  int ActiveCount();
  int max_active() const { return max_active_; }
  const std::vector<std::string>& violations() const { return violations_; }
  Process& process(int i) { return procs_[i]; }
  SimZk& zk() { return zk_; }
  MonoTime now() const { return zk_.now(); }

 private:
  static constexpr uint64_t kWatcherConn = 1;
  Instant At() const;
  void Handle(int i, const agent::Event& event);
  void Apply(int i, const std::vector<agent::Action>& actions);
  void OnZk(int i, const ClientEvent& e);
  void OnWatcherBytes(int i, std::string_view bytes);
  void Check();
  SimZk::Host Timers();

  SimAgentsOptions options_;
  SimZk zk_;
  std::vector<Process> procs_;
  int uuids_ = 0;
  int max_active_ = 0;
  std::vector<std::string> violations_;
};

}  // namespace latchd::sim

#endif  // LATCHD_TESTS_SIM_SIM_AGENTS_H_
