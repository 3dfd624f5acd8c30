// Behaviour of the election core against an in-memory ZooKeeper on simulated
// time: no sleeps, no threads. Every test also relies on SimCluster checking
// after each step that at most one agent claims.
#include "lib/core/latch_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <set>

#include "tests/unit/fake_zk.h"
#include "tests/unit/sim_cluster.h"

namespace latchd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::SimCluster;

const char* kLatch = "/latchd/leader_elector_path";
const char* kAsi = "/latchd/active_server_info";

std::vector<std::pair<Role, Role>> Steps(const SimCluster::Agent& a) {
  std::vector<std::pair<Role, Role>> out;
  for (const auto& r : a.roles) out.emplace_back(r.from, r.to);
  return out;
}

int CountNodesOf(SimCluster& c, const std::string& id) {
  int n = 0;
  for (const auto& child : c.zk().Children(kLatch)) {
    if (c.zk().Get(std::string(kLatch) + "/" + child)->data == id) ++n;
  }
  return n;
}

TEST(LatchCoreTest, SingleAgentBecomesActiveThroughBecomingActive) {
  SimCluster c(1);
  c.Start(0);
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  using P = std::pair<Role, Role>;
  EXPECT_EQ(Steps(c.agent(0)), (std::vector<P>{{Role::kPassive, Role::kBecomingActive},
                                               {Role::kBecomingActive, Role::kActive}}));
  ASSERT_TRUE(c.zk().Exists(kAsi));
  EXPECT_EQ(c.zk().Get(kAsi)->data, "http://host0:21000");
  auto children = c.zk().Children(kLatch);
  ASSERT_EQ(children.size(), 1u);
  auto node = ParseLatchNode(children[0]);
  ASSERT_TRUE(node.has_value());
  EXPECT_FALSE(node->uuid.empty());
  EXPECT_EQ(c.zk().Get(std::string(kLatch) + "/" + children[0])->data, "host0");
  // The epoch is the czxid of the leader's node.
  auto status = c.agent(0).core->StatusAt(c.now());
  EXPECT_EQ(status.epoch, c.zk().Get(std::string(kLatch) + "/" + children[0])->stat.czxid);
  EXPECT_EQ(status.leader.id, "host0");
}

TEST(LatchCoreTest, ThreeAgentsOneActiveEachWatchingOnlyItsPredecessor) {
  SimCluster c(3);
  for (int i = 0; i < 3; ++i) c.Start(i);
  c.Advance(seconds(2));
  EXPECT_EQ(c.ActiveIndex(), 0);
  EXPECT_EQ(c.RoleOf(1), Role::kPassive);
  EXPECT_EQ(c.RoleOf(2), Role::kPassive);
  auto order = SortLatchNodes(c.zk().Children(kLatch));
  ASSERT_EQ(order.size(), 3u);
  // Agent i watches exactly node i-1 (data watches only; no herd), besides
  // its own node.
  for (int i = 1; i < 3; ++i) {
    std::vector<std::string> watched;
    for (const auto& a : c.agent(i).actions) {
      if (auto* s = std::get_if<SendAction>(&a); s && s->request.watch &&
                                                s->request.path.rfind(kLatch, 0) == 0 &&
                                                BaseName(s->request.path) != order[i].name) {
        watched.push_back(std::string(BaseName(s->request.path)));
      }
    }
    ASSERT_FALSE(watched.empty());
    for (const auto& w : watched) EXPECT_EQ(w, order[i - 1].name) << "agent " << i;
  }
  // Everyone agrees on the leader.
  int64_t epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  for (int i = 1; i < 3; ++i) {
    auto s = c.agent(i).core->StatusAt(c.now());
    EXPECT_EQ(s.leader.id, "host0");
    EXPECT_EQ(s.leader.epoch, epoch);
    EXPECT_EQ(s.leader.address, "http://host0:21000");
  }
}

TEST(LatchCoreTest, GracefulStopStepsDownBeforeDeletingAndHandsOver) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  int64_t old_epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  c.Stop(0);
  EXPECT_FALSE(c.agent(0).running);
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  EXPECT_GT(c.agent(1).core->StatusAt(c.now()).epoch, old_epoch);
  EXPECT_EQ(c.max_claims(), 1);
  // In agent 0's own action list, PASSIVE is announced before any delete is sent.
  bool passive_seen = false;
  for (const auto& a : c.agent(0).actions) {
    if (auto* r = std::get_if<RoleChangeAction>(&a); r && r->to == Role::kPassive) passive_seen = true;
    if (auto* s = std::get_if<SendAction>(&a); s && s->request.kind == ZkRequestKind::kDelete) {
      EXPECT_TRUE(passive_seen) << "delete sent while still claiming";
    }
  }
  using P = std::pair<Role, Role>;
  auto steps = Steps(c.agent(0));
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps[steps.size() - 2], (P{Role::kActive, Role::kBecomingPassive}));
  EXPECT_EQ(steps.back(), (P{Role::kBecomingPassive, Role::kPassive}));
  EXPECT_EQ(c.zk().Get(kAsi)->data, "http://host1:21000");
}

TEST(LatchCoreTest, LeaseLapseStopsClaimingBeforeTheSessionCanExpire) {
  SimCluster c(2, seconds(10));
  c.Start(0);
  c.Start(1);
  c.Advance(seconds(1));
  c.Partition(0);
  // The lease is 7.5 s after the last answered write; renewals run every 1 s.
  c.Advance(milliseconds(6400));
  EXPECT_EQ(c.RoleOf(0), Role::kActive) << "a short silence must not cost the claim";
  c.Advance(milliseconds(1200));
  EXPECT_EQ(c.RoleOf(0), Role::kBecomingPassive);
  EXPECT_EQ(c.RoleOf(1), Role::kPassive) << "the session has not expired yet";
  c.Advance(seconds(3));
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  EXPECT_EQ(c.max_claims(), 1);
  c.Heal(0);
  c.Advance(seconds(1));
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  EXPECT_EQ(CountNodesOf(c, "host0"), 1) << "rejoined with exactly one node";
}

TEST(LatchCoreTest, RoleAtRechecksTheLeaseWithoutATick) {
  // A paused process handles no events; when asked after resuming it must
  // not report the claim it had before the pause.
  SimCluster c(2, seconds(10));
  c.Start(0);
  c.Start(1);
  c.Pause(0);
  MonoTime before = c.now();
  c.Advance(seconds(8));
  // No event has been handled by agent 0 since the pause.
  EXPECT_EQ(c.agent(0).core->RoleAt(before), Role::kActive);
  EXPECT_EQ(c.RoleOf(0), Role::kBecomingPassive);
  c.Advance(seconds(4));
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  c.Resume(0);
  c.Advance(seconds(1));
  EXPECT_NE(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.max_claims(), 1);
}

TEST(LatchCoreTest, ReconnectWithinTheSessionKeepsActiveAndEpoch) {
  SimCluster c(2, seconds(10));
  c.Start(0);
  c.Start(1);
  int64_t epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  size_t changes = c.agent(0).roles.size();
  c.Partition(0);
  c.Advance(seconds(3));
  c.Heal(0);  // the client never noticed: nothing changes
  c.Advance(seconds(2));
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.agent(0).roles.size(), changes) << "never left ACTIVE";
  // The server it talks to dies: the client notices at once and reconnects
  // (to another server) within the lease.
  c.Drop(0);
  c.Advance(seconds(4));
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  c.Heal(0);
  c.Advance(seconds(1));
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.agent(0).roles.size(), changes) << "never left ACTIVE";
  EXPECT_EQ(c.agent(0).core->StatusAt(c.now()).epoch, epoch);
}

TEST(LatchCoreTest, LapsedLeaseRenewedInTheSameSessionReturnsToActiveSameEpoch) {
  SimCluster c(1, seconds(10));
  c.Start(0);
  int64_t epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  c.Partition(0);
  c.Advance(milliseconds(8000));
  EXPECT_EQ(c.RoleOf(0), Role::kBecomingPassive);
  c.Heal(0);  // within the 10 s session
  c.Advance(seconds(1));
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.agent(0).core->StatusAt(c.now()).epoch, epoch);
  using P = std::pair<Role, Role>;
  auto steps = Steps(c.agent(0));
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[2], (P{Role::kActive, Role::kBecomingPassive}));
  EXPECT_EQ(steps[3], (P{Role::kBecomingPassive, Role::kBecomingActive}));
  EXPECT_EQ(steps[4], (P{Role::kBecomingActive, Role::kActive}));
}

