#include "lib/zk/auth_retry.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <utility>

namespace latchd {
namespace {

constexpr std::chrono::milliseconds kFirstRetry{1000};
constexpr std::chrono::milliseconds kMaxRetry{30000};

// Sleeps up to `d`; false if a stop was requested meanwhile.
bool SleepFor(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace

std::chrono::milliseconds AuthRetryDelay(int consecutive_failures) {
  if (consecutive_failures <= 0) return std::chrono::milliseconds(0);
  std::chrono::milliseconds d = kFirstRetry;
  for (int i = 1; i < consecutive_failures && d < kMaxRetry; ++i) d *= 2;
  return std::min(d, kMaxRetry);
}

PollUntil::PollUntil(std::chrono::milliseconds interval, std::function<bool()> predicate,
                     std::function<void()> then)
    : thread_([interval, predicate = std::move(predicate), then = std::move(then)](
                  std::stop_token stop) {
        while (SleepFor(stop, interval)) {
          if (predicate()) {
            then();
            return;
          }
        }
      }) {}

void PollUntil::Cancel() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

PollUntil DelayedCall(std::chrono::milliseconds delay, std::function<void()> fn) {
  return PollUntil(delay, [] { return true; }, std::move(fn));
}

}  // namespace latchd
