// Unit tests of the election core's parts, each driven on its own through a
// CoreIo (no ZooKeeper, no other part): the lease rule, the role diagram,
// the joiner, the latch view, the takeover, the activation gates, the
// publisher and the step-down. Whole cores are tested in latch_core_test.cc.
#include <gtest/gtest.h>

#include "lib/core/activation.h"
#include "lib/core/joiner.h"
#include "lib/core/latch_node.h"
#include "lib/core/latch_view.h"
#include "lib/core/lease.h"
#include "lib/core/publisher.h"
#include "lib/core/role_machine.h"
#include "lib/core/step_down.h"
#include "lib/core/takeover.h"
#include "tests/unit/core_part_test_util.h"

namespace latchd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Answer;
using testing::Logs;
using testing::Sent;
using testing::StartIo;
using testing::T0;

const std::string kLatch = "/latchd/leader_elector_path";
const std::string kAsi = "/latchd/active_server_info";
const std::string kUuid = "00000000-0000-4000-8000-000000000001";

// ---- Lease -----------------------------------------------------------------

TEST(LeaseTest, EndsAtTheSendTimeOfTheLatestAnsweredWritePlusTheLeaseLength) {
  Lease lease(0.25, 0.1);
  lease.SetTimeout(seconds(10));
  EXPECT_FALSE(lease.ValidAt(T0())) << "no lease before an answered write";
  EXPECT_EQ(lease.length(), milliseconds(7500));
  EXPECT_EQ(lease.renew_interval(), seconds(1));
  lease.OnWriteAnswered(T0());
  EXPECT_TRUE(lease.ValidAt(T0() + milliseconds(7499)));
  EXPECT_FALSE(lease.ValidAt(T0() + milliseconds(7500)));
  // An older write answered late never moves the end back.
  lease.OnWriteAnswered(T0() - seconds(3));
  EXPECT_EQ(*lease.end(), T0() + milliseconds(7500));
  lease.OnWriteAnswered(T0() + seconds(1));
  EXPECT_EQ(*lease.end(), T0() + milliseconds(8500));
  EXPECT_EQ(*lease.RemainingAt(T0() + seconds(8)), milliseconds(500));
  EXPECT_EQ(*lease.RemainingAt(T0() + seconds(9)), Duration::zero());
  lease.Reset();
  EXPECT_FALSE(lease.RemainingAt(T0()).has_value());
}

TEST(LeaseTest, ASmallerNegotiatedTimeoutShrinksTheLease) {
  Lease lease(0.25, 0.1);
  lease.SetTimeout(seconds(10));
  lease.OnWriteAnswered(T0());
  ASSERT_EQ(*lease.end(), T0() + milliseconds(7500));
  lease.SetTimeout(seconds(4));  // a reconnect negotiated less (another server's max)
  EXPECT_EQ(*lease.end(), T0() + milliseconds(3000));
  EXPECT_FALSE(lease.ValidAt(T0() + milliseconds(3000)));
}

TEST(LeaseTest, TheMarginIsRaisedForAClampedTimeoutNeverLowered) {
  Lease lease(0.25, 0.1);
  lease.SetTimeout(seconds(4));
  lease.OnWriteAnswered(T0());
  // tickTime 2 s (T = 2 x tick): 0.1 + 2/(2*4) + 0.02 = 0.37.
  EXPECT_NEAR(lease.RequiredMargin(seconds(2)), 0.37, 1e-9);
  lease.RaiseMargin(lease.RequiredMargin(seconds(2)));
  EXPECT_EQ(*lease.end(), T0() + milliseconds(2520));
  lease.RaiseMargin(0.2);
  EXPECT_NEAR(lease.margin(), 0.37, 1e-9);
}

// ---- RoleMachine -------------------------------------------------------------

TEST(RoleMachineTest, TheDiagramHasExactlyItsSixEdges) {
  int edges = 0;
  for (Role from : kAllRoles) {
    for (Role to : kAllRoles) edges += IsRoleEdge(from, to);
  }
  EXPECT_EQ(edges, 6);
  EXPECT_TRUE(IsRoleEdge(Role::kBecomingPassive, Role::kBecomingActive));
  EXPECT_FALSE(IsRoleEdge(Role::kPassive, Role::kActive)) << "no role is skipped";
  EXPECT_FALSE(IsRoleEdge(Role::kActive, Role::kPassive)) << "no role is skipped";
  EXPECT_FALSE(IsRoleEdge(Role::kActive, Role::kBecomingActive));
}