TEST(LatchCoreTest, SessionExpiryRejoinsWithANewSessionAndHigherEpoch) {
  SimCluster c(2, seconds(10));
  c.Start(0);
  c.Start(1);
  int64_t first_epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  c.Partition(0);
  c.Advance(seconds(12));
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  int64_t second_epoch = c.agent(1).core->StatusAt(c.now()).epoch;
  EXPECT_GT(second_epoch, first_epoch);
  c.Heal(0);  // reconnects, learns of the expiry, opens a new session
  c.Advance(seconds(1));
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  EXPECT_EQ(CountNodesOf(c, "host0"), 1);
  bool reopened = false;
  for (const auto& a : c.agent(0).actions) reopened |= std::holds_alternative<ReopenSessionAction>(a);
  EXPECT_TRUE(reopened);
  c.Stop(1);
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_GT(c.agent(0).core->StatusAt(c.now()).epoch, second_epoch);
  EXPECT_EQ(c.max_claims(), 1);
}

// Drives one core by hand to control exactly which requests are answered.
class ManualCore {
 public:
  explicit ManualCore(testing::FakeZk& zk, int64_t session)
      : zk_(zk), session_(session), core_([] {
          LatchConfig c;
          c.id = "me";
          c.advertise = "http://me:21000";
          c.new_uuid = [] { return std::string("11111111-2222-4333-8444-555555555555"); };
          return c;
        }()) {}
  std::vector<Action> Feed(const Event& e) { return core_.Handle(e, now_); }
  // Answers every SendAction in `actions` through the fake, recursively.
  void Drain(std::vector<Action> actions) {
    for (auto& a : actions) {
      if (auto* s = std::get_if<SendAction>(&a)) Drain(Feed(ResultEvent{zk_.Apply(session_, s->request, now_)}));
    }
  }
  // Answers the member record's requests among `actions` (and what follows
  // them) until the latch node's create is sent; returns that create.
  std::optional<ZkRequest> UntilCreate(std::vector<Action> actions) {
    for (auto& a : actions) {
      auto* s = std::get_if<SendAction>(&a);
      if (s == nullptr) continue;
      if (s->request.kind == ZkRequestKind::kCreate && s->request.path.find("/leader_elector_path/") != std::string::npos) {
        return s->request;
      }
      if (auto c = UntilCreate(Feed(ResultEvent{zk_.Apply(session_, s->request, now_)}))) return c;
    }
    return std::nullopt;
  }
  LatchCore& core() { return core_; }
  void SetSession(int64_t session) { session_ = session; }
  MonoTime now_{std::chrono::seconds(1000)};

 private:
  testing::FakeZk& zk_;
  int64_t session_;
  LatchCore core_;
};

std::vector<ZkRequest> Sends(const std::vector<Action>& actions) {
  std::vector<ZkRequest> out;
  for (const auto& a : actions) {
    if (auto* s = std::get_if<SendAction>(&a)) out.push_back(s->request);
  }
  return out;
}

TEST(LatchCoreTest, CreateLostButAppliedIsAdoptedNotDuplicated) {
  testing::FakeZk zk;
  MonoTime t0{std::chrono::seconds(1000)};
  int64_t s = zk.NewSession(seconds(10), t0);
  ManualCore m(zk, s);
  // Parents exist; the create reaches the server but the answer is lost.
  ASSERT_EQ(zk.Create("/latchd", ""), ZkCode::kOk);
  ASSERT_EQ(zk.Create(kLatch, ""), ZkCode::kOk);
  auto sends = Sends(m.Feed(SessionUpEvent{s, seconds(10)}));
  ASSERT_EQ(sends.size(), 1u);
  ASSERT_EQ(sends[0].kind, ZkRequestKind::kCreate);
  zk.Apply(s, sends[0], m.now_);
  ZkResult lost;
  lost.id = sends[0].id;
  lost.code = ZkCode::kConnectionLoss;
  m.Feed(SessionDownEvent{});
  m.Drain(m.Feed(ResultEvent{lost}));
  m.Drain(m.Feed(SessionUpEvent{s, seconds(10)}));
  EXPECT_EQ(zk.Children(kLatch).size(), 1u) << "the landed node is adopted, no second node";
  EXPECT_EQ(m.core().RoleAt(m.now_), Role::kActive);
  EXPECT_FALSE(m.core().StatusAt(m.now_).own_node.empty());
}

TEST(LatchCoreTest, CreateLostAndSessionExpiredLeavesNoOrphan) {
  testing::FakeZk zk;
  MonoTime t0{std::chrono::seconds(1000)};
  int64_t s1 = zk.NewSession(seconds(10), t0);
  ManualCore m(zk, s1);
  ASSERT_EQ(zk.Create("/latchd", ""), ZkCode::kOk);
  ASSERT_EQ(zk.Create(kLatch, ""), ZkCode::kOk);
  std::optional<ZkRequest> create = m.UntilCreate(m.Feed(SessionUpEvent{s1, seconds(10)}));
  ASSERT_TRUE(create.has_value());
  std::vector<ZkRequest> sends{*create};
  ZkResult landed = zk.Apply(s1, sends[0], m.now_);
  ASSERT_EQ(landed.code, ZkCode::kOk);
  // Make the landed node look like it outlived its session (CURATOR-498): the
  // node is re-owned by a session that is still alive on the server.
  std::string stray = landed.created_path;
  ZkResult lost;
  lost.id = sends[0].id;
  lost.code = ZkCode::kConnectionLoss;
  m.Feed(SessionDownEvent{});
  m.Feed(ResultEvent{lost});
  auto reopen = m.Feed(SessionExpiredEvent{});
  bool asked = false;
  for (auto& a : reopen) asked |= std::holds_alternative<ReopenSessionAction>(a);
  EXPECT_TRUE(asked);
  // The server has not removed the node (we pretend the old session lingers;
  // its member record we remove, or the new session would wait for it).
  ASSERT_EQ(zk.Delete(MemberPath("/latchd", "me")), ZkCode::kOk);
  int64_t s2 = zk.NewSession(seconds(10), m.now_);
  ManualCore* mm = &m;
  mm->SetSession(s2);
  mm->Drain(mm->Feed(SessionUpEvent{s2, seconds(10)}));
  EXPECT_FALSE(zk.Exists(stray)) << "the node of the lost create was deleted";
  EXPECT_EQ(zk.Children(kLatch).size(), 1u);
}

TEST(LatchCoreTest, OwnerCheckRefusesANodeOfAnotherSession) {
  // CURATOR-696: the own node turns out to belong to another session.
  testing::FakeZk zk;
  MonoTime t0{std::chrono::seconds(1000)};
  int64_t s = zk.NewSession(seconds(10), t0);
  int64_t other = zk.NewSession(seconds(10), t0);
  ManualCore m(zk, s);
  auto sends = Sends(m.Feed(SessionUpEvent{s, seconds(10)}));
  // Let the whole join run, but answer the owner check with a forged owner.
  // (A create answered in this session shows the owner, so the owner is read
  // only when that answer does not show this session: forged too.)
  std::vector<Action> pending = m.Feed(ResultEvent{zk.Apply(s, sends[0], m.now_)});
  bool forged = false;
  for (int round = 0; round < 20 && !pending.empty(); ++round) {
    std::vector<Action> next;
    for (auto& a : pending) {
      auto* send = std::get_if<SendAction>(&a);
      if (!send) continue;
      ZkResult r = zk.Apply(s, send->request, m.now_);
      if (send->request.kind == ZkRequestKind::kCreate && r.code == ZkCode::kOk &&
          r.created_path.find("-latch-") != std::string::npos) {
        r.stat.ephemeral_owner = other;
      }
      if (!forged && send->request.kind == ZkRequestKind::kGetData && send->request.watch &&
          send->request.path.find("-latch-") != std::string::npos && r.code == ZkCode::kOk) {
        r.stat.ephemeral_owner = other;
        forged = true;
      }
      auto more = m.Feed(ResultEvent{r});
      next.insert(next.end(), more.begin(), more.end());
    }
    pending = std::move(next);
    if (forged) break;
  }
  ASSERT_TRUE(forged);
  EXPECT_EQ(m.core().RoleAt(m.now_), Role::kPassive);
  bool deleted_own = false;
  for (const auto& req : Sends(pending)) deleted_own |= req.kind == ZkRequestKind::kDelete;
  EXPECT_TRUE(deleted_own) << "the suspicious node is deleted before rejoining";
}

