// A simulated cluster for core tests: several LatchCores against one FakeZk,
// on simulated time, with partitions, pauses, expiries and stops. After every
// step it checks the safety invariant: at most one agent claims at any instant.
#ifndef LATCHD_TESTS_UNIT_SIM_CLUSTER_H_
#define LATCHD_TESTS_UNIT_SIM_CLUSTER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/latch_core.h"
#include "tests/unit/fake_zk.h"

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
    MonoTime partitioned_at{};
    std::deque<ZkRequest> held;           // sent while partitioned: never delivered
    std::deque<Event> inbox;              // to deliver when not paused
    std::vector<RoleChangeAction> roles;  // every announced change, in order
    std::vector<Action> actions;          // every action, in order
    bool reopen = false;
  };

  explicit SimCluster(int n, Duration session_timeout = std::chrono::seconds(10));
  // Applied to each agent's config at Start.
  std::function<void(int, LatchConfig&)> configure;
  // Feeds an event to agent i now (then delivers everything).
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
  // A connection reset: the client notices at once (a ZooKeeper server died).
  void Drop(int i);
  void Pause(int i) { agents_[i].paused = true; }
  void Resume(int i);
  // Advances simulated time in small steps, running timers and deliveries.
  void Advance(Duration d);
  // Delivers everything deliverable now.
  void Pump();

  int ClaimCount() const;  // agents whose RoleAt(now) is a claim
  int ActiveIndex() const;  // the single ACTIVE agent, or -1
  Role RoleOf(int i) const { return agents_[i].core->RoleAt(now_); }
  Agent& agent(int i) { return agents_[i]; }
  FakeZk& zk() { return zk_; }
  MonoTime now() const { return now_; }
  int max_claims() const { return max_claims_; }
  Duration timeout() const { return timeout_; }

 private:
  void Deliver(int i, const Event& e);
  void Run(int i, std::vector<Action> actions);
  void OpenSession(int i);
  void Check();
  void NoticeLoss(int i);

  FakeZk zk_;
  Duration timeout_;
  MonoTime now_{std::chrono::seconds(1000)};
  std::vector<Agent> agents_;
  int uuid_counter_ = 0;
  int max_claims_ = 0;
};

}  // namespace latchd::testing

#endif  // LATCHD_TESTS_UNIT_SIM_CLUSTER_H_