TEST(RoleMachineTest, StepsRecordWhenTheRoleWasEntered) {
  RoleMachine m;
  m.StartAt(T0());
  EXPECT_EQ(m.since(), T0());
  EXPECT_FALSE(m.Step(Role::kPassive, T0() + seconds(1))) << "staying is no step";
  EXPECT_TRUE(m.Step(Role::kBecomingActive, T0() + seconds(2)));
  EXPECT_TRUE(m.claiming());
  EXPECT_EQ(m.since(), T0() + seconds(2));
}

TEST(RoleMachineDeathTest, AnEdgeOutsideTheDiagramAborts) {
  RoleMachine m;
  EXPECT_DEATH(m.Step(Role::kActive, T0()), "not an edge of the role diagram");
}

// ---- Joiner ------------------------------------------------------------------

Joiner MakeJoiner() {
  return Joiner(kLatch, "host1", [] { return kUuid; });
}

TEST(JoinerTest, CreatesAProtectedSequentialNodeWithTheIdAsData) {
  CoreIo io;
  StartIo(io);
  Joiner j = MakeJoiner();
  j.Prepare();
  j.Create(io);
  auto sent = Sent(io.TakeActions());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, ZkRequestKind::kCreate);
  EXPECT_EQ(sent[0].path, kLatch + "/" + LatchNodePrefix(kUuid));
  EXPECT_EQ(sent[0].mode, CreateMode::kEphemeralSequential);
  EXPECT_EQ(sent[0].data, "host1");
  EXPECT_EQ(j.phase(), JoinPhase::kCreating);

  ZkResult ok = Answer(sent[0], ZkCode::kOk);
  ok.created_path = sent[0].path + "0000000007";
  ok.stat.ephemeral_owner = 0x100;
  ok.stat.czxid = 42;
  auto p = io.Take(sent[0].id);
  ASSERT_TRUE(p);
  EXPECT_EQ(j.OnResult(io, ok, *p, true).step, JoinStep::kCreated);
  EXPECT_TRUE(j.joined());
  EXPECT_TRUE(j.owner_known());
  EXPECT_EQ(j.own_czxid(), 42);
  EXPECT_EQ(j.own_node(), LatchNodePrefix(kUuid) + "0000000007");
}

TEST(JoinerTest, MissingParentsAreCreatedOneByOneThenTheCreateIsRetried) {
  CoreIo io;
  StartIo(io);
  Joiner j = MakeJoiner();
  j.Prepare();
  j.Create(io);
  auto create = Sent(io.TakeActions())[0];
  auto step = j.OnResult(io, Answer(create, ZkCode::kNoNode), *io.Take(create.id), true);
  EXPECT_EQ(step.step, JoinStep::kNone);
  std::vector<std::string> made;
  while (true) {
    auto sent = Sent(io.TakeActions());
    ASSERT_EQ(sent.size(), 1u);
    made.push_back(sent[0].path);
    step = j.OnResult(io, Answer(sent[0], made.size() == 1 ? ZkCode::kNodeExists : ZkCode::kOk),
                      *io.Take(sent[0].id), true);
    if (step.step != JoinStep::kNone) break;
  }
  EXPECT_EQ(step.step, JoinStep::kRestart);
  EXPECT_EQ(made, (std::vector<std::string>{"/latchd", kLatch}));
}