TEST(LatchCoreTest, LatchParentDeletedIsRecreatedAndLeadershipResumes) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  ASSERT_EQ(c.ActiveIndex(), 0);
  c.zk().Delete("/latchd");  // a data wipe by someone else (CURATOR-724)
  c.Pump();
  c.Advance(seconds(2));
  EXPECT_TRUE(c.zk().Exists(kLatch));
  EXPECT_EQ(c.zk().Children(kLatch).size(), 2u);
  EXPECT_EQ(c.ClaimCount(), 1);
  EXPECT_GE(c.ActiveIndex(), 0);
}

// Another client deletes every latch node as soon as it appears (a wipe of the
// root that races with the agents, as an rmr does). Each agent backs off: its
// failures start over only when a node has stood for a while, not each time it
// reaches the lead for an instant, so the wiper gets through.
TEST(LatchCoreTest, NodesDeletedAgainAndAgainBackOff) {
  SimCluster c(3);
  for (int i = 0; i < 3; ++i) c.Start(i);
  std::vector<size_t> from;
  for (int i = 0; i < 3; ++i) from.push_back(c.agent(i).actions.size());
  for (int step = 0; step < 1000; ++step) {  // 10 s of a wiper deleting every 10 ms
    for (const std::string& child : c.zk().Children(kLatch)) {
      c.zk().Delete(std::string(kLatch) + "/" + child);
    }
    c.Pump();
    c.Advance(milliseconds(10));
  }
  for (int i = 0; i < 3; ++i) {
    int creates = 0;
    const auto& actions = c.agent(i).actions;
    for (size_t k = from[i]; k < actions.size(); ++k) {
      auto* send = std::get_if<SendAction>(&actions[k]);
      if (send != nullptr && send->request.kind == ZkRequestKind::kCreate &&
          send->request.path.rfind(std::string(kLatch) + "/_c_", 0) == 0) {
        ++creates;
      }
    }
    // 2 at once, then 25-50 ms doubling to 0.8-1.6 s: about 15 in 10 s.
    EXPECT_LE(creates, 25) << "agent " << i << " recreated its latch node " << creates << " times";
    EXPECT_GE(creates, 5) << "agent " << i << " gave up rejoining";
  }
  // Once the wiper stops, the cluster comes back with one ACTIVE, within a
  // lock-delay (0.825 T): the last leader's active_server_info is still there
  // and its owner cannot be asked.
  c.Advance(seconds(10));
  EXPECT_EQ(c.ClaimCount(), 1);
  EXPECT_GE(c.ActiveIndex(), 0);
}

TEST(LatchCoreTest, OwnNodeDeletedByOthersDropsTheClaimAtOnce) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  auto order = SortLatchNodes(c.zk().Children(kLatch));
  c.zk().Delete(std::string(kLatch) + "/" + order[0].name);
  c.Pump();
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  EXPECT_EQ(CountNodesOf(c, "host0"), 1) << "rejoined at the back";
}

TEST(LatchCoreTest, ForeignChildrenAreIgnored) {
  SimCluster c(1);
  ASSERT_EQ(c.zk().Create("/latchd", ""), ZkCode::kOk);
  ASSERT_EQ(c.zk().Create(kLatch, ""), ZkCode::kOk);
  ASSERT_EQ(c.zk().Create(std::string(kLatch) + "/not-a-participant", "x"), ZkCode::kOk);
  ASSERT_EQ(c.zk().Create(std::string(kLatch) + "/latch-12", "x"), ZkCode::kOk);
  ASSERT_EQ(c.zk().Create(std::string(kLatch) + "/zzz-latch-000000000x", "x"), ZkCode::kOk);
  c.Start(0);
  c.Advance(seconds(2));
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
}

TEST(LatchCoreTest, YieldMovesToTheBackAndHandsOver) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  c.Advance(seconds(1));  // the leader's own listing has seen host1
  c.Yield(0);
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  // It rejoins kRejoinAfterHandover after its step-down: its writes are not ordered in front
  // of the successor's sync and publish.
  EXPECT_EQ(CountNodesOf(c, "host0"), 0);
  c.Advance(kRejoinAfterHandover + milliseconds(50));
  EXPECT_EQ(CountNodesOf(c, "host0"), 1);
  EXPECT_EQ(c.max_claims(), 1);
}

// A lone leader's yield has nobody to hand over to: it rejoins (and leads again) at once.
TEST(LatchCoreTest, ALoneLeadersYieldRejoinsAtOnce) {
  SimCluster c(1);
  c.Start(0);
  c.Advance(seconds(1));
  c.Yield(0);
  EXPECT_EQ(CountNodesOf(c, "host0"), 1);
  c.Advance(milliseconds(100));
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
}

TEST(LatchCoreTest, StopWhileDisconnectedFinishesWithoutClaiming) {
  SimCluster c(1, seconds(10));
  c.Start(0);
  c.Partition(0);
  c.Advance(seconds(7));  // client noticed the loss
  c.Stop(0);
  EXPECT_FALSE(c.agent(0).running);
  EXPECT_NE(c.agent(0).core->RoleAt(c.now()), Role::kActive);
}

TEST(LatchCoreTest, IdleCoreHasTimersButNoBusyDeadline) {
  SimCluster c(1, seconds(10));
  c.Start(0);
  auto d = c.agent(0).core->NextDeadline();
  ASSERT_TRUE(d.has_value());
  EXPECT_GT(*d, c.now()) << "a deadline in the past would spin the loop";
}

// Random schedules of partitions, pauses, crashes, stops and restarts. The
// invariant is checked by SimCluster after every single step.
TEST(LatchCoreTest, RandomSchedulesNeverHaveTwoClaims) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    SimCluster c(3, seconds(4));
    for (int i = 0; i < 3; ++i) c.Start(i);
    for (int step = 0; step < 60; ++step) {
      int i = static_cast<int>(rng() % 3);
      switch (rng() % 8) {
        case 0: c.Partition(i); break;
        case 1: c.Heal(i); break;
        case 2: c.Pause(i); break;
        case 3: c.Resume(i); break;
        case 4: if (c.agent(i).running) c.Crash(i); else c.Start(i); break;
        case 5: if (c.agent(i).running) c.Stop(i); else c.Start(i); break;
        case 6: if (c.agent(i).running) c.Yield(i); break;
        default: break;
      }
      c.Advance(milliseconds(100 + rng() % 3000));
      ASSERT_LE(c.max_claims(), 1) << "seed " << seed << " step " << step;
    }
    // Heal everything: exactly one ACTIVE within the session timeout + 2 s.
    for (int i = 0; i < 3; ++i) {
      c.Heal(i);
      c.Resume(i);
      if (!c.agent(i).running) c.Start(i);
    }
    c.Advance(seconds(6));
    EXPECT_GE(c.ActiveIndex(), 0) << "seed " << seed;
    std::set<std::string> ids;
    for (const auto& child : c.zk().Children(kLatch)) {
      ids.insert(c.zk().Get(std::string(kLatch) + "/" + child)->data);
    }
    if (c.zk().Children(kLatch).size() != 3u) {
      for (const auto& child : c.zk().Children(kLatch)) {
        auto* n = c.zk().Get(std::string(kLatch) + "/" + child);
        std::fprintf(stderr, "  %s %s owner=%llx\n", child.c_str(), n->data.c_str(), (unsigned long long)n->stat.ephemeral_owner);
      }
      for (int i = 0; i < 3; ++i) {
        auto& a = c.agent(i);
        auto st = a.core->StatusAt(c.now());
        std::fprintf(stderr, "  agent %d running=%d connected=%d part=%d paused=%d session=%llx alive=%d own=%s role=%s\n", i, a.running, a.connected, a.partitioned, a.paused, (unsigned long long)a.session, c.zk().Alive(a.session), st.own_node.c_str(), std::string(RoleName(st.role)).c_str());
        int k = 0;
        for (auto it = a.actions.rbegin(); it != a.actions.rend() && k < 12; ++it, ++k) {
          if (auto* l = std::get_if<LogAction>(&*it)) std::fprintf(stderr, "     log %s\n", l->message.c_str());
          if (auto* s2 = std::get_if<SendAction>(&*it)) std::fprintf(stderr, "     send %d %s\n", (int)s2->request.kind, s2->request.path.c_str());
        }
      }
    }
    EXPECT_EQ(c.zk().Children(kLatch).size(), 3u) << "seed " << seed << ": orphans or missing nodes";
    EXPECT_EQ(ids.size(), 3u) << "seed " << seed;
  }
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

