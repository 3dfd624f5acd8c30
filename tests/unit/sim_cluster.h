// A simulated cluster for core tests: several LatchCores against one
// simulated ZooKeeper ensemble (tests/sim/sim_zk.h: latency, followers,
// tick-rounded expiry), on simulated time, with partitions, pauses, expiries
// and stops. After every action it checks the safety invariant: at most one
// agent claims at any instant.
//
// Every call that feeds an agent (Start, Stop, Yield, Feed, Heal, Drop,
// Resume, Pump) then runs the simulation until nothing is in flight
// (SimZk::Settle): a run that does not quiesce, or an agent sending more than
// SimZk's request-rate bound, fails the current test with a trace.
// Thread-safety: none.
#ifndef LATCHD_TESTS_UNIT_SIM_CLUSTER_H_
#define LATCHD_TESTS_UNIT_SIM_CLUSTER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/latch_core.h"
#include "tests/sim/sim_zk.h"

namespace latchd::testing {

class SimCluster {
 public:
  struct Agent {
    std::unique_ptr<LatchCore> core;
    int64_t session = 0;
    bool running = false;
    bool connected = false;    // as the client believes
    bool partitioned = false;
    bool paused = false;
    std::vector<RoleChangeAction> roles;  // every announced change, in order
    std::vector<Action> actions;          // every action, in order
  };

  explicit SimCluster(int n, Duration session_timeout = std::chrono::seconds(10),
                      sim::SimZkOptions options = {});
  // Applied to each agent's config at Start.
  std::function<void(int, LatchConfig&)> configure;
  // Feeds an event to agent i now (then settles).
  void Feed(int i, const Event& e) {
    Deliver(i, e);
    Pump();
  }

  void Start(int i);
  void Stop(int i);   // graceful (StopEvent)
  void Crash(int i);  // process gone, session left to expire
  void Yield(int i);
  void Partition(int i);
  void Heal(int i);
  // A connection reset (a ZooKeeper server died): the client notices at once;
  // it stays cut off until Heal.
  void Drop(int i);
  void Pause(int i);
  void Resume(int i);
  // Advances simulated time, running timers and deliveries.
  void Advance(Duration d);
  // Runs until nothing is in flight.
  void Pump();

  int ClaimCount() const;  // agents whose RoleAt(now) is a claim
  int ActiveIndex() const;  // the single ACTIVE agent, or -1
  Role RoleOf(int i) const { return agents_[i].core->RoleAt(now()); }
  Agent& agent(int i) { return agents_[i]; }
  sim::SimZk& zk() { return zk_; }
  MonoTime now() const { return zk_.now(); }
  int max_claims() const { return max_claims_; }
  Duration timeout() const { return timeout_; }  // the negotiated session timeout

 private:
  void Deliver(int i, const Event& e);
  void OnZk(int i, const sim::ClientEvent& e);
  void Run(int i, std::vector<Action> actions);
  sim::SimZk::Host Timers();
  void Check();

  sim::SimZk zk_;
  Duration timeout_;
  std::vector<Agent> agents_;
  int uuid_counter_ = 0;
  int max_claims_ = 0;
};

}  // namespace latchd::testing

#endif  // LATCHD_TESTS_UNIT_SIM_CLUSTER_H_