TEST(JoinerTest, ALostCreateIsFoundByItsUuidAndAdoptedOnlyIfThisSessionOwnsIt) {
  for (int64_t owner : {int64_t{0x100}, int64_t{0x999}}) {
    CoreIo io;
    StartIo(io);
    Joiner j = MakeJoiner();
    j.Prepare();
  j.Create(io);
    auto create = Sent(io.TakeActions())[0];
    EXPECT_EQ(j.OnResult(io, Answer(create, ZkCode::kConnectionLoss), *io.Take(create.id), true).step,
              JoinStep::kReconnect);
    EXPECT_FALSE(j.Resync(io)) << "a lost create is looked for, not repeated";
    auto list = Sent(io.TakeActions());
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].kind, ZkRequestKind::kGetChildren);
    ZkResult children = Answer(list[0], ZkCode::kOk);
    std::string mine = LatchNodePrefix(kUuid) + "0000000003";
    children.children = {"_c_11111111-0000-4000-8000-000000000009-latch-0000000001", mine};
    j.OnResult(io, children, *io.Take(list[0].id), true);
    auto read = Sent(io.TakeActions());
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].path, kLatch + "/" + mine);
    ZkResult data = Answer(read[0], ZkCode::kOk);
    data.stat.ephemeral_owner = owner;
    auto step = j.OnResult(io, data, *io.Take(read[0].id), true);
    if (owner == 0x100) {
      EXPECT_EQ(step.step, JoinStep::kAdopted);
      EXPECT_EQ(j.own_node(), mine);
    } else {
      EXPECT_EQ(step.step, JoinStep::kRestart) << "another session's node is never adopted";
      auto del = Sent(io.TakeActions());
      ASSERT_EQ(del.size(), 1u);
      EXPECT_EQ(del[0].kind, ZkRequestKind::kDelete);
      EXPECT_EQ(del[0].path, kLatch + "/" + mine);
    }
  }
}

TEST(JoinerTest, RejoinsBackOffAfterTheSecondWithJitter) {
  CoreIo io;
  StartIo(io);
  Joiner j = MakeJoiner();
  EXPECT_TRUE(j.ScheduleRejoin(io));
  EXPECT_TRUE(j.ScheduleRejoin(io));
  const std::vector<long long> full{50, 100, 200, 400, 800, 1600, 1600};
  std::set<long long> distinct;
  for (long long d : full) {
    EXPECT_FALSE(j.ScheduleRejoin(io));
    long long us = std::chrono::duration_cast<std::chrono::microseconds>(*j.join_at() - T0()).count();
    EXPECT_GE(us, d * 500) << "full delay " << d << " ms";
    EXPECT_LE(us, d * 1000) << "full delay " << d << " ms";
    distinct.insert(us * 1000 / (d * 1000));
  }
  EXPECT_GT(distinct.size(), 1u) << "the delays are not all at the same point of their range";
}

TEST(JoinerTest, FailuresStartOverOnlyWhenTheNodeStood) {
  CoreIo io;
  StartIo(io);
  Joiner j = MakeJoiner();
  for (int i = 0; i < 3; ++i) j.ScheduleRejoin(io);
  j.ClearFailures(io.now());  // reached the lead, deleted again 10 ms later
  io.Begin(io.now() + std::chrono::milliseconds(10));
  EXPECT_FALSE(j.ScheduleRejoin(io)) << "an instant at the lead forgave the failures";
  j.ClearFailures(io.now());
  io.Begin(io.now() + Joiner::kStableFor);
  EXPECT_TRUE(j.ScheduleRejoin(io)) << "a node that stood kStableFor still backs off";
}

TEST(JoinerTest, AnAbandonedCreateThatLandsIsDeletedAndOrphansOfAGoneSessionToo) {
  CoreIo io;
  StartIo(io);
  Joiner j = MakeJoiner();
  j.Prepare();
  j.Create(io);
  auto create = Sent(io.TakeActions())[0];
  ZkResult landed = Answer(create, ZkCode::kOk);
  landed.created_path = create.path + "0000000001";
  j.OnResult(io, landed, *io.Take(create.id), /*current=*/false);
  auto del = Sent(io.TakeActions());
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].kind, ZkRequestKind::kDelete);
  EXPECT_EQ(del[0].path, landed.created_path);

  // A create lost with its session: its uuid is looked for in the next one.
  j.Prepare();
  j.Create(io);
  create = Sent(io.TakeActions())[0];
  j.OnResult(io, Answer(create, ZkCode::kConnectionLoss), *io.Take(create.id), true);
  j.OnSessionGone();
  io.SetSession(0x200, true);
  j.DeleteOrphans(io);
  auto list = Sent(io.TakeActions());
  ASSERT_EQ(list.size(), 1u);
  ZkResult children = Answer(list[0], ZkCode::kOk);
  children.children = {LatchNodePrefix(kUuid) + "0000000002", "foreign"};
  j.OnResult(io, children, *io.Take(list[0].id), true);
  del = Sent(io.TakeActions());
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].path, kLatch + "/" + LatchNodePrefix(kUuid) + "0000000002");
}