const AckResultAction* FindAck(const std::vector<Action>& actions) {
  for (const auto& a : actions) {
    if (auto* r = std::get_if<AckResultAction>(&a)) return r;
  }
  return nullptr;
}

TEST(ActivationTest, AckGatesActiveAndPublishing) {
  SimCluster c(2);
  c.configure = [](int, LatchConfig& cfg) { cfg.require_ack = true; };
  c.Start(0);
  c.Start(1);
  EXPECT_EQ(c.RoleOf(0), Role::kBecomingActive);
  EXPECT_FALSE(c.zk().Exists("/latchd/active_server_info")) << "published only after the ack";
  int64_t epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  c.Feed(0, AckEvent{epoch + 1});
  const AckResultAction* wrong = FindAck(c.agent(0).actions);
  ASSERT_NE(wrong, nullptr);
  EXPECT_FALSE(wrong->ok);
  EXPECT_EQ(c.RoleOf(0), Role::kBecomingActive);
  c.agent(0).actions.clear();
  c.Feed(0, AckEvent{epoch});
  const AckResultAction* right = FindAck(c.agent(0).actions);
  ASSERT_NE(right, nullptr);
  EXPECT_TRUE(right->ok);
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.zk().Get("/latchd/active_server_info")->data, "http://host0:21000");
  c.agent(1).actions.clear();
  c.Feed(1, AckEvent{epoch});
  ASSERT_NE(FindAck(c.agent(1).actions), nullptr);
  EXPECT_FALSE(FindAck(c.agent(1).actions)->ok) << "a PASSIVE agent refuses acks";
}

TEST(ActivationTest, MissingAckGivesLeadershipAwayAndRejoinsAtTheBack) {
  SimCluster c(2);
  c.configure = [](int, LatchConfig& cfg) {
    cfg.require_ack = true;
    cfg.activation_timeout = std::chrono::seconds(5);
  };
  c.Start(0);
  c.Start(1);
  c.Advance(std::chrono::seconds(6));
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  EXPECT_EQ(c.RoleOf(1), Role::kBecomingActive) << "the next in line now waits for its ack";
  bool failed = false;
  for (const auto& a : c.agent(0).actions) failed |= std::holds_alternative<ActivationFailedAction>(a);
  EXPECT_TRUE(failed);
  auto order = SortLatchNodes(c.zk().Children(kLatch));
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(c.zk().Get(std::string(kLatch) + "/" + order.back().name)->data, "host0");
  EXPECT_EQ(c.max_claims(), 1);
}

TEST(ActivationTest, FailedHookGivesLeadershipAway) {
  SimCluster c(2);
  c.configure = [](int, LatchConfig& cfg) { cfg.require_hook = true; };
  c.Start(0);
  c.Start(1);
  ASSERT_EQ(c.RoleOf(0), Role::kBecomingActive);
  int64_t epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  c.Feed(0, HookDoneEvent{Role::kBecomingActive, epoch, false, "exit status 3"});
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  ASSERT_EQ(c.RoleOf(1), Role::kBecomingActive);
  int64_t epoch1 = c.agent(1).core->StatusAt(c.now()).epoch;
  c.Feed(1, HookDoneEvent{Role::kBecomingActive, epoch1, true, ""});
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
}

TEST(ActivationTest, ParticipantsAreListedByIdInLatchOrder) {
  SimCluster c(3);
  for (int i = 0; i < 3; ++i) c.Start(i);
  c.Advance(std::chrono::seconds(2));
  std::vector<std::string> ids;
  for (const Participant& p : c.agent(2).core->Participants()) ids.push_back(p.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"host0", "host1", "host2"}));
  EXPECT_EQ(c.agent(2).core->StatusAt(c.now()).participants, 3);
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

TEST(LeaderViewTest, AgentsFurtherBackLearnTheNewLeader) {
  SimCluster c(3);
  for (int i = 0; i < 3; ++i) c.Start(i);
  c.Advance(std::chrono::seconds(1));
  c.Stop(0);
  c.Advance(std::chrono::seconds(2));  // two renewal intervals
  ASSERT_EQ(c.RoleOf(1), Role::kActive);
  int64_t epoch = c.agent(1).core->StatusAt(c.now()).epoch;
  auto s = c.agent(2).core->StatusAt(c.now());
  EXPECT_EQ(s.leader.id, "host1");
  EXPECT_EQ(s.leader.epoch, epoch);
  EXPECT_EQ(s.leader.address, "http://host1:21000");
  EXPECT_EQ(s.participants, 2);
  EXPECT_EQ(c.agent(1).core->StatusAt(c.now()).participants, 2);
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

TEST(ResumeTest, ARestartedAgentTakesBackItsNodeAndEpoch) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  auto before = c.agent(0).core->StatusAt(c.now());
  ASSERT_EQ(before.role, Role::kActive);
  int64_t session = c.agent(0).session;
  c.Crash(0);  // the process dies; its session lives on in ZooKeeper
  c.Advance(std::chrono::milliseconds(500));
  // A new process with the recorded session and node.
  c.configure = [&](int i, LatchConfig& cfg) {
    if (i != 0) return;
    cfg.resume_session = session;
    cfg.resume_node = before.own_node;
  };
  c.Start(0);
  EXPECT_EQ(c.agent(0).session, session) << "the session was resumed";
  for (const auto& a : c.agent(0).actions) {
    if (auto* send = std::get_if<SendAction>(&a)) {
      EXPECT_FALSE(send->request.kind == ZkRequestKind::kCreate &&
                   send->request.path.rfind(kLatch, 0) == 0)
          << "no new latch node: " << send->request.path;
    }
  }
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.agent(0).core->StatusAt(c.now()).epoch, before.epoch);
  EXPECT_EQ(c.zk().Children(kLatch).size(), 2u);
  EXPECT_EQ(c.max_claims(), 1);
}

TEST(ResumeTest, AnExpiredRecordedSessionJoinsAnew) {
  SimCluster c(1);
  LatchConfig cfg;
  cfg.id = "host0";
  cfg.new_uuid = [] { return std::string("22222222-2222-4222-8222-222222222222"); };
  cfg.resume_session = 0x9999;  // long gone
  cfg.resume_node = "_c_33333333-3333-4333-8333-333333333333-latch-0000000007";
  LatchCore core(cfg);
  const int64_t fresh = 0x5555;  // not the recorded one
  auto actions = core.Handle(SessionUpEvent{fresh, std::chrono::seconds(10)}, c.now());
  bool creates = false;
  for (auto& a : actions) {
    if (auto* send = std::get_if<SendAction>(&a)) creates |= send->request.kind == ZkRequestKind::kCreate;
  }
  EXPECT_TRUE(creates);
}

}  // namespace
}  // namespace latchd


