// Lease: the time until which this agent may claim (BECOMING_ACTIVE or
// ACTIVE), by the lease rule of docs/design.md:
//
//   lease end = send time of the latest write ZooKeeper answered in the
//               current session + negotiated timeout x (1 - margin)
//
// Promises: ValidAt(t) is true only before that end; an answered write moves
// the end only forward; a new negotiated timeout or a larger margin
// recomputes it from the same send time (so a reconnect that negotiates a
// smaller timeout shrinks it); a new session (Reset) has no lease.
// The caller decides which answers count (a server's answer to a write of
// the current session) and passes the request's send time.
//
// Thread-safety: none (a value owned by LatchCore).
// Errors: none.
#ifndef LATCHD_LIB_CORE_LEASE_H_
#define LATCHD_LIB_CORE_LEASE_H_

#include <optional>

#include "lib/util/clock.h"

namespace latchd {

class Lease {
 public:
  // margin: the lease is the session timeout x (1 - margin).
  // renew_fraction: renew every session timeout x this.
  Lease(double margin, double renew_fraction) : margin_(margin), renew_fraction_(renew_fraction) {}

  // A new session, or the old one is gone: no lease.
  void Reset() { end_.reset(), last_sent_.reset(); }
  // The negotiated session timeout (at every CONNECTED).
  void SetTimeout(Duration negotiated);
  // The margin becomes at least `margin` (never lowered).
  void RaiseMargin(double margin);
  double margin() const { return margin_; }
  // The margin docs/design.md's proof needs when tickTime is `tick` (clock
  // rates off by up to 1 % each): renew_fraction + tick / (2 T) + 0.02.
  double RequiredMargin(Duration tick) const;
  // A write sent at `sent` in the current session was answered by a server.
  void OnWriteAnswered(MonoTime sent);

  bool ValidAt(MonoTime t) const { return end_ && t < *end_; }
  const std::optional<MonoTime>& end() const { return end_; }
  // Time left at `t` (zero once over); nullopt without a lease.
  std::optional<Duration> RemainingAt(MonoTime t) const;

  Duration timeout() const { return timeout_; }
  Duration length() const;          // timeout x (1 - margin)
  Duration renew_interval() const;  // timeout x renew_fraction

 private:
  void Recompute();

  double margin_;
  const double renew_fraction_;
  Duration timeout_{};
  std::optional<MonoTime> last_sent_;  // send time of the latest answered write
  std::optional<MonoTime> end_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_LEASE_H_