// ---- LatchView ---------------------------------------------------------------

std::string Node(int seq, int uuid = 0) {
  char u[40];
  std::snprintf(u, sizeof u, "00000000-0000-4000-8000-%012d", uuid ? uuid : seq);
  char s[16];
  std::snprintf(s, sizeof s, "%010d", seq);
  return LatchNodePrefix(u) + s;
}

// Answers every request in `sent` OK; listings with `children`, the mark read with `mark`.
void AnswerAll(CoreIo& io, LatchView& v, const std::vector<ZkRequest>& sent,
               const std::vector<std::string>& children, const std::string& own,
               ListOutcome* out, const std::string& mark = "") {
  for (const auto& req : sent) {
    ZkResult r = Answer(req, ZkCode::kOk);
    auto p = io.Take(req.id);
    ASSERT_TRUE(p);
    if (p->purpose == Purpose::kList) {
      r.children = children;
      *out = v.OnList(io, r, *p, own);
    } else {
      if (p->purpose == Purpose::kHandoverMark) r.data = mark;
      v.OnReadResult(r, *p, false);
    }
  }
}

TEST(LatchViewTest, AListingThatMayMakeTheAgentLeaderGoesBehindASync) {
  CoreIo io;
  StartIo(io);
  LatchView v(kLatch, kAsi);
  v.SendList(io, /*leading=*/false);
  auto sent = Sent(io.TakeActions());
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].kind, ZkRequestKind::kSync);
  EXPECT_EQ(sent[1].kind, ZkRequestKind::kGetChildren);
  v.SendList(io, false);
  EXPECT_TRUE(Sent(io.TakeActions()).empty()) << "one listing at a time";
  ListOutcome out;
  AnswerAll(io, v, sent, {Node(2), "foreign", Node(1)}, Node(1), &out);
  EXPECT_EQ(out.kind, ListOutcome::kFirst);
  EXPECT_TRUE(out.synced);
  EXPECT_FALSE(out.handed_over);
  EXPECT_EQ(v.participants(), 2) << "foreign children are ignored";

  // A leader's own listings need no sync, and are no basis for a claim.
  io.TakeActions();
  v.SendList(io, /*leading=*/true);
  sent = Sent(io.TakeActions());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, ZkRequestKind::kGetChildren);
  AnswerAll(io, v, sent, {Node(1), Node(2)}, Node(1), &out);
  EXPECT_FALSE(out.synced);
  EXPECT_FALSE(out.sent_synced);
}

TEST(LatchViewTest, OnlyThePredecessorIsWatchedAndAHandoverNeedsTheMarkToNameIt) {
  for (const std::string& mark : {Node(1), Node(9), std::string()}) {
    CoreIo io;
    StartIo(io);
    LatchView v(kLatch, kAsi);
    v.SendList(io, false);
    ListOutcome out;
    AnswerAll(io, v, Sent(io.TakeActions()), {Node(1), Node(2), Node(3)}, Node(2), &out);
    EXPECT_EQ(out.kind, ListOutcome::kNotFirst);
    io.TakeActions();
    v.WatchPredecessor(io);
    auto watch = Sent(io.TakeActions());
    ASSERT_EQ(watch.size(), 1u);
    EXPECT_EQ(watch[0].path, kLatch + "/" + Node(1));
    EXPECT_TRUE(watch[0].watch);
    EXPECT_EQ(watch[0].kind, ZkRequestKind::kGetData) << "a data watch, never exists";

    // The predecessor's watch fires: list again, with the mark read.
    EXPECT_TRUE(v.OnPredecessorWatch(io, ZkWatchEvent{WatchEventType::kDeleted, kLatch + "/" + Node(1)},
                                     false));
    auto sent = Sent(io.TakeActions());
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(sent[0].kind, ZkRequestKind::kSync);
    EXPECT_EQ(sent[1].path, kLatch) << "the mark is the latch node's data";
    AnswerAll(io, v, sent, {Node(2), Node(3)}, Node(2), &out, mark);
    EXPECT_EQ(out.kind, ListOutcome::kFirst);
    EXPECT_EQ(out.handed_over, mark == Node(1)) << "mark \"" << mark << "\"";
  }
}

