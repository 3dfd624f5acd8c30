// ServerHealth: holds and probes with HAProxy's fall/rise meaning, on simulated time.
#include "lib/agent/server_health.h"

#include <gtest/gtest.h>

namespace latchd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

MonoTime T0() { return MonoTime{seconds(1000)}; }

TEST(ServerHealthTest, WithoutABindingTheServerIsHealthy) {
  ServerHealth h(ServerHealthConfig{}, T0());
  EXPECT_TRUE(h.healthy());
  EXPECT_FALSE(h.NextDeadline().has_value());
  EXPECT_TRUE(h.TakeDueProbes(T0() + seconds(5)).empty());
}

TEST(ServerHealthTest, HealthyWhileAHoldIsOpen) {
  ServerHealthConfig c;
  c.server_hold = true;
  ServerHealth h(c, T0());
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.TakeChange());
  EXPECT_TRUE(h.Hold(7, T0()));
  EXPECT_FALSE(h.Hold(7, T0())) << "a second hold on one connection is one hold";
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.TakeChange());
  EXPECT_FALSE(h.TakeChange());
  h.Hold(8, T0());
  h.Closed(7, T0() + seconds(1));
  EXPECT_TRUE(h.healthy()) << "one hold is still open";
  h.Closed(8, T0() + seconds(2));
  EXPECT_FALSE(h.healthy());
  EXPECT_TRUE(h.TakeChange());
  EXPECT_EQ(h.since(), T0() + seconds(2));
}

TEST(ServerHealthTest, ASilentHoldIsReleasedAfterTheTimeout) {
  ServerHealthConfig c;
  c.server_hold = true;
  c.hold_timeout = milliseconds(500);
  ServerHealth h(c, T0());
  h.Hold(7, T0());
  h.Heard(7, T0() + milliseconds(400));
  EXPECT_TRUE(h.TakeSilentHolds(T0() + milliseconds(899)).empty());
  EXPECT_EQ(*h.NextDeadline(), T0() + milliseconds(900));
  auto silent = h.TakeSilentHolds(T0() + milliseconds(900));
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0], 7u);
  EXPECT_FALSE(h.healthy());
}

TEST(ServerHealthTest, ProbesRiseAndFallLikeHaproxyChecks) {
  ServerHealthConfig c;
  c.health_url = "http://127.0.0.1:8080/health";
  c.interval = milliseconds(200);
  c.timeout = milliseconds(100);
  c.fall = 2;
  c.rise = 2;
  ServerHealth h(c, T0());
  EXPECT_FALSE(h.healthy()) << "a probe starts down";
  MonoTime t = T0();
  std::vector<bool> health;
  // ok ok fail ok fail fail ok ok
  for (bool ok : {true, true, false, true, false, false, true, true}) {
    auto due = h.TakeDueProbes(t);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].kind, ProbeKind::kHttp);
    EXPECT_TRUE(h.TakeDueProbes(t).empty()) << "one probe at a time";
    h.ProbeDone(due[0].id, ok, ok ? "HTTP 200" : "HTTP 503", t + milliseconds(10));
    health.push_back(h.healthy());
    t += c.interval;
  }
  EXPECT_EQ(health, (std::vector<bool>{false, true, true, true, true, false, false, true}));
}

TEST(ServerHealthTest, ALostProbeResultCountsAsAFailure) {
  ServerHealthConfig c;
  c.health_exec = "/bin/true";
  c.fall = 1;
  c.rise = 1;
  ServerHealth h(c, T0());
  auto due = h.TakeDueProbes(T0());
  h.ProbeDone(due[0].id, true, "exit 0", T0());
  EXPECT_TRUE(h.healthy());
  due = h.TakeDueProbes(T0() + seconds(1));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(*h.NextDeadline(), T0() + seconds(1) + c.timeout + seconds(1));
  h.TakeDueProbes(T0() + seconds(3));  // no result came
  EXPECT_FALSE(h.healthy());
  h.ProbeDone(due[0].id, true, "late", T0() + seconds(3));
  EXPECT_FALSE(h.healthy()) << "a late result is ignored";
}

TEST(ServerHealthTest, HoldAndProbesMustAllBeUp) {
  ServerHealthConfig c;
  c.server_hold = true;
  c.health_exec = "/bin/true";
  c.rise = 1;
  ServerHealth h(c, T0());
  auto due = h.TakeDueProbes(T0());
  h.ProbeDone(due[0].id, true, "exit 0", T0());
  EXPECT_FALSE(h.healthy()) << "no hold yet";
  h.Hold(1, T0());
  EXPECT_TRUE(h.healthy());
  EXPECT_NE(h.reason().find("1 hold"), std::string::npos) << h.reason();
}

}  // namespace
}  // namespace latchd
