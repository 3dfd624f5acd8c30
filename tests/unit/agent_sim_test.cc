// Whole agents (AgentCore) against the simulated ZooKeeper ensemble
// (tests/sim/sim_agents.h): what the co-located servers see — socket watcher
// lines and /active — during handovers and under seeded random faults.
#include "tests/sim/sim_agents.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>

namespace latchd::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

SimAgentsOptions Options(uint64_t seed = 1) {
  SimAgentsOptions o;
  o.zk.seed = seed;
  o.zk.on_failure = [](const std::string& what) { ADD_FAILURE() << "SimZk: " << what; };
  return o;
}

std::vector<Role> RolesSeen(SimAgents& s, int i) {
  std::vector<Role> out;
  for (const auto& l : s.process(i).watcher) {
    if (l.role && (out.empty() || out.back() != *l.role)) out.push_back(*l.role);
  }
  return out;
}

int ActiveIndex(SimAgents& s) {
  int found = -1;
  for (int i = 0; i < 3; ++i) {
    if (s.process(i).running && s.WatcherRole(i) == Role::kActive) found = found == -1 ? i : -2;
  }
  return found;
}

TEST(AgentSimTest, ThreeAgentsElectOneThatWatcherAndHttpAgreeOn) {
  SimAgents s(Options());
  for (int i = 0; i < 3; ++i) s.Start(i);
  ASSERT_TRUE(s.Settle());
  s.Advance(seconds(2));
  int active = ActiveIndex(s);
  ASSERT_GE(active, 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.Get(i, "/active").status, i == active ? 200 : 503) << "host" << i;
  }
  EXPECT_EQ(s.max_active(), 1);
  EXPECT_TRUE(s.violations().empty()) << s.violations().front();
}

TEST(AgentSimTest, AGracefulHandoverTellsEachWatcherInOrder) {
  SimAgents s(Options());
  for (int i = 0; i < 3; ++i) s.Start(i);
  s.Advance(seconds(2));
  const int old = ActiveIndex(s);
  ASSERT_GE(old, 0);
  s.Stop(old);
  ASSERT_TRUE(s.Settle());
  s.Advance(seconds(1));
  const int next = ActiveIndex(s);
  ASSERT_GE(next, 0);
  EXPECT_NE(next, old);
  EXPECT_FALSE(s.process(old).running) << "the stopped agent exited";
  using R = Role;
  EXPECT_EQ(RolesSeen(s, old), (std::vector<R>{R::kPassive, R::kBecomingActive, R::kActive,
                                               R::kBecomingPassive, R::kPassive}));
  EXPECT_EQ(RolesSeen(s, next), (std::vector<R>{R::kPassive, R::kBecomingActive, R::kActive}));
  // The old leader's BECOMING_PASSIVE line left no later than the new one's ACTIVE.
  MonoTime gave_up{}, took_over{};
  for (const auto& l : s.process(old).watcher) {
    if (l.role == R::kBecomingPassive) gave_up = l.at;
  }
  for (const auto& l : s.process(next).watcher) {
    if (l.role == R::kActive) took_over = l.at;
  }
  EXPECT_LE(gave_up, took_over);
  EXPECT_EQ(s.max_active(), 1);
  EXPECT_TRUE(s.violations().empty()) << s.violations().front();
}

// One random step of a schedule: a fault or its repair on a random agent or
// server, then some time.
void RandomStep(SimAgents& s, std::mt19937& rng) {
  const int i = static_cast<int>(rng() % 3);
  auto& p = s.process(i);
  switch (rng() % 10) {
    case 0: if (p.running) s.Crash(i); else s.Start(i); break;
    case 1: if (p.running) s.Stop(i); else s.Start(i); break;
    case 2: s.SetPartitioned(i, !s.zk().partitioned(i)); break;
    case 3: if (p.running) s.SetPaused(i, !p.paused); break;
    case 4: s.zk().KillServer(i); break;
    case 5: s.zk().RestartServer(i); break;
    case 6: s.zk().SetCommitLag(i, milliseconds(rng() % 3000)); break;
    case 7: {
      // Errors a server may give whatever the agent knows (an ACL change, a
      // concurrent write, a moved session). An injected NONODE or NODEEXISTS
      // contradicts the tree and can strand the agent (see issue 11's report).
      static const ZkCode kCodes[] = {ZkCode::kNoAuth, ZkCode::kBadVersion, ZkCode::kSessionMoved};
      FaultRule rule;
      rule.code = kCodes[rng() % 3];
      rule.client = i;
      rule.rate = 0.2;
      rule.remaining = 3;
      s.zk().AddFault(rule);
      break;
    }
    case 8: {
      FaultRule rule;
      rule.kind = rng() % 2 ? FaultKind::kLossApplied : FaultKind::kLossNotApplied;
      rule.client = i;
      rule.remaining = 1;
      s.zk().AddFault(rule);
      break;
    }
    case 9: s.zk().ResetConnection(i); break;
  }
  s.Advance(milliseconds(100 + rng() % 3000));
}

TEST(AgentSimTest, RandomSchedulesNeverShowTwoActivesAndRecover) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimAgents s(Options(seed));
    std::mt19937 rng(static_cast<uint32_t>(seed));
    for (int i = 0; i < 3; ++i) s.Start(i);
    s.Advance(seconds(2));
    for (int step = 0; step < 25; ++step) RandomStep(s, rng);
    // Repair everything: exactly one ACTIVE within a session timeout and a few seconds.
    s.zk().ClearFaults();
    for (int i = 0; i < 3; ++i) {
      s.zk().RestartServer(i);
      s.zk().SetCommitLag(i, Duration::zero());
      s.SetPartitioned(i, false);
      s.SetPaused(i, false);
      if (!s.process(i).running) s.Start(i);
    }
    EXPECT_TRUE(s.Settle());
    s.Advance(seconds(12));
    EXPECT_TRUE(s.Settle()) << "the run quiesces";
    EXPECT_GE(ActiveIndex(s), 0) << "exactly one ACTIVE after repair";
    if (ActiveIndex(s) < 0 && std::getenv("SIM_DEBUG")) {
      for (int i = 0; i < 3; ++i) {
        std::fprintf(stderr, "host%d running=%d %s\n", i, s.process(i).running,
                     s.process(i).running ? s.Get(i, "/status").body.c_str() : "");
        for (const auto& l : s.process(i).logs) std::fprintf(stderr, "   log %s\n", l.message.c_str());
      }
      std::fprintf(stderr, "%s\n", s.zk().Trace().c_str());
    }
    EXPECT_LE(s.max_active(), 1);
    EXPECT_TRUE(s.violations().empty()) << s.violations().front();
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace latchd::sim