TEST(LatchViewTest, TheLeaderIsReadWhenTheFirstNodeChanges) {
  CoreIo io;
  StartIo(io);
  LatchView v(kLatch, kAsi);
  v.SendList(io, false);
  ListOutcome out;
  std::vector<ZkRequest> reads;
  for (const auto& req : Sent(io.TakeActions())) {
    ZkResult r = Answer(req, ZkCode::kOk);
    auto p = io.Take(req.id);
    if (p->purpose == Purpose::kList) {
      r.children = {Node(1), Node(2)};
      out = v.OnList(io, r, *p, Node(2));
      reads = Sent(io.TakeActions());
    } else {
      v.OnReadResult(r, *p, false);
    }
  }
  for (const auto& req : reads) {
    ZkResult r = Answer(req, ZkCode::kOk);
    auto p = io.Take(req.id);
    if (p->purpose == Purpose::kLeaderGet) {
      r.data = "host1";
      r.stat.czxid = 77;
    } else if (p->purpose == Purpose::kAddressGet) {
      r.data = "http://host1:21000";
    } else {
      r.data = req.path == kLatch + "/" + Node(1) ? "host1" : "host2";
    }
    v.OnReadResult(r, *p, false);
  }
  EXPECT_EQ(v.leader().id, "host1");
  EXPECT_EQ(v.leader().epoch, 77);
  EXPECT_EQ(v.leader().address, "http://host1:21000");
  auto parts = v.Participants();
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].id, "host1");
  EXPECT_EQ(parts[1].id, "host2");
}

// ---- Takeover ----------------------------------------------------------------

// A joiner joined with an own node created in session 0x100.
Joiner JoinedJoiner(CoreIo& io, int64_t owner = 0x100) {
  Joiner j = MakeJoiner();
  j.Prepare();
  j.Create(io);
  auto create = Sent(io.TakeActions())[0];
  ZkResult ok = Answer(create, ZkCode::kOk);
  ok.created_path = create.path + "0000000001";
  ok.stat.ephemeral_owner = owner;
  ok.stat.czxid = 55;
  j.OnResult(io, ok, *io.Take(create.id), true);
  io.TakeActions();
  return j;
}

TEST(TakeoverTest, AHandoverClaimsAtOnceAnythingElseAfterACheckWrite) {
  for (bool handed_over : {true, false}) {
    CoreIo io;
    StartIo(io);
    Joiner j = JoinedJoiner(io);
    LatchView v(kLatch, kAsi);
    Takeover t(kAsi, "/latchd");
    ListOutcome first;
    first.kind = ListOutcome::kFirst;
    first.synced = first.sent_synced = true;
    first.handed_over = handed_over;
    first.handed_over_from = Node(0);
    TakeoverStep s = t.OnFirst(io, first, j, v);
    if (handed_over) {
      EXPECT_EQ(s.kind, TakeoverStep::kClaim);
      EXPECT_EQ(s.epoch, 55);
      continue;
    }
    EXPECT_EQ(s.kind, TakeoverStep::kNone);
    // The lock-delay asks first: no active_server_info of another session.
    auto asked = Sent(io.TakeActions());
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].path, kAsi);
    s = t.OnResult(io, Answer(asked[0], ZkCode::kNoNode), *io.Take(asked[0].id), j, false);
    EXPECT_EQ(s.kind, TakeoverStep::kNone);
    auto sent = Sent(io.TakeActions());
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].kind, ZkRequestKind::kCheck);
    EXPECT_EQ(sent[0].path, j.OwnPath());
    EXPECT_EQ(t.OnFirst(io, first, j, v).kind, TakeoverStep::kNone);
    EXPECT_TRUE(Sent(io.TakeActions()).empty()) << "one claim check at a time";
    s = t.OnResult(io, Answer(sent[0], ZkCode::kOk), *io.Take(sent[0].id), j, false);
    EXPECT_EQ(s.kind, TakeoverStep::kClaim);
    EXPECT_EQ(s.epoch, 55);
  }
}

