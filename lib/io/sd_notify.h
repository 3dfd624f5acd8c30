// Tells the service manager (systemd, Type=notify) how the daemon is doing:
// READY=1 once it serves, STATUS=<one line> for `systemctl status`,
// WATCHDOG=1 keep-alive pings, STOPPING=1 when a graceful stop begins.
// A thin wrapper over libsystemd's sd_notify(3) and sd_watchdog_enabled(3).
//
// Promise: FromEnvironment() never returns nullptr. Without NOTIFY_SOCKET (not
// started by systemd, or Type= other than notify) the notifier is disabled and
// every method is a cheap no-op, so callers need no checks. Notifications are
// best effort: a failed send is logged (rate-limited) and otherwise ignored;
// the daemon's work never depends on it.
//
// The environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) is read when the
// notifier is made and by each send; nothing is unset, so child processes
// inherit it. The units use NotifyAccess=main, which makes systemd ignore any
// notification that does not come from the main process.
//
// Thread-safety: every method may be called from any thread concurrently. Each
// send is one datagram on a socket of its own; nothing changes after
// construction but a thread-safe log rate limiter. Datagrams sent from
// different threads are not ordered with respect to each other. Do not
// setenv/unsetenv while a send may run (getenv is not safe against that).
#ifndef LATCHD_LIB_IO_SD_NOTIFY_H_
#define LATCHD_LIB_IO_SD_NOTIFY_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lib/util/clock.h"
#include "lib/util/log_limiter.h"

namespace latchd {

class SystemdNotifier {
 public:
  // Reads the environment once: enabled() iff NOTIFY_SOCKET is set and not
  // empty; the watchdog interval from sd_watchdog_enabled(3) (WATCHDOG_USEC,
  // honoured only when WATCHDOG_PID is unset or equals getpid()).
  static std::unique_ptr<SystemdNotifier> FromEnvironment();

  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // True when notifications are sent somewhere.
  bool enabled() const { return enabled_; }

  // READY=1: startup finished (Type=notify units become "active").
  void Ready();
  // STATUS=<text>: a one-line free-form status. Control characters (a newline
  // would start a new assignment, e.g. a forged READY=1) are replaced by
  // spaces, and the text is cut at 512 bytes (at a UTF-8 character boundary).
  void Status(std::string_view text);
  // STOPPING=1: a graceful stop has begun.
  void Stopping();
  // WATCHDOG=1: a keep-alive ping; send one every WatchdogInterval(). A no-op
  // when WatchdogInterval() is nullopt.
  void Watchdog();

  // How often to call Watchdog(): half of WATCHDOG_USEC. nullopt when the
  // notifier is disabled, the service has no watchdog, WATCHDOG_PID names
  // another process, or WATCHDOG_USEC cannot be parsed (logged).
  std::optional<Duration> WatchdogInterval() const { return watchdog_interval_; }

 private:
  SystemdNotifier(bool enabled, std::optional<Duration> watchdog_interval)
      : enabled_(enabled), watchdog_interval_(watchdog_interval) {}
  void Send(const std::string& state);

  const bool enabled_;
  const std::optional<Duration> watchdog_interval_;
  LogLimiter failures_{3, 1.0 / 60};  // a burst of 3, then one a minute
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_SD_NOTIFY_H_
