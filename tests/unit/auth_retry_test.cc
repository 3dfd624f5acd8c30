#include "lib/zk/auth_retry.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace latchd {
namespace {

using std::chrono::milliseconds;

// Waits (with a deadline) until `pred` holds.
template <typename Pred>
bool WaitFor(Pred pred, milliseconds deadline = milliseconds(5000)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

TEST(AuthRetryDelayTest, DoublesFromOneSecondToThirty) {
  EXPECT_EQ(AuthRetryDelay(0), milliseconds(0));
  EXPECT_EQ(AuthRetryDelay(1), milliseconds(1000));
  EXPECT_EQ(AuthRetryDelay(2), milliseconds(2000));
  EXPECT_EQ(AuthRetryDelay(3), milliseconds(4000));
  EXPECT_EQ(AuthRetryDelay(5), milliseconds(16000));
  EXPECT_EQ(AuthRetryDelay(6), milliseconds(30000));
  EXPECT_EQ(AuthRetryDelay(1000), milliseconds(30000));
}

TEST(DelayedCallTest, RunsOnceAfterTheDelay) {
  std::atomic<int> calls{0};
  auto t0 = std::chrono::steady_clock::now();
  std::atomic<long> elapsed_ms{0};
  PollUntil call = DelayedCall(milliseconds(50), [&] {
    elapsed_ms = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
    ++calls;
  });
  ASSERT_TRUE(WaitFor([&] { return calls.load() == 1; }));
  EXPECT_GE(elapsed_ms.load(), 50);
  std::this_thread::sleep_for(milliseconds(60));
  EXPECT_EQ(calls.load(), 1);
}

TEST(DelayedCallTest, CancelBeforeTheDelayMeansNeverAndReturnsAtOnce) {
  std::atomic<int> calls{0};
  auto t0 = std::chrono::steady_clock::now();
  {
    PollUntil call = DelayedCall(milliseconds(10000), [&] { ++calls; });
    call.Cancel();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
  EXPECT_EQ(calls.load(), 0);
}

TEST(PollUntilTest, CallsThenOnceWhenThePredicateHolds) {
  std::atomic<int> polls{0};
  std::atomic<int> fired{0};
  PollUntil poll(milliseconds(5), [&] { return ++polls >= 3; }, [&] { ++fired; });
  ASSERT_TRUE(WaitFor([&] { return fired.load() == 1; }));
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(polls.load(), 3);
  EXPECT_EQ(fired.load(), 1);
}

TEST(PollUntilTest, CancelStopsPolling) {
  std::atomic<int> polls{0};
  std::atomic<int> fired{0};
  PollUntil poll(milliseconds(5), [&] { ++polls; return false; }, [&] { ++fired; });
  ASSERT_TRUE(WaitFor([&] { return polls.load() >= 2; }));
  poll.Cancel();
  int after = polls.load();
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(polls.load(), after);
  EXPECT_EQ(fired.load(), 0);
}

}  // namespace
}  // namespace latchd
