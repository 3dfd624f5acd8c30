// A leader that may not write active_server_info (issue 11): a foreign node
// there that allows no WRITE, a root that allows no DELETE. Every create,
// setData and delete of the path is answered NOAUTH; the agent must retry
// with backoff, not in a loop, and say why.
#include <gtest/gtest.h>

#include "tests/unit/sim_cluster.h"

namespace latchd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::SimCluster;

const char* kAsi = "/latchd/active_server_info";

void DenyPublishing(SimCluster& c) {
  for (ZkRequestKind kind : {ZkRequestKind::kCreate, ZkRequestKind::kSetData, ZkRequestKind::kDelete}) {
    sim::FaultRule rule;
    rule.code = ZkCode::kNoAuth;
    rule.request = kind;
    rule.path_prefix = kAsi;
    c.zk().AddFault(rule);
  }
}

TEST(PublishBackoffTest, ADeniedPublishIsRetriedWithBackoffAndLogged) {
  SimCluster c(1);
  DenyPublishing(c);
  c.Start(0);
  const MonoTime start = c.zk().options().start;
  c.Advance(seconds(1));
  int total = 0;
  for (int second = 1; second < 20; ++second) {
    const MonoTime from = c.now();
    c.Advance(seconds(1));
    int n = c.zk().CountRequests(0, kAsi, from, c.now());
    EXPECT_LE(n, 10) << "requests to " << kAsi << " in second " << second;
    total += n;
  }
  EXPECT_GE(total, 3) << "it keeps trying";
  EXPECT_EQ(c.RoleOf(0), Role::kBecomingActive) << "never ACTIVE without the publish";
  int logged = 0;
  for (const auto& a : c.agent(0).actions) {
    const auto* log = std::get_if<LogAction>(&a);
    if (log && log->message.find("NOAUTH") != std::string::npos &&
        log->message.find(kAsi) != std::string::npos) {
      ++logged;
    }
  }
  EXPECT_GE(logged, 1) << "the code and the path are logged";
  EXPECT_LE(logged, c.zk().CountRequests(0, kAsi, start, c.now())) << "once per attempt at most";
}

TEST(PublishBackoffTest, APublishAllowedAgainGoesActive) {
  SimCluster c(1);
  DenyPublishing(c);
  c.Start(0);
  c.Advance(seconds(3));
  ASSERT_EQ(c.RoleOf(0), Role::kBecomingActive);
  c.zk().ClearFaults();
  c.Advance(seconds(6));  // within one backoff step of 5 s at most
  EXPECT_EQ(c.RoleOf(0), Role::kActive);
  EXPECT_EQ(c.zk().Get(kAsi)->data, "http://host0:21000");
}

}  // namespace
}  // namespace latchd