TEST(TakeoverTest, AnUnsyncedListingNeverClaims) {
  CoreIo io;
  StartIo(io);
  Joiner j = JoinedJoiner(io);
  LatchView v(kLatch, kAsi);
  Takeover t(kAsi, "/latchd");
  ListOutcome first;
  first.kind = ListOutcome::kFirst;
  first.handed_over = true;
  // Sent while leading (no sync): list again, with one.
  EXPECT_EQ(t.OnFirst(io, first, j, v).kind, TakeoverStep::kNone);
  auto sent = Sent(io.TakeActions());
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].kind, ZkRequestKind::kSync);
  // Its sync failed: wait for the next listing (no loop).
  first.sent_synced = true;
  EXPECT_EQ(t.OnFirst(io, first, j, v).kind, TakeoverStep::kNone);
  EXPECT_TRUE(Sent(io.TakeActions()).empty());
}

TEST(TakeoverTest, ANodeOfAnotherSessionIsDeletedNotLed) {
  CoreIo io;
  StartIo(io);
  Joiner j = JoinedJoiner(io, /*owner=*/0);  // owner unknown: read it
  LatchView v(kLatch, kAsi);
  Takeover t(kAsi, "/latchd");
  ListOutcome first;
  first.kind = ListOutcome::kFirst;
  first.synced = first.sent_synced = true;
  t.OnFirst(io, first, j, v);
  auto read = Sent(io.TakeActions());
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].kind, ZkRequestKind::kGetData);
  ZkResult r = Answer(read[0], ZkCode::kOk);
  r.stat.ephemeral_owner = 0x555;  // CURATOR-696
  TakeoverStep s = t.OnResult(io, r, *io.Take(read[0].id), j, false);
  EXPECT_EQ(s.kind, TakeoverStep::kRejoin);
  auto del = Sent(io.TakeActions());
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].kind, ZkRequestKind::kDelete);
  EXPECT_EQ(del[0].path, j.OwnPath());
}

// ---- ActivationGates ---------------------------------------------------------

TEST(ActivationGatesTest, EachEntryNeedsItsOwnAckOfTheCurrentEpoch) {
  ActivationGates g(/*require_ack=*/true, /*require_hook=*/false, seconds(5));
  g.Enter(T0());
  EXPECT_FALSE(g.passed());
  EXPECT_EQ(*g.deadline(), T0() + seconds(5));
  EXPECT_FALSE(g.OnAck(8, true, Role::kBecomingActive, 9).ok) << "another epoch";
  EXPECT_FALSE(g.OnAck(9, true, Role::kPassive, 9).ok) << "not activating";
  EXPECT_FALSE(g.passed());
  EXPECT_TRUE(g.OnAck(9, true, Role::kBecomingActive, 9).ok);
  EXPECT_TRUE(g.passed());
  EXPECT_TRUE(g.OnAck(9, true, Role::kActive, 9).ok) << "a repeated ack while ACTIVE is fine";
  g.Enter(T0() + seconds(10));
  EXPECT_FALSE(g.passed()) << "a new entry starts with no gate passed";
  EXPECT_FALSE(g.Expired(T0() + seconds(14)));
  EXPECT_TRUE(g.Expired(T0() + seconds(15)));
}

TEST(ActivationGatesTest, OnlyTheHookForBecomingActiveOfTheEpochCounts) {
  ActivationGates g(false, true, seconds(5));
  g.Enter(T0());
  EXPECT_FALSE(g.OnHookDone({Role::kActive, 9, true, ""}, true, Role::kBecomingActive, 9));
  EXPECT_FALSE(g.OnHookDone({Role::kBecomingActive, 8, true, ""}, true, Role::kBecomingActive, 9));
  EXPECT_FALSE(g.passed());
  EXPECT_TRUE(g.OnHookDone({Role::kBecomingActive, 9, true, ""}, true, Role::kBecomingActive, 9));
  EXPECT_TRUE(g.passed());
}

