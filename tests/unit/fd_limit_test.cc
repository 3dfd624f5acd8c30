#include "lib/io/fd_limit.h"

#include <sys/resource.h>

#include <gtest/gtest.h>

namespace latchd {
namespace {

TEST(FdLimitTest, RaisesTheSoftLimitToTheHardOne) {
  rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max <= 512) GTEST_SKIP() << "hard limit too low";
  rlimit low = lim;
  low.rlim_cur = 512;  // as systemd would start us, but smaller
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Result<FdLimitChange> change = RaiseFdLimitToHard();
  rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  Result<FdLimitChange> again = RaiseFdLimitToHard();  // already there: no change
  setrlimit(RLIMIT_NOFILE, &lim);
  ASSERT_TRUE(change.ok()) << change.status().message();
  EXPECT_EQ(change->before, 512u);
  EXPECT_EQ(change->after, lim.rlim_max);
  EXPECT_EQ(change->hard, lim.rlim_max);
  EXPECT_EQ(now.rlim_cur, lim.rlim_max);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->before, again->after);
}

TEST(FdLimitTest, TextSaysUnlimited) {
  EXPECT_EQ(FdLimitText(1024), "1024");
  EXPECT_EQ(FdLimitText(FdLimitChange::kUnlimited), "unlimited");
}

}  // namespace
}  // namespace latchd
