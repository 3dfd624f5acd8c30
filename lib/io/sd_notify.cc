#include "lib/io/sd_notify.h"

#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <glog/logging.h>

namespace latchd {
namespace {

constexpr size_t kMaxStatusBytes = 512;

}  // namespace

std::unique_ptr<SystemdNotifier> SystemdNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  bool enabled = socket != nullptr && socket[0] != '\0';
  std::optional<Duration> interval;
  if (enabled) {
    uint64_t usec = 0;
    // > 0: a watchdog is requested for this process; 0: none (or it is for
    // another pid); < 0: WATCHDOG_USEC or WATCHDOG_PID could not be parsed.
    int r = sd_watchdog_enabled(/*unset_environment=*/0, &usec);
    if (r > 0 && usec > 0) {
      interval = std::chrono::duration_cast<Duration>(std::chrono::microseconds(usec / 2));
    } else if (r < 0) {
      LOG(WARNING) << "systemd watchdog settings unusable (WATCHDOG_USEC/WATCHDOG_PID): "
                   << std::strerror(-r) << "; not sending watchdog pings";
    }
  }
  return std::unique_ptr<SystemdNotifier>(new SystemdNotifier(enabled, interval));
}

void SystemdNotifier::Ready() { Send("READY=1"); }

void SystemdNotifier::Stopping() { Send("STOPPING=1"); }

void SystemdNotifier::Watchdog() {
  if (watchdog_interval_) Send("WATCHDOG=1");
}

void SystemdNotifier::Status(std::string_view text) {
  if (!enabled_) return;
  std::string state = "STATUS=";
  std::string_view cut = text;
  if (cut.size() > kMaxStatusBytes) {
    size_t n = kMaxStatusBytes;
    // Do not split a UTF-8 sequence: back up over continuation bytes.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    cut = text.substr(0, n);
  }
  for (char c : cut) {
    unsigned char u = static_cast<unsigned char>(c);
    state.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  Send(state);
}

void SystemdNotifier::Send(const std::string& state) {
  if (!enabled_) return;
  int r = sd_notify(/*unset_environment=*/0, state.c_str());
  if (r > 0) return;
  uint64_t suppressed = 0;
  if (!failures_.Admit(std::chrono::steady_clock::now(), &suppressed)) return;
  // r == 0 means NOTIFY_SOCKET disappeared from the environment since.
  LOG(WARNING) << "sd_notify(" << state.substr(0, state.find('=')) << ") failed: "
               << (r < 0 ? std::strerror(-r) : "NOTIFY_SOCKET no longer set")
               << (suppressed ? " (" + std::to_string(suppressed) + " similar failures not logged)"
                              : std::string());
}

}  // namespace latchd
