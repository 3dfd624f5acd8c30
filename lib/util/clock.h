// Time as the core sees it: a monotonic clock behind an interface so that
// tests can drive time by hand (Envoy's TimeSource is the model).
// Thread-safety: SteadyClock is safe from any thread; FakeClock is not.
#ifndef LATCHD_LIB_UTIL_CLOCK_H_
#define LATCHD_LIB_UTIL_CLOCK_H_

#include <chrono>

namespace latchd {

using MonoTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;
using std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic now. Never goes backwards; keeps running while the process is
  // stopped (CLOCK_MONOTONIC), which the lease rule relies on.
  virtual MonoTime Now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
};

class FakeClock final : public Clock {
 public:
  MonoTime Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }
  void Set(MonoTime t) { now_ = t; }

 private:
  MonoTime now_{std::chrono::seconds(1000)};
};

inline long long ToMillis(Duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_CLOCK_H_