namespace latchd {
namespace {

constexpr auto kTimeout = std::chrono::seconds(10);

// Sends every request of `actions` to `zk` in order and feeds the answers back
// until the core sends nothing more. Watches fired meanwhile are delivered
// after the answers when `watches`, else dropped (a notification still on its
// way). Returns every action seen.
// `before_answer`, if set, sees each request with its answer before the core.
using AnswerHook = std::function<void(const ZkRequest&, ZkResult&)>;
std::vector<Action> Drive(LatchCore& core, testing::FakeZk& zk, int64_t session,
                          std::vector<Action> actions, MonoTime now, bool watches = true,
                          const AnswerHook& before_answer = nullptr) {
  std::vector<Action> seen;
  for (int round = 0; round < 50 && !actions.empty(); ++round) {
    std::vector<Action> next;
    for (auto& a : actions) {
      seen.push_back(a);
      auto* send = std::get_if<SendAction>(&a);
      if (send == nullptr) continue;
      ZkResult r = zk.Apply(session, send->request, now);
      if (before_answer) before_answer(send->request, r);
      auto more = core.Handle(ResultEvent{r}, now);
      next.insert(next.end(), more.begin(), more.end());
    }
    for (const auto& fired : zk.TakeFired()) {
      if (!watches || fired.session != session) continue;
      auto more = core.Handle(WatchEvent{fired.event}, now);
      next.insert(next.end(), more.begin(), more.end());
    }
    actions = std::move(next);
  }
  return seen;
}

// The epochs of the claims announced in `actions`.
std::set<int64_t> ClaimsIn(const std::vector<Action>& actions) {
  std::set<int64_t> epochs;
  for (const auto& a : actions) {
    if (auto* rc = std::get_if<RoleChangeAction>(&a); rc && IsClaim(rc->to)) epochs.insert(rc->epoch);
  }
  return epochs;
}

LatchConfig Config(const std::string& id, const std::string& uuid) {
  LatchConfig cfg;
  cfg.id = id;
  cfg.advertise = "http://" + id + ":21000";
  cfg.new_uuid = [uuid] { return uuid; };
  return cfg;
}

std::vector<std::string> NodesOf(testing::FakeZk& zk, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& child : zk.Children(kLatch)) {
    if (zk.Get(std::string(kLatch) + "/" + child)->data == id) out.push_back(child);
  }
  return out;
}

// A core that joined alone with a new session and leads.
int64_t StartLeader(LatchCore& core, testing::FakeZk& zk, MonoTime now) {
  int64_t session = zk.NewSession(kTimeout, now);
  Drive(core, zk, session, core.Handle(SessionUpEvent{session, kTimeout}, now), now);
  return session;
}

// A restarted agent's first session: the resume is refused ("expired"), a
// new session opens.
void RestartRefused(LatchCore& core, testing::FakeZk& zk, MonoTime now) {
  Drive(core, zk, 0, core.Handle(SessionExpiredEvent{}, now), now);
  StartLeader(core, zk, now);
}

// A restarted agent whose recorded session ZooKeeper refuses to resume (the
// server it asked says "expired") while the session's node is still there:
// the node goes at once, not when ZooKeeper gets round to expiring it, so the
// agent holds one node and leads again.
TEST(ResumeTest, ARefusedResumeDeletesTheRecordedNodeOfThatSession) {
  testing::FakeZk zk;
  MonoTime now{std::chrono::seconds(1000)};
  LatchCore before(Config("host0", "55555555-5555-4555-8555-555555555555"));
  int64_t old_session = StartLeader(before, zk, now);
  ASSERT_EQ(before.RoleAt(now), Role::kActive);
  std::string recorded = before.StatusAt(now).own_node;
  // SIGKILL; the restart finds the record, the resume is refused.
  now += std::chrono::milliseconds(500);
  LatchConfig cfg = Config("host0", "66666666-6666-4666-8666-666666666666");
  cfg.resume_session = old_session;
  cfg.resume_node = recorded;
  LatchCore after(cfg);
  RestartRefused(after, zk, now);

  ASSERT_TRUE(zk.Alive(old_session));  // ZooKeeper has not expired it yet
  EXPECT_EQ(NodesOf(zk, "host0"), std::vector<std::string>{after.StatusAt(now).own_node});
  EXPECT_NE(after.StatusAt(now).own_node, recorded);
  EXPECT_EQ(after.RoleAt(now), Role::kActive);
}

// The recorded name is only a hint: a node of that name that belongs to
// another session is left alone.
TEST(ResumeTest, ARefusedResumeLeavesANodeOfAnotherSessionAlone) {
  testing::FakeZk zk;
  MonoTime now{std::chrono::seconds(1000)};
  LatchCore other(Config("host1", "77777777-7777-4777-8777-777777777777"));
  int64_t owner = StartLeader(other, zk, now);
  ASSERT_EQ(other.RoleAt(now), Role::kActive);
  LatchConfig cfg = Config("host0", "88888888-8888-4888-8888-888888888888");
  cfg.resume_session = owner + 100;  // a record that names host1's node with the wrong session
  cfg.resume_node = other.StatusAt(now).own_node;
  LatchCore after(cfg);
  RestartRefused(after, zk, now);
  EXPECT_EQ(NodesOf(zk, "host1").size(), 1u);
  EXPECT_EQ(NodesOf(zk, "host0").size(), 1u);
  EXPECT_EQ(after.RoleAt(now), Role::kPassive);
}

// Every active_server_info write is a multi conditioned on the own latch node:
// a leader whose node is already gone (the deletion not yet seen) cannot
// replace the address the next leader published.
TEST(PublishTest, ADeposedLeaderCannotOverwriteTheNextLeadersAddress) {
  testing::FakeZk zk;
  MonoTime now{std::chrono::seconds(1000)};
  LatchCore core(Config("host0", "99999999-9999-4999-8999-999999999999"));
  int64_t mine = StartLeader(core, zk, now);
  ASSERT_EQ(core.RoleAt(now), Role::kActive);
  std::string own = std::string(kLatch) + "/" + core.StatusAt(now).own_node;

  // Another client deletes host0's node; host1 joins, leads and publishes.
  // host0 has not seen any of it yet.
  ASSERT_EQ(zk.Delete(own), ZkCode::kOk);
  int64_t theirs = zk.NewSession(kTimeout, now);
  ZkRequest join;
  join.kind = ZkRequestKind::kCreate;
  join.path = std::string(kLatch) + "/_c_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa-latch-";
  join.data = "host1";
  join.mode = CreateMode::kEphemeralSequential;
  ASSERT_EQ(zk.Apply(theirs, join, now).code, ZkCode::kOk);
  ASSERT_EQ(zk.Delete(kAsi), ZkCode::kOk);
  ASSERT_EQ(zk.Create(kAsi, "http://host1:21000", theirs), ZkCode::kOk);
  zk.TakeFired();

  // The address changed under host0, which writes its own again.
  auto seen = Drive(core, zk, mine,
                    core.Handle(WatchEvent{ZkWatchEvent{WatchEventType::kDataChanged, kAsi}}, now),
                    now, /*watches=*/false);
  EXPECT_EQ(zk.Get(kAsi)->data, "http://host1:21000");
  EXPECT_FALSE(IsClaim(core.RoleAt(now)));
  bool published = false;
  for (const auto& a : seen) {
    auto* send = std::get_if<SendAction>(&a);
    if (send == nullptr || send->request.path != kAsi || !IsWrite(send->request.kind)) continue;
    published = true;
    EXPECT_FALSE(send->request.guard.empty()) << "an unconditioned active_server_info write";
  }
  EXPECT_TRUE(published);
}

// A stepping-down leader's delete of active_server_info is conditioned on its
// node too: an address of the same version but another leader stays.
TEST(PublishTest, EveryActiveServerInfoWriteIsConditionedOnTheOwnNode) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  c.Advance(seconds(1));
  c.Stop(0);
  c.Advance(seconds(1));
  ASSERT_EQ(c.ActiveIndex(), 1);
  for (int i = 0; i < 2; ++i) {
    for (const auto& a : c.agent(i).actions) {
      auto* send = std::get_if<SendAction>(&a);
      if (send == nullptr || send->request.path != kAsi || !IsWrite(send->request.kind)) continue;
      EXPECT_EQ(send->request.guard.rfind(std::string(kLatch) + "/", 0), 0u)
          << "agent " << i << " wrote " << kAsi << " unconditioned";
    }
  }
  EXPECT_EQ(c.zk().Get(kAsi)->data, "http://host1:21000");
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

int Writes(const std::vector<Action>& actions, size_t from) {
  int n = 0;
  for (size_t i = from; i < actions.size(); ++i) {
    auto* send = std::get_if<SendAction>(&actions[i]);
    if (send != nullptr && IsWrite(send->request.kind)) ++n;
  }
  return n;
}

// Agents 0 and 1 joined; true if 0 is ACTIVE. Between renewals.
bool StartPair(SimCluster& c) {
  c.Start(0);
  c.Start(1);
  c.Advance(milliseconds(50));
  return c.ActiveIndex() == 0;
}

// What agent `a` did from action `from` on, in order: "sync", "list", "check"
// (a check write), "guarded publish", and the roles it announced.
std::vector<std::string> Trace(const SimCluster::Agent& a, size_t from) {
  std::vector<std::string> steps;
  for (size_t i = from; i < a.actions.size(); ++i) {
    if (auto* send = std::get_if<SendAction>(&a.actions[i])) {
      const ZkRequest& r = send->request;
      if (r.kind == ZkRequestKind::kSync) steps.push_back("sync");
      if (r.kind == ZkRequestKind::kGetChildren) steps.push_back("list");
      if (r.kind == ZkRequestKind::kCheck) steps.push_back("check");
      if (r.kind == ZkRequestKind::kCreate && r.path == kAsi && !r.guard.empty()) {
        steps.push_back("guarded publish");
      }
    } else if (auto* role = std::get_if<RoleChangeAction>(&a.actions[i])) {
      steps.push_back(std::string(RoleName(role->to)));
    }
  }
  return steps;
}

// Whether `want` is a subsequence of `steps`; else which step is missing.
std::string MissingStep(const std::vector<std::string>& steps,
                        const std::vector<std::string>& want) {
  auto it = steps.begin();
  for (const std::string& w : want) {
    it = std::find(it, steps.end(), w);
    if (it == steps.end()) return w;
    ++it;
  }
  return "";
}

// The graceful handover's critical path: the stopping leader removes its node
// and its address in one write that also names the node in the latch node's
// data; the successor, whose synced listing and mark read show it, claims
// without a write of its own, and ACTIVE waits for one write sent after the
// claim (the guarded publish of active_server_info), so that an agent whose
// node another client deleted learns it before it could show ACTIVE.
TEST(HandoverTest, AGracefulHandoverIsOneWriteThenOne) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  c.Advance(milliseconds(50));  // between renewals
  ASSERT_EQ(c.ActiveIndex(), 0);
  std::string old_node = SortLatchNodes(c.zk().Children(kLatch))[0].name;
  size_t old_from = c.agent(0).actions.size();
  size_t new_from = c.agent(1).actions.size();
  c.Stop(0);
  EXPECT_EQ(c.ActiveIndex(), 1);
  EXPECT_EQ(Writes(c.agent(0).actions, old_from), 1);
  EXPECT_EQ(Writes(c.agent(1).actions, new_from), 1);
  EXPECT_EQ(c.zk().Get(kAsi)->data, "http://host1:21000");
  EXPECT_EQ(c.zk().Children(kLatch).size(), 1u);
  EXPECT_EQ(c.zk().Get(kLatch)->data, old_node) << "the handover mark";
  std::vector<std::string> steps = Trace(c.agent(1), new_from);
  EXPECT_EQ(MissingStep(steps, {"sync", "list", "BECOMING_ACTIVE", "guarded publish", "ACTIVE"}),
            "");
  EXPECT_EQ(std::count(steps.begin(), steps.end(), "check"), 0) << "a claim check was written";
}

