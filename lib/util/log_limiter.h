// A token bucket for log lines: a burst of `burst` lines, then `per_second`
// lines a second; the rest are counted and reported with the next line let
// through. Keeps a reconnecting ZooKeeper client from flooding the journal.
// Thread-safety: Admit is safe from any thread.
#ifndef LATCHD_LIB_UTIL_LOG_LIMITER_H_
#define LATCHD_LIB_UTIL_LOG_LIMITER_H_

#include <cstdint>
#include <mutex>

#include "lib/util/clock.h"

namespace latchd {

class LogLimiter {
 public:
  LogLimiter(double burst, double per_second) : burst_(burst), rate_(per_second), tokens_(burst) {}
  // True if a line may be logged at `now`; *suppressed receives how many lines
  // were dropped since the last admitted one.
  bool Admit(MonoTime now, uint64_t* suppressed) {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_ != MonoTime{}) {
      tokens_ += std::chrono::duration<double>(now - last_).count() * rate_;
      if (tokens_ > burst_) tokens_ = burst_;
    }
    last_ = now;
    if (tokens_ < 1.0) {
      ++dropped_;
      return false;
    }
    tokens_ -= 1.0;
    *suppressed = dropped_;
    dropped_ = 0;
    return true;
  }

 private:
  std::mutex mu_;
  const double burst_;
  const double rate_;
  double tokens_;
  MonoTime last_{};
  uint64_t dropped_ = 0;
};

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_LOG_LIMITER_H_
