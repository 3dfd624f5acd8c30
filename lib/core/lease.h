// Lease: the time until which this agent may claim (BECOMING_ACTIVE or
// ACTIVE), by the lease rule of docs/design.md:
//
//   lease end = send time of the latest write ZooKeeper answered in the
//               current session + negotiated timeout x (1 - margin)
//
// Promises: ValidAt(t) is true only before that end; nothing but an answered
// write moves the end, and only forward; a new session (Reset) has no lease.
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
  void Reset() { end_.reset(); }
  // The negotiated session timeout (at every CONNECTED).
  void SetTimeout(Duration negotiated) { timeout_ = negotiated; }
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
  const double margin_;
  const double renew_fraction_;
  Duration timeout_{};
  std::optional<MonoTime> end_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_LEASE_H_