// A leader's node deleted by another client is no handover (its owner may
// still claim until it hears of it): the successor claims only after a check
// write, which gives a lagging server of the deposed leader one commit more.
TEST(HandoverTest, ALeadersNodeDeletedByAnotherClientCostsACheckWrite) {
  SimCluster c(2);
  ASSERT_TRUE(StartPair(c));
  size_t new_from = c.agent(1).actions.size();
  auto order = SortLatchNodes(c.zk().Children(kLatch));
  ASSERT_EQ(c.zk().Delete(std::string(kLatch) + "/" + order[0].name), ZkCode::kOk);
  c.Pump();
  EXPECT_EQ(c.ActiveIndex(), 1);
  EXPECT_EQ(MissingStep(Trace(c.agent(1), new_from),
                        {"sync", "list", "check", "BECOMING_ACTIVE", "guarded publish", "ACTIVE"}),
            "");
}

// The mark must name the node that was first: one left by another agent's
// graceful stop (here the third's) says nothing about how the leader's node
// went, and the successor writes its check.
TEST(HandoverTest, AMarkOfAnotherNodeIsNoHandover) {
  SimCluster c(3);
  for (int i = 0; i < 3; ++i) c.Start(i);
  c.Advance(milliseconds(50));
  ASSERT_EQ(c.ActiveIndex(), 0);
  auto order = SortLatchNodes(c.zk().Children(kLatch));
  c.Stop(2);
  ASSERT_EQ(c.zk().Get(kLatch)->data, order[2].name);
  size_t new_from = c.agent(1).actions.size();
  ASSERT_EQ(c.zk().Delete(std::string(kLatch) + "/" + order[0].name), ZkCode::kOk);
  c.Pump();
  EXPECT_EQ(c.ActiveIndex(), 1);
  EXPECT_EQ(MissingStep(Trace(c.agent(1), new_from), {"list", "check", "BECOMING_ACTIVE"}), "");
}

// A yield while the connection is down cannot delete the node; after the
// reconnect (same session) the old node is deleted, so that it does not keep
// its place ahead of everyone while the agent waits behind it.
TEST(HandoverTest, AYieldWhileDisconnectedLeavesNoNodeBehind) {
  SimCluster c(2);
  ASSERT_TRUE(StartPair(c));
  c.Drop(0);
  c.Yield(0);
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  c.Advance(milliseconds(200));
  c.Heal(0);
  c.Advance(seconds(2));
  EXPECT_EQ(CountNodesOf(c, "host0"), 1);
  EXPECT_EQ(c.ActiveIndex(), 1);
}

// Without an advertise URL the same shape: the stopping leader deletes its
// node (nothing of active_server_info), and the successor's ACTIVE waits for a
// check of its node written after the claim, not for the next renewal.
TEST(HandoverTest, WithoutAnAddressACheckWriteFollowsTheClaim) {
  SimCluster c(2);
  c.configure = [](int, LatchConfig& cfg) { cfg.advertise.clear(); };
  ASSERT_TRUE(StartPair(c));
  size_t old_from = c.agent(0).actions.size();
  size_t new_from = c.agent(1).actions.size();
  c.Stop(0);
  EXPECT_EQ(c.ActiveIndex(), 1);
  EXPECT_EQ(Writes(c.agent(0).actions, old_from), 1);
  for (size_t i = old_from; i < c.agent(0).actions.size(); ++i) {
    if (auto* send = std::get_if<SendAction>(&c.agent(0).actions[i])) {
      EXPECT_NE(send->request.path, kAsi) << "touched active_server_info it never wrote";
    }
  }
  EXPECT_EQ(MissingStep(Trace(c.agent(1), new_from), {"sync", "BECOMING_ACTIVE", "check", "ACTIVE"}),
            "");
  EXPECT_EQ(Writes(c.agent(1).actions, new_from), 1);
  EXPECT_FALSE(c.zk().Exists(kAsi));
}

// With an activation gate the address waits for the gate: the publish comes
// after the ack.
TEST(HandoverTest, WithAGateTheAddressWaitsForIt) {
  SimCluster c(1);
  c.configure = [](int, LatchConfig& cfg) { cfg.require_ack = true; };
  c.Start(0);
  EXPECT_EQ(c.RoleOf(0), Role::kBecomingActive);
  EXPECT_FALSE(c.zk().Exists(kAsi));
  int64_t epoch = c.agent(0).core->StatusAt(c.now()).epoch;
  c.Feed(0, AckEvent{epoch});
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.zk().Get(kAsi)->data, "http://host0:21000");
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

