// Behaviour of the election core against an in-memory ZooKeeper on simulated
// time: no sleeps, no threads. Every test also relies on SimCluster checking
// after each step that at most one agent claims.
#include "lib/core/latch_core.h"

#include <gtest/gtest.h>

#include <random>

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
  // Agent i watches exactly node i-1 (data watches only; no herd).
  for (int i = 1; i < 3; ++i) {
    std::vector<std::string> watched;
    for (const auto& a : c.agent(i).actions) {
      if (auto* s = std::get_if<SendAction>(&a); s && s->request.watch &&
                                                s->request.path.rfind(kLatch, 0) == 0) {
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
  LatchCore& core() { return core_; }
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
  auto sends = Sends(m.Feed(SessionUpEvent{s1, seconds(10)}));
  ASSERT_EQ(sends.size(), 1u);
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
  // The server has not removed the node (we pretend the old session lingers).
  int64_t s2 = zk.NewSession(seconds(10), m.now_);
  ManualCore* mm = &m;
  auto acts = mm->Feed(SessionUpEvent{s2, seconds(10)});
  for (auto& a : acts) {
    if (auto* send = std::get_if<SendAction>(&a)) {
      mm->Drain(mm->Feed(ResultEvent{zk.Apply(s2, send->request, mm->now_)}));
    }
  }
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
  std::vector<Action> pending = m.Feed(ResultEvent{zk.Apply(s, sends[0], m.now_)});
  bool forged = false;
  for (int round = 0; round < 20 && !pending.empty(); ++round) {
    std::vector<Action> next;
    for (auto& a : pending) {
      auto* send = std::get_if<SendAction>(&a);
      if (!send) continue;
      ZkResult r = zk.Apply(s, send->request, m.now_);
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
  c.Yield(0);
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
  EXPECT_EQ(c.RoleOf(0), Role::kPassive);
  EXPECT_EQ(CountNodesOf(c, "host0"), 1);
  EXPECT_EQ(c.max_claims(), 1);
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
  // A new process with the recorded session and node.
  LatchConfig cfg = c.agent(0).core->config();
  cfg.resume_session = session;
  cfg.resume_node = before.own_node;
  LatchCore core(cfg);
  MonoTime now = c.now() + std::chrono::milliseconds(500);
  std::vector<Action> pending = core.Handle(SessionUpEvent{session, c.timeout()}, now);
  for (int round = 0; round < 20 && !pending.empty(); ++round) {
    std::vector<Action> next;
    for (auto& a : pending) {
      if (auto* send = std::get_if<SendAction>(&a)) {
        EXPECT_FALSE(send->request.kind == ZkRequestKind::kCreate &&
                     send->request.path.rfind(kLatch, 0) == 0)
            << "no new latch node: " << send->request.path;
        auto more = core.Handle(ResultEvent{c.zk().Apply(session, send->request, now)}, now);
        next.insert(next.end(), more.begin(), more.end());
      }
    }
    pending = std::move(next);
  }
  EXPECT_EQ(core.RoleAt(now), Role::kActive);
  EXPECT_EQ(core.StatusAt(now).epoch, before.epoch);
  EXPECT_EQ(c.zk().Children(kLatch).size(), 2u);
}

TEST(ResumeTest, AnExpiredRecordedSessionJoinsAnew) {
  SimCluster c(1);
  LatchConfig cfg;
  cfg.id = "host0";
  cfg.new_uuid = [] { return std::string("22222222-2222-4222-8222-222222222222"); };
  cfg.resume_session = 0x9999;  // long gone
  cfg.resume_node = "_c_33333333-3333-4333-8333-333333333333-latch-0000000007";
  LatchCore core(cfg);
  int64_t fresh = c.zk().NewSession(std::chrono::seconds(10), c.now());
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

// A lagging server can still show a deleted own node as first: the claim
// waits for a check write, which sees the delete.
TEST(ClaimCheckTest, NoClaimWhenTheNodeIsGoneByTheCheckWrite) {
  testing::FakeZk zk;
  MonoTime now{std::chrono::seconds(1000)};
  int64_t s = zk.NewSession(std::chrono::seconds(10), now);
  LatchConfig cfg;
  cfg.id = "me";
  cfg.new_uuid = [] { return std::string("44444444-4444-4444-8444-444444444444"); };
  LatchCore core(cfg);
  std::vector<Action> pending = core.Handle(SessionUpEvent{s, std::chrono::seconds(10)}, now);
  bool verified = false, deleted = false, claimed = false;
  for (int round = 0; round < 30 && !pending.empty(); ++round) {
    std::vector<Action> next;
    for (auto& a : pending) {
      if (auto* rc = std::get_if<RoleChangeAction>(&a)) claimed |= IsClaim(rc->to);
      auto* send = std::get_if<SendAction>(&a);
      if (!send) continue;
      const ZkRequest& req = send->request;
      if (!deleted && verified && req.kind == ZkRequestKind::kCheck) {
        zk.Delete(req.path);  // another client deleted it; the reads did not show it yet
        deleted = true;
      }
      if (req.kind == ZkRequestKind::kGetData && req.watch && req.path.find("-latch-") != std::string::npos) {
        verified = true;
      }
      auto more = core.Handle(ResultEvent{zk.Apply(s, req, now)}, now);
      next.insert(next.end(), more.begin(), more.end());
      if (deleted) break;
    }
    if (deleted) {
      for (auto& a : next) {
        if (auto* rc = std::get_if<RoleChangeAction>(&a)) claimed |= IsClaim(rc->to);
      }
      break;
    }
    pending = std::move(next);
  }
  ASSERT_TRUE(deleted) << "no claim check was sent after the owner check";
  EXPECT_FALSE(claimed);
  EXPECT_EQ(core.RoleAt(now), Role::kPassive);
}

}  // namespace
}  // namespace latchd