// ---- Publisher ---------------------------------------------------------------

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override { StartIo(io_); }
  // The one request sent since the last call.
  ZkRequest OneSent() {
    auto sent = Sent(io_.TakeActions());
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? ZkRequest{} : sent[0];
  }
  PublishStep Feed(const ZkResult& r, bool current = true) {
    auto p = io_.Take(r.id);
    EXPECT_TRUE(p);
    return pub_.OnResult(io_, r, *p, current, false, own_path_, own_, kLatch);
  }

  CoreIo io_;
  Publisher pub_{kAsi, "http://host1:21000"};
  const std::string own_ = Node(1);
  const std::string own_path_ = kLatch + "/" + own_;
};

TEST_F(PublisherTest, EveryWriteIsGuardedOnTheOwnNodeAndAStaleAddressIsReplaced) {
  pub_.Send(io_, own_path_, own_);
  ZkRequest create = OneSent();
  EXPECT_EQ(create.kind, ZkRequestKind::kCreate);
  EXPECT_EQ(create.guard, own_path_);
  EXPECT_EQ(create.mode, CreateMode::kEphemeral);
  EXPECT_EQ(Feed(Answer(create, ZkCode::kNodeExists)).kind, PublishStep::kNone);
  ZkResult stale = Answer(OneSent(), ZkCode::kOk);
  stale.data = "http://old:21000";
  stale.stat.ephemeral_owner = 0x777;
  stale.stat.version = 3;
  Feed(stale);
  ZkRequest del = OneSent();
  EXPECT_EQ(del.kind, ZkRequestKind::kDelete);
  EXPECT_EQ(del.version, 3);
  EXPECT_EQ(del.guard, own_path_);
  Feed(Answer(del, ZkCode::kOk));
  EXPECT_EQ(Feed(Answer(OneSent(), ZkCode::kOk)).kind, PublishStep::kPublished);
  EXPECT_TRUE(pub_.published());
}

TEST_F(PublisherTest, AFailedGuardEndsLeadershipAndALatePublishIsRemoved) {
  pub_.Send(io_, own_path_, own_);
  ZkResult gone = Answer(OneSent(), ZkCode::kNoNode);
  gone.guard_failed = true;
  EXPECT_EQ(Feed(gone).kind, PublishStep::kLost);
  // A publish that lands after leadership ended: deleted, guarded on its node.
  pub_.Send(io_, own_path_, own_);
  Feed(Answer(OneSent(), ZkCode::kOk), /*current=*/false);
  ZkRequest del = OneSent();
  EXPECT_EQ(del.kind, ZkRequestKind::kDelete);
  EXPECT_EQ(del.path, kAsi);
  EXPECT_EQ(del.guard, own_path_);
}

// ---- StepDown ----------------------------------------------------------------

TEST(StepDownTest, OneMultiDeletesNodeAndAddressAndWritesTheMark) {
  CoreIo io;
  StartIo(io);
  Publisher pub(kAsi, "http://host1:21000");
  const std::string own = Node(1), own_path = kLatch + "/" + own;
  pub.Send(io, own_path, own);
  auto create = Sent(io.TakeActions())[0];
  ZkResult ok = Answer(create, ZkCode::kOk);
  ok.stat.version = 4;
  pub.OnResult(io, ok, *io.Take(create.id), true, false, own_path, own, kLatch);
  StepDown sd(kLatch, kAsi, seconds(3));
  EXPECT_FALSE(sd.BeginStop(io, true));
  sd.Send(io, own, pub);
  auto sent = Sent(io.TakeActions());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, ZkRequestKind::kDelete);
  EXPECT_EQ(sent[0].path, kAsi);
  EXPECT_EQ(sent[0].version, 4);
  EXPECT_EQ(sent[0].guard, own_path);
  EXPECT_TRUE(sent[0].guard_delete);
  EXPECT_EQ(sent[0].mark_path, kLatch);
  EXPECT_EQ(sent[0].mark_data, own);
  bool reconnect = false;
  ZkResult r = Answer(sent[0], ZkCode::kOk);
  EXPECT_TRUE(sd.OnResult(io, r, *io.Take(sent[0].id), own, &reconnect));
  EXPECT_EQ(sd.phase(), StepDownPhase::kStopped);
  bool finished = false, handed_over = false;
  for (const auto& a : io.TakeActions()) {
    if (const auto* f = std::get_if<FinishedAction>(&a)) finished = true, handed_over = f->handed_over;
  }
  EXPECT_TRUE(finished);
  EXPECT_TRUE(handed_over) << "the node went with the mark";
}

