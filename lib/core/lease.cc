#include "lib/core/lease.h"

#include <algorithm>

namespace latchd {

void Lease::OnWriteAnswered(MonoTime sent) {
  MonoTime end = sent + length();
  if (!end_ || end > *end_) end_ = end;
}

std::optional<Duration> Lease::RemainingAt(MonoTime t) const {
  if (!end_) return std::nullopt;
  return std::max(Duration::zero(), *end_ - t);
}

Duration Lease::length() const {
  return std::chrono::duration_cast<Duration>(timeout_ * (1.0 - margin_));
}

Duration Lease::renew_interval() const {
  return std::chrono::duration_cast<Duration>(timeout_ * renew_fraction_);
}

}  // namespace latchd
