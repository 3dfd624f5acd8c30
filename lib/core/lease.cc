#include "lib/core/lease.h"

#include <algorithm>

namespace latchd {

void Lease::OnWriteAnswered(MonoTime sent) {
  if (!last_sent_ || sent > *last_sent_) last_sent_ = sent;
  Recompute();
}

void Lease::SetTimeout(Duration negotiated) {
  timeout_ = negotiated;
  Recompute();
}

void Lease::RaiseMargin(double margin) {
  margin_ = std::max(margin_, margin);
  Recompute();
}

double Lease::RequiredMargin(Duration tick) const {
  if (timeout_ <= Duration::zero()) return margin_;
  return renew_fraction_ + std::chrono::duration<double>(tick).count() /
                               (2 * std::chrono::duration<double>(timeout_).count()) + 0.02;
}

void Lease::Recompute() {
  if (last_sent_) end_ = *last_sent_ + length();
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
