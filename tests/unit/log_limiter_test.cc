#include "lib/util/log_limiter.h"

#include <gtest/gtest.h>

namespace latchd {
namespace {

TEST(LogLimiterTest, BurstThenRateWithSuppressedCount) {
  LogLimiter limiter(3, 2);
  MonoTime t{std::chrono::seconds(10)};
  uint64_t suppressed = 0;
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += limiter.Admit(t, &suppressed);
  EXPECT_EQ(admitted, 3) << "only the burst passes at one instant";
  EXPECT_TRUE(limiter.Admit(t + std::chrono::milliseconds(500), &suppressed));
  EXPECT_EQ(suppressed, 97u) << "the next admitted line reports what was dropped";
  EXPECT_FALSE(limiter.Admit(t + std::chrono::milliseconds(600), &suppressed));
}

}  // namespace
}  // namespace latchd
