// The lock-delay (docs/design.md, "The lock-delay"): a takeover that is not a
// handover waits while the previous leader may still claim with the node that
// vanished — its member record still names that node's uuid, or, without a
// record, its active_server_info is there — for at most a lease length.
#include <gtest/gtest.h>

#include <string>

#include "lib/core/latch_node.h"
#include "tests/unit/sim_cluster.h"

namespace latchd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::SimCluster;

constexpr char kLatch[] = "/latchd/leader_elector_path";

std::string FirstNode(SimCluster& c) {
  auto order = SortLatchNodes(c.zk().Children(kLatch));
  return std::string(kLatch) + "/" + order.at(0).name;
}

// Agents 0 and 1 joined, T = 4 s; true if 0 is ACTIVE.
bool StartPair(SimCluster& c) {
  c.Start(0);
  c.Start(1);
  c.Advance(milliseconds(50));
  return c.ActiveIndex() == 0;
}

// Another client deletes the leader's node while the leader is paused (it
// cannot notice): without the lock-delay the second agent claims at once and
// both claim until the paused leader's lease runs out.
TEST(LockDelayTest, ADeletedLeadersNodeIsTakenOnlyAfterItsLeaseCouldHaveRunOut) {
  SimCluster c(2, seconds(4));
  ASSERT_TRUE(StartPair(c));
  c.Pause(0);
  ASSERT_EQ(c.zk().Delete(FirstNode(c)), ZkCode::kOk);
  c.Pump();
  c.Advance(milliseconds(100));
  EXPECT_NE(c.RoleOf(1), Role::kActive) << "took over at once while the old leader may claim";
  c.Advance(seconds(4));
  EXPECT_EQ(c.RoleOf(1), Role::kActive) << "the lock-delay never ended";
  EXPECT_EQ(c.max_claims(), 1) << "two agents claimed at once";

}

// The old leader notices the deletion at once: it stops claiming and writes
// its member record again (a new uuid); the successor goes as soon as it sees
// that, not after a whole lease.
TEST(LockDelayTest, EndsAsSoonAsTheOldLeadersRecordNoLongerNamesTheNode) {
  SimCluster c(2, seconds(4));
  ASSERT_TRUE(StartPair(c));
  ASSERT_EQ(c.zk().Delete(FirstNode(c)), ZkCode::kOk);
  c.Pump();
  c.Advance(milliseconds(200));
  EXPECT_EQ(c.ActiveIndex(), 1);
  EXPECT_EQ(c.max_claims(), 1);
}

// A crash: the session expires, the node, the record and active_server_info
// go with it; the successor takes over without a lock-delay.
TEST(LockDelayTest, ACrashedLeadersSuccessorDoesNotWait) {
  SimCluster c(2, seconds(4));
  ASSERT_TRUE(StartPair(c));
  MonoTime t_crash = c.now();
  c.Crash(0);
  MonoTime t_active{};
  for (int i = 0; i < 600 && t_active == MonoTime{}; ++i) {
    c.Advance(milliseconds(10));
    if (c.RoleOf(1) == Role::kActive) t_active = c.now();
  }
  ASSERT_NE(t_active, MonoTime{});
  // ZooKeeper expires the session up to two ticks (500 ms) after T: that, not more.
  EXPECT_LE(t_active - t_crash, seconds(4) + milliseconds(1100));
  EXPECT_EQ(c.max_claims(), 1);
  for (const Action& a : c.agent(1).actions) {
    if (auto* l = std::get_if<LogAction>(&a)) {
      EXPECT_EQ(l->message.find("lock-delay"), std::string::npos) << l->message;
    }
  }
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

// The latch path deleted by another client (CURATOR-724) while the leader is
// paused: everyone rejoins a new latch; the first of the new latch must not
// claim while the paused leader may (its active_server_info is still there).
TEST(LockDelayTest, ARecreatedLatchWaitsForTheOldLeadersLease) {
  testing::SimCluster c(2, std::chrono::seconds(4));
  ASSERT_TRUE(StartPair(c));
  c.Pause(0);
  for (const std::string& child : c.zk().Children(kLatch)) {
    ASSERT_EQ(c.zk().Delete(std::string(kLatch) + "/" + child), ZkCode::kOk);
  }
  ASSERT_EQ(c.zk().Delete(kLatch), ZkCode::kOk);
  c.Pump();
  c.Advance(std::chrono::seconds(5));
  EXPECT_EQ(c.max_claims(), 1) << "the new latch's leader claimed beside the paused one";
  EXPECT_EQ(c.RoleOf(1), Role::kActive);
}

}  // namespace
}  // namespace latchd