// A stop while a publish of active_server_info is in flight: the create lands
// first, the step-down multi removes it with the node, and nothing sent after
// it may delete the successor's address.
TEST(PublishTest, AStopDuringAPublishLeavesTheSuccessorsAddressAlone) {
  testing::FakeZk zk;
  MonoTime now{std::chrono::seconds(1000)};
  LatchCore core(Config("host0", "99999999-9999-4999-8999-999999999999"));
  int64_t mine = StartLeader(core, zk, now);
  ASSERT_EQ(core.RoleAt(now), Role::kActive);
  ASSERT_EQ(zk.Delete(kAsi), ZkCode::kOk);  // someone removes the address: it is republished
  zk.TakeFired();
  auto pub = core.Handle(WatchEvent{ZkWatchEvent{WatchEventType::kDeleted, kAsi}}, now);
  auto stop = core.Handle(StopEvent{}, now);
  std::vector<ZkRequest> pubs = Sends(pub), stops = Sends(stop);
  ASSERT_EQ(pubs.size(), 1u);
  ASSERT_EQ(stops.size(), 1u);
  std::vector<ZkRequest> after = Sends(core.Handle(ResultEvent{zk.Apply(mine, pubs[0], now)}, now));
  (void)core.Handle(ResultEvent{zk.Apply(mine, stops[0], now)}, now);
  EXPECT_FALSE(zk.Exists(kAsi)) << "the step-down removes the address it published";
  int64_t theirs = zk.NewSession(kTimeout, now);  // the successor publishes
  ASSERT_EQ(zk.Create(kAsi, "http://host1:21000", theirs), ZkCode::kOk);
  for (const auto& r : after) {
    EXPECT_FALSE(r.path == kAsi && IsWrite(r.kind) && r.guard.empty()) << "unguarded write";
    zk.Apply(mine, r, now);
  }
  ASSERT_TRUE(zk.Exists(kAsi)) << "the successor's active_server_info was deleted";
  EXPECT_EQ(zk.Get(kAsi)->data, "http://host1:21000");
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

// A sync that fails leaves its listing unproven: no claim from it; the next
// listing (at the renewal) carries a new sync and the claim follows.
TEST(SyncTest, AFailedSyncDefersTheClaimToTheNextListing) {
  testing::FakeZk zk;
  MonoTime now{std::chrono::seconds(1000)};
  int64_t s = zk.NewSession(std::chrono::seconds(10), now);
  LatchCore core(Config("me", "55555555-5555-4555-8555-555555555555"));
  int syncs = 0;
  bool fail_syncs = true;
  AnswerHook hook = [&](const ZkRequest& req, ZkResult& r) {
    if (req.kind != ZkRequestKind::kSync) return;
    ++syncs;
    if (fail_syncs) r.code = ZkCode::kNoAuth;
  };
  std::set<int64_t> claimed = ClaimsIn(
      Drive(core, zk, s, core.Handle(SessionUpEvent{s, kTimeout}, now), now, false, hook));
  ASSERT_GT(syncs, 0) << "no sync before the listing";
  EXPECT_TRUE(claimed.empty()) << "claimed from a listing whose sync failed";
  EXPECT_EQ(core.RoleAt(now), Role::kPassive);
  fail_syncs = false;
  now += std::chrono::seconds(1);  // past the renewal interval (1 s)
  claimed = ClaimsIn(Drive(core, zk, s, core.Handle(TickEvent{}, now), now, false, hook));
  EXPECT_FALSE(claimed.empty());
  EXPECT_EQ(core.RoleAt(now), Role::kActive);
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

// The own node deleted by another client right after the listing that shows
// it first (the notification not yet here): no claim with that node (the
// check write, or the read that set the own node's watch, sees the delete);
// the agent rejoins with a new node.
TEST(ClaimCheckTest, NoClaimWithANodeDeletedAfterTheListing) {
  testing::FakeZk zk;
  MonoTime now{seconds(1000)};
  int64_t s = zk.NewSession(kTimeout, now);
  LatchCore core(Config("me", "66666666-6666-4666-8666-666666666666"));
  int64_t gone = 0;
  std::set<int64_t> claimed = ClaimsIn(Drive(
      core, zk, s, core.Handle(SessionUpEvent{s, kTimeout}, now), now, /*watches=*/false,
      [&](const ZkRequest& req, ZkResult& r) {
        if (gone != 0 || req.kind != ZkRequestKind::kGetChildren || r.children.size() != 1) return;
        std::string path = req.path + "/" + r.children[0];
        gone = zk.Get(path)->stat.czxid;
        ASSERT_EQ(zk.Delete(path), ZkCode::kOk);
      }));
  ASSERT_NE(gone, 0) << "no listing showed the own node";
  EXPECT_EQ(claimed.count(gone), 0u) << "claimed with the deleted node";
}

// On a handover, too, the listing goes behind a sync: a lagging server that
// already shows the predecessor handed over, but not yet the successor's own
// node deleted by another client, does not make the successor claim.
TEST(SyncTest, AHandoverSeenOnALaggingServerIsNotClaimedWithoutASync) {
  testing::FakeZk zk;
  MonoTime now{seconds(1000)};
  LatchCore first(Config("host0", "77777777-7777-4777-8777-777777777777"));
  int64_t s0 = StartLeader(first, zk, now);
  ASSERT_EQ(first.RoleAt(now), Role::kActive);
  LatchCore second(Config("host1", "88888888-8888-4888-8888-888888888888"));
  int64_t s1 = zk.NewSession(kTimeout, now);
  Drive(second, zk, s1, second.Handle(SessionUpEvent{s1, kTimeout}, now), now);
  ASSERT_EQ(second.RoleAt(now), Role::kPassive);
  std::string pred = std::string(kLatch) + "/" + first.StatusAt(now).own_node;
  std::string own = std::string(kLatch) + "/" + second.StatusAt(now).own_node;
  int64_t own_czxid = zk.Get(own)->stat.czxid;
  zk.TakeFired();
  for (const ZkRequest& r : Sends(first.Handle(StopEvent{}, now))) zk.Apply(s0, r, now);
  ASSERT_FALSE(zk.Exists(pred));
  ASSERT_EQ(zk.Get(kLatch)->data, BaseName(pred)) << "no handover mark";
  zk.LagReadsOf(s1);  // host1's server has the handover, not what follows
  ASSERT_EQ(zk.Delete(own), ZkCode::kOk);
  std::vector<Action> woken;
  for (const auto& fired : zk.TakeFired()) {
    if (fired.session == s1 && fired.event.path == pred) {
      woken = second.Handle(WatchEvent{fired.event}, now);
    }
  }
  ASSERT_FALSE(woken.empty()) << "host1 was not watching its predecessor";
  std::set<int64_t> claimed = ClaimsIn(Drive(second, zk, s1, woken, now, /*watches=*/false));
  EXPECT_EQ(claimed.count(own_czxid), 0u) << "claimed from a listing that still showed its deleted node";
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

// A stop when active_server_info is already gone (someone deleted it; the
// notification not yet here): the step-down multi fails on it, and the node
// still goes with the handover mark.
TEST(PublishTest, AStopWithTheAddressGoneStillLeavesTheHandoverMark) {
  testing::FakeZk zk;
  MonoTime now{seconds(1000)};
  LatchCore core(Config("host0", "99999999-9999-4999-8999-999999999999"));
  int64_t mine = StartLeader(core, zk, now);
  ASSERT_EQ(core.RoleAt(now), Role::kActive);
  std::string own = core.StatusAt(now).own_node;
  ASSERT_EQ(zk.Delete(kAsi), ZkCode::kOk);
  zk.TakeFired();
  std::vector<Action> seen =
      Drive(core, zk, mine, core.Handle(StopEvent{}, now), now, /*watches=*/false);
  EXPECT_FALSE(zk.Exists(std::string(kLatch) + "/" + own));
  EXPECT_EQ(zk.Get(kLatch)->data, own) << "no handover mark";
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(),
                          [](const Action& a) { return std::holds_alternative<FinishedAction>(a); }))
      << "the stop did not finish";
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

const char* kMembers = "/latchd/members";

CandidacyEvent Health(bool healthy, const char* reason) { return CandidacyEvent{healthy, reason, 1}; }

TEST(MemberRecordTest, TheRecordCarriesTheUuidBeforeTheLatchNodeExistsAndComesBackWhenDeleted) {
  SimCluster c(1);
  c.Start(0);
  ASSERT_EQ(c.RoleOf(0), Role::kActive);
  const auto* record = c.zk().Get(std::string(kMembers) + "/host0");
  ASSERT_NE(record, nullptr);
  auto m = ParseMemberJson(record->data);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto children = c.zk().Children(kLatch);
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(m->uuid, ParseLatchNode(children[0])->uuid);
  EXPECT_TRUE(m->healthy);
  EXPECT_EQ(m->lease_ms, 7500);
  EXPECT_EQ(m->address, "http://host0:21000");
  EXPECT_EQ(record->stat.ephemeral_owner, c.agent(0).session);
  const auto* node = c.zk().Get(std::string(kLatch) + "/" + children[0]);
  EXPECT_LT(record->stat.mzxid, node->stat.czxid) << "the uuid was written before the node was made";
  // Deleted by someone else: written again.
  ASSERT_EQ(c.zk().Delete(std::string(kMembers) + "/host0"), ZkCode::kOk);
  c.Advance(milliseconds(100));
  ASSERT_NE(c.zk().Get(std::string(kMembers) + "/host0"), nullptr);
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
}

// Deleted again and again (a recursive delete racing the agent): the record
// is written again with backoff, so the deleting client gets through.
TEST(MemberRecordTest, ARecordDeletedAgainAndAgainIsWrittenAgainWithBackoff) {
  SimCluster c(1);
  c.Start(0);
  const std::string path = std::string(kMembers) + "/host0";
  size_t from = c.agent(0).actions.size();
  for (int step = 0; step < 500; ++step) {  // 5 s, a delete every 10 ms
    if (c.zk().Exists(path)) c.zk().Delete(path);
    c.Pump();
    c.Advance(milliseconds(10));
  }
  int creates = 0;
  for (size_t k = from; k < c.agent(0).actions.size(); ++k) {
    auto* send = std::get_if<SendAction>(&c.agent(0).actions[k]);
    creates += send != nullptr && send->request.kind == ZkRequestKind::kCreate && send->request.path == path;
  }
  // At once, then 125-250 ms doubling to 2-4 s: under 10 in 5 s (without the backoff: ~500).
  EXPECT_LE(creates, 10);
  EXPECT_GE(creates, 3);
  c.Advance(seconds(5));
  EXPECT_NE(c.zk().Get(path), nullptr) << "the record is back once the deletes stop";
}

TEST(ServerBindingTest, AnUnhealthyAgentLeavesTheLatchAndRejoinsAtTheBackWhenHealthy) {
  SimCluster c(3);
  for (int i = 0; i < 3; ++i) c.Start(i);
  c.Advance(seconds(1));
  ASSERT_EQ(c.ActiveIndex(), 0);
  c.Feed(1, Health(false, "hold closed"));
  c.Advance(milliseconds(100));
  EXPECT_EQ(CountNodesOf(c, "host1"), 0) << "no candidate without a healthy server";
  auto m = ParseMemberJson(c.zk().Get(std::string(kMembers) + "/host1")->data);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->healthy);
  EXPECT_EQ(m->uuid, "");
  c.Feed(1, Health(true, "hold open"));
  c.Advance(milliseconds(100));
  auto order = SortLatchNodes(c.zk().Children(kLatch));
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(c.zk().Get(std::string(kLatch) + "/" + order[2].name)->data, "host1") << "at the back";
  EXPECT_EQ(c.ActiveIndex(), 0) << "leadership did not move";
}

TEST(ServerBindingTest, AnUnhealthyLeaderHandsOverToAHealthyCandidateInOneWrite) {
  SimCluster c(2);
  c.Start(0);
  c.Start(1);
  c.Advance(seconds(1));
  ASSERT_EQ(c.ActiveIndex(), 0);
  size_t before = c.agent(1).actions.size();
  c.Feed(0, Health(false, "server process gone"));
  c.Advance(milliseconds(50));
  EXPECT_EQ(c.ActiveIndex(), 1);
  EXPECT_EQ(c.max_claims(), 1) << "no overlap";
  EXPECT_EQ(CountNodesOf(c, "host0"), 0) << "the unhealthy agent stays out";
  // The successor took over on the handover mark: no write before its claim.
  int writes_before_claim = 0;
  for (size_t k = before; k < c.agent(1).actions.size(); ++k) {
    const auto& a = c.agent(1).actions[k];
    if (auto* r = std::get_if<RoleChangeAction>(&a); r && r->to == Role::kBecomingActive) break;
    if (auto* s = std::get_if<SendAction>(&a); s && IsWrite(s->request.kind)) ++writes_before_claim;
  }
  EXPECT_EQ(writes_before_claim, 0);
  bool counted = false;
  for (const auto& a : c.agent(0).actions) {
    if (auto* h = std::get_if<HandoverAction>(&a)) counted |= h->reason == std::string("server_unhealthy");
  }
  EXPECT_TRUE(counted);
}

TEST(ServerBindingTest, AnUnhealthyLeaderWithoutACandidateKeepsLeadershipUntilOneComes) {
  SimCluster c(2);
  c.configure = [](int i, LatchConfig& cfg) { cfg.start_healthy = i == 0; };
  c.Start(0);
  c.Start(1);  // its server is not up yet: it does not join
  c.Advance(seconds(1));
  ASSERT_EQ(c.ActiveIndex(), 0);
  EXPECT_EQ(CountNodesOf(c, "host1"), 0);
  c.Feed(0, Health(false, "probe failed 3 times"));
  c.Advance(seconds(2));
  EXPECT_EQ(c.ActiveIndex(), 0) << "nobody to hand over to: it keeps leadership";
  EXPECT_TRUE(c.agent(0).core->StatusAt(c.now()).waiting_for_candidate);
  c.Feed(1, Health(true, "hold open"));
  c.Advance(seconds(2));  // within a renewal interval the leader sees the candidate
  EXPECT_EQ(c.ActiveIndex(), 1);
  EXPECT_EQ(c.max_claims(), 1);
  EXPECT_FALSE(c.agent(1).core->StatusAt(c.now()).waiting_for_candidate);
}

TEST(ServerBindingTest, ACandidateWhoseRecordSaysUnhealthyIsNotHandedTo) {
  SimCluster c(1);
  c.Start(0);
  ASSERT_EQ(c.ActiveIndex(), 0);
  // A node behind the leader whose member record says its server is down.
  std::string uuid = "99999999-0000-4000-8000-000000000001";
  ASSERT_EQ(c.zk().Create(std::string(kLatch) + "/" + LatchNodePrefix(uuid) + "0000000050", "other", 0x4242),
            ZkCode::kOk);
  MemberInfo other;
  other.id = "other";
  other.uuid = uuid;
  other.healthy = false;
  ASSERT_EQ(c.zk().Create(std::string(kMembers) + "/other", MemberJson(other), 0x4242), ZkCode::kOk);
  c.Feed(0, Health(false, "hold closed"));
  c.Advance(seconds(3));
  EXPECT_EQ(c.ActiveIndex(), 0);
  EXPECT_TRUE(c.agent(0).core->StatusAt(c.now()).waiting_for_candidate);
  // Its record now says healthy: the leader hands over.
  other.healthy = true;
  ASSERT_EQ(c.zk().SetData(std::string(kMembers) + "/other", MemberJson(other)), ZkCode::kOk);
  c.Advance(seconds(2));
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  EXPECT_EQ(CountNodesOf(c, "host0"), 0);
}

TEST(ServerBindingTest, ACuratorParticipantWithoutARecordCountsAsHealthy) {
  SimCluster c(1);
  c.Start(0);
  ASSERT_EQ(c.ActiveIndex(), 0);
  std::string uuid = "99999999-0000-4000-8000-000000000002";
  ASSERT_EQ(c.zk().Create(std::string(kLatch) + "/" + LatchNodePrefix(uuid) + "0000000050", "curator1", 0x4243),
            ZkCode::kOk);
  c.Feed(0, Health(false, "hold closed"));
  c.Advance(seconds(2));
  EXPECT_EQ(c.RoleOf(0), Role::kPassive) << "handed over to the Curator participant";
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

// ZooKeeper raised a 1 s request to its minimum, 2 x tickTime = 4 s: tickTime
// is 2 s and the default margin 0.25 would not cover a follower's touch
// report; the core raises it to 0.37 (lease 2.52 s) and says so once.
TEST(LeaseMarginTest, AClampedTimeoutRaisesTheMargin) {
  testing::FakeZk zk;
  MonoTime now{std::chrono::seconds(1000)};
  LatchConfig cfg = Config("host0", "12121212-1212-4121-8121-121212121212");
  cfg.requested_session_timeout = std::chrono::seconds(1);
  LatchCore core(cfg);
  int64_t s = zk.NewSession(std::chrono::seconds(4), now);
  std::vector<Action> out = core.Handle(SessionUpEvent{s, std::chrono::seconds(4)}, now);
  int warnings = 0;
  for (const Action& a : out) {
    if (auto* l = std::get_if<LogAction>(&a)) warnings += l->message.find("lease margin is 0.37") != std::string::npos;
  }
  EXPECT_EQ(warnings, 1);
  for (int round = 0; round < 20; ++round) {
    std::vector<Action> next;
    for (const Action& a : out) {
      if (auto* send = std::get_if<SendAction>(&a)) {
        auto more = core.Handle(ResultEvent{zk.Apply(s, send->request, now)}, now);
        next.insert(next.end(), more.begin(), more.end());
      }
    }
    out.swap(next);
  }
  ASSERT_TRUE(core.StatusAt(now).lease_remaining.has_value());
  EXPECT_EQ(*core.StatusAt(now).lease_remaining, std::chrono::milliseconds(2520));
}

}  // namespace
}  // namespace latchd