// A stop whose node went without the mark (the latch node's ACL) finishes without
// handed_over (the agent closes its session at once: a successor may wait for its record).
TEST(StepDownTest, AStopWithoutTheMarkFinishesNotHandedOver) {
  CoreIo io;
  StartIo(io);
  Publisher pub(kAsi, "");
  const std::string own = Node(1);
  StepDown sd(kLatch, kAsi, seconds(3));
  EXPECT_FALSE(sd.BeginStop(io, true));
  sd.Send(io, own, pub);
  auto marked = Sent(io.TakeActions());
  ASSERT_EQ(marked.size(), 1u);
  bool reconnect = false;
  EXPECT_FALSE(sd.OnResult(io, Answer(marked[0], ZkCode::kNoAuth), *io.Take(marked[0].id), own,
                           &reconnect));
  auto plain = Sent(io.TakeActions());
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_TRUE(sd.OnResult(io, Answer(plain[0], ZkCode::kOk), *io.Take(plain[0].id), own, &reconnect));
  std::optional<FinishedAction> done;
  for (const auto& a : io.TakeActions()) {
    if (const auto* f = std::get_if<FinishedAction>(&a)) done = *f;
  }
  ASSERT_TRUE(done.has_value());
  EXPECT_FALSE(done->handed_over);
}

TEST(StepDownTest, FallsBackToTheMarkedDeleteThenToThePlainOne) {
  CoreIo io;
  StartIo(io);
  Publisher pub(kAsi, "");  // no address: the marked delete
  const std::string own = Node(1);
  StepDown sd(kLatch, kAsi, seconds(3));
  sd.BeginYield(io, own, pub);
  auto marked = Sent(io.TakeActions());
  ASSERT_EQ(marked.size(), 1u);
  EXPECT_EQ(marked[0].path, kLatch + "/" + own);
  EXPECT_EQ(marked[0].mark_data, own);
  bool reconnect = false;
  EXPECT_FALSE(sd.OnResult(io, Answer(marked[0], ZkCode::kNoAuth), *io.Take(marked[0].id), own,
                           &reconnect));
  auto plain = Sent(io.TakeActions());
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_TRUE(plain[0].mark_path.empty()) << "the mark could not be written: the node alone";
  EXPECT_TRUE(sd.OnResult(io, Answer(plain[0], ZkCode::kOk), *io.Take(plain[0].id), own, &reconnect));
  EXPECT_EQ(sd.phase(), StepDownPhase::kNone) << "a yield rejoins";
}

TEST(StepDownTest, AYieldEndsWithItsSessionAStopFinishes) {
  CoreIo io;
  StartIo(io);
  Publisher pub(kAsi, "");
  StepDown sd(kLatch, kAsi, seconds(3));
  sd.BeginYield(io, Node(1), pub);
  EXPECT_TRUE(sd.active());
  EXPECT_FALSE(sd.OnSessionEnd(io));
  EXPECT_FALSE(sd.active()) << "the node went with the session: the agent stands again";
  EXPECT_FALSE(sd.BeginStop(io, true));
  EXPECT_TRUE(sd.OnSessionEnd(io));
  EXPECT_EQ(sd.phase(), StepDownPhase::kStopped);
}

TEST(StepDownTest, AStopTimesOutAndOneWithoutAConnectionFinishesAtOnce) {
  CoreIo io;
  StartIo(io);
  StepDown sd(kLatch, kAsi, seconds(3));
  EXPECT_FALSE(sd.BeginStop(io, true));
  io.Begin(T0() + milliseconds(2999));
  EXPECT_FALSE(sd.OnTick(io));
  io.Begin(T0() + seconds(3));
  EXPECT_TRUE(sd.OnTick(io));
  EXPECT_EQ(sd.phase(), StepDownPhase::kStopped);

  CoreIo off;
  StartIo(off);
  off.SetConnected(false);
  StepDown sd2(kLatch, kAsi, seconds(3));
  EXPECT_TRUE(sd2.BeginStop(off, true));
}

}  // namespace
}  // namespace latchd
