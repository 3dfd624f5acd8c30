#include "lib/client/role_client.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/client/line_socket.h"

namespace latchd {
namespace {

using client_internal::LineSocket;
using client_internal::PollTimeoutMs;
using client_internal::SteadyTime;
using std::chrono::milliseconds;

constexpr milliseconds kBackoffFirst{100};
constexpr milliseconds kBackoffMax{2000};
constexpr milliseconds kPollMin{100};
constexpr milliseconds kPollMax{1000};

SteadyTime Now() { return std::chrono::steady_clock::now(); }

// How often the monitor re-asks `status`.
milliseconds PollInterval(Role role, int64_t lease_ms) {
  if (!IsClaim(role)) return kPollMax;
  return std::clamp(milliseconds(lease_ms / 3), kPollMin, kPollMax);
}

void Signal(int fd) {
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(fd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

void Drain(int fd) {
  uint64_t v;
  while (read(fd, &v, sizeof v) > 0) {
  }
}

ClientStatus Unreachable() {
  ClientStatus s;
  s.role = Role::kPassive;
  s.zk_connected = false;
  s.agent_reachable = false;
  return s;
}

}  // namespace

// Threads: the monitor (started by the first IsActive) keeps the watch and
// status connections; every Watch() call adds a watcher thread. `stop_fd` is an
// eventfd written once by the destructor and never read, so it stays readable
// and wakes every thread. `kick_fd` wakes only the monitor (IsActive asks it
// to send a `status` at once).
struct RoleClient::Impl {
  Impl(std::string p, RoleClientOptions o) : path(std::move(p)), options(o) {
    stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Impl() {
    {
      // Under watchers_mu so that no Watch() starts a thread after the swap.
      std::lock_guard<std::mutex> lock(watchers_mu);
      stopping.store(true);
    }
    if (stop_fd >= 0) Signal(stop_fd);
    {
      // Releases a first IsActive() waiting in a Watch callback.
      std::lock_guard<std::mutex> lock(mu);
      SettleLocked();
    }
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(watchers_mu);
      threads.swap(watchers);
    }
    // Watchers first: a callback may still call IsActive(), which may start
    // the monitor (it exits at once, seeing `stopping`).
    for (auto& t : threads) t.join();
    std::call_once(monitor_once, [] {});
    if (monitor.joinable()) monitor.join();
    if (stop_fd >= 0) close(stop_fd);
    if (kick_fd >= 0) close(kick_fd);
  }

  // Waits on stop_fd for up to `d`; false when stopping.
  bool SleepFor(milliseconds d) {
    SteadyTime until = Now() + d;
    while (!stopping.load()) {
      int timeout = PollTimeoutMs(until);
      if (timeout == 0) return true;
      pollfd p{stop_fd, POLLIN, 0};
      poll(&p, 1, timeout);
    }
    return false;
  }

  void StartMonitorAndSettle();
  void MonitorLoop();
  // The monitor's state changes; all with mu held.
  void DrainWatchLocked();
  void ApplyWatchLineLocked(const std::string& line);
  void LoseWatchLocked(SteadyTime now);
  void SettleLocked();
  void WatchLoop(const std::function<void(const ClientStatus&)>& callback);
  void HoldLoop(milliseconds ping_interval);
  // One hold connection until it fails or the client stops.
  void HoldOnce(LineSocket& sock, milliseconds ping_interval, milliseconds* backoff);

  const std::string path;
  const RoleClientOptions options;
  int stop_fd = -1;
  int kick_fd = -1;
  std::atomic<bool> stopping{false};

  // --- monitor ---
  std::once_flag monitor_once;
  std::thread monitor;
  std::atomic<bool> settled_fast{false};  // mirrors `settled` for the fast path
  std::mutex mu;
  std::condition_variable settled_cv;
  bool settled = false;         // first answer or first failure seen
  LineSocket watch;             // read by IsActive and the monitor, under mu;
                                // opened and closed only by the monitor
  bool watch_ready = false;     // first line of this watch connection read
  bool watch_failed = false;    // EOF/error seen; the monitor will close it
  uint64_t watch_lines = 0;     // lines read on watch connections, ever
  Role role = Role::kPassive;   // newest line read on either connection
  int64_t trusted_epoch = 0;    // epoch of the answer that set trusted_until
  SteadyTime trusted_until{};   // see the header's rule 3; {} = no trust
  bool poll_outstanding = false;
  SteadyTime poll_sent{};
  uint64_t watch_lines_at_send = 0;
  bool poll_now = false;        // send a `status` at the next chance

  // --- holds ---
  std::atomic<int> holds_up{0};

  // --- watchers (and hold threads) ---
  std::mutex watchers_mu;
  std::vector<std::thread> watchers;
};

void RoleClient::Impl::StartMonitorAndSettle() {
  std::call_once(monitor_once, [this] { monitor = std::thread([this] { MonitorLoop(); }); });
  if (settled_fast.load(std::memory_order_acquire)) return;
  std::unique_lock<std::mutex> lock(mu);
  settled_cv.wait_for(lock, options.deadline, [this] { return settled; });
}

void RoleClient::Impl::SettleLocked() {
  if (settled) return;
  settled = true;
  settled_fast.store(true, std::memory_order_release);
  settled_cv.notify_all();
}

void RoleClient::Impl::ApplyWatchLineLocked(const std::string& line) {
  auto st = ParseStatusLine(line);
  if (!st.ok()) return;  // not a status line (e.g. an error line): ignore
  ++watch_lines;
  watch_ready = true;
  role = st->role;
  // A pushed line is not an answer to a request we timed, so it never extends
  // trust; it only takes it away. An ACTIVE push asks for a timed `status`.
  if (role != Role::kActive || st->epoch != trusted_epoch) trusted_until = SteadyTime{};
  poll_now = true;
}

void RoleClient::Impl::DrainWatchLocked() {
  if (!watch.is_open() || watch_failed) return;
  std::vector<std::string> lines;
  latchd::Status s = watch.ReadAvailable(&lines);
  for (const auto& line : lines) ApplyWatchLineLocked(line);
  if (!s.ok()) {
    watch_failed = true;
    role = Role::kPassive;
    trusted_until = SteadyTime{};
  }
  if (!lines.empty() || !s.ok()) Signal(kick_fd);
}

void RoleClient::Impl::LoseWatchLocked(SteadyTime now) {
  watch.Close();
  watch_ready = false;
  watch_failed = false;
  role = Role::kPassive;
  trusted_until = SteadyTime{};
  poll_outstanding = false;
  SettleLocked();
}

void RoleClient::Impl::MonitorLoop() {
  LineSocket status_conn;  // used by this thread only
  milliseconds backoff = kBackoffFirst;
  SteadyTime next_connect = Now();
  SteadyTime next_poll = Now();
  while (!stopping.load()) {
    SteadyTime now = Now();
    SteadyTime wake_at = now + kPollMax;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (watch_failed) {
        LoseWatchLocked(now);
        status_conn.Close();
        next_connect = now + backoff;
        backoff = std::min(backoff * 2, kBackoffMax);
      }
      if (!watch.is_open() && now >= next_connect) {
        auto conn = LineSocket::Connect(path);
        latchd::Status sent =
            conn.ok() ? conn.value().SendLine("watch", now + options.deadline) : conn.status();
        if (sent.ok()) {
          watch = std::move(conn).value();
          watch_ready = false;
          watch_failed = false;
          backoff = kBackoffFirst;
        } else {
          SettleLocked();  // IsActive's first call need not wait: it is false
          next_connect = now + backoff;
          backoff = std::min(backoff * 2, kBackoffMax);
        }
      }
      if (!watch.is_open()) wake_at = std::min(wake_at, next_connect);

      // Time out an unanswered `status`: no trust until an answer comes.
      if (poll_outstanding && now - poll_sent >= options.deadline) {
        poll_outstanding = false;
        trusted_until = SteadyTime{};
        status_conn.Close();
        next_poll = now;
        SettleLocked();
      }
      // Polls start once the watch is registered (its first line was read):
      // every role change after that is pushed, so an answer computed after
      // the send can be trusted until a push says otherwise.
      if (watch.is_open() && watch_ready && !poll_outstanding &&
          (poll_now || now >= next_poll)) {
        if (!status_conn.is_open()) {
          auto conn = LineSocket::Connect(path);
          if (conn.ok()) status_conn = std::move(conn).value();
        }
        SteadyTime sent_at = Now();  // taken before the send
        if (status_conn.is_open() &&
            status_conn.SendLine("status", sent_at + options.deadline).ok()) {
          poll_outstanding = true;
          poll_sent = sent_at;
          watch_lines_at_send = watch_lines;
          poll_now = false;
        } else {
          status_conn.Close();
          trusted_until = SteadyTime{};
          poll_now = false;
          next_poll = now + kPollMin;
          SettleLocked();
        }
      }
      if (poll_outstanding) {
        wake_at = std::min(wake_at, poll_sent + options.deadline);
      } else if (watch_ready) {
        wake_at = std::min(wake_at, poll_now ? now : next_poll);
      }
    }

    pollfd fds[4] = {{stop_fd, POLLIN, 0},
                     {kick_fd, POLLIN, 0},
                     {watch.fd(), POLLIN, 0},
                     {status_conn.fd(), POLLIN, 0}};
    // watch.fd() is read here without mu: only this thread opens or closes it.
    int rc = poll(fds, 4, PollTimeoutMs(wake_at));
    if (rc < 0 && errno != EINTR) {
      SleepFor(kPollMin);
      continue;
    }
    if (stopping.load()) break;
    if (fds[1].revents & POLLIN) Drain(kick_fd);

    if (status_conn.is_open() && (fds[3].revents & (POLLIN | POLLHUP | POLLERR))) {
      std::vector<std::string> lines;
      latchd::Status s = status_conn.ReadAvailable(&lines);
      std::lock_guard<std::mutex> lock(mu);
      SteadyTime got = Now();
      for (const auto& line : lines) {
        if (!poll_outstanding) continue;  // a late answer of a timed-out request
        poll_outstanding = false;
        auto st = ParseStatusLine(line);
        if (!st.ok()) {
          trusted_until = SteadyTime{};
          next_poll = got + kPollMin;
          continue;
        }
        // Only trust the answer if no push was read while it was on its way:
        // otherwise we cannot tell which of the two is newer. Ask again.
        DrainWatchLocked();
        if (watch_lines != watch_lines_at_send || watch_failed) {
          poll_now = true;
          continue;
        }
        role = st->role;
        trusted_until = poll_sent + milliseconds(st->lease_ms);
        trusted_epoch = st->epoch;
        next_poll = got + PollInterval(st->role, st->lease_ms);
        SettleLocked();
      }
      if (!s.ok()) {
        status_conn.Close();
        poll_outstanding = false;
        trusted_until = SteadyTime{};
        next_poll = got + kPollMin;
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      std::lock_guard<std::mutex> lock(mu);
      DrainWatchLocked();
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  watch.Close();
}

void RoleClient::Impl::WatchLoop(const std::function<void(const ClientStatus&)>& callback) {
  milliseconds backoff = kBackoffFirst;
  bool outage_reported = false;
  while (!stopping.load()) {
    auto conn = LineSocket::Connect(path);
    if (conn.ok()) {
      LineSocket sock = std::move(conn).value();
      if (sock.SendLine("watch", Now() + options.deadline).ok()) {
        while (!stopping.load()) {
          LineSocket::ReadEnd why;
          auto line = sock.ReadLine(Now() + std::chrono::minutes(1), stop_fd, &why);
          if (why == LineSocket::ReadEnd::kTimeout) continue;
          if (!line.ok()) break;
          auto st = ParseStatusLine(*line);
          if (!st.ok()) continue;
          backoff = kBackoffFirst;
          outage_reported = false;
          callback(*st);
        }
      }
    }
    if (stopping.load()) return;
    if (!outage_reported) {
      outage_reported = true;
      callback(Unreachable());
    }
    if (!SleepFor(backoff)) return;
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

void RoleClient::Impl::HoldOnce(LineSocket& sock, milliseconds ping_interval, milliseconds* backoff) {
  if (!sock.SendLine("hold", Now() + options.deadline).ok()) return;
  auto answer = sock.ReadLine(Now() + options.deadline, stop_fd);
  if (!answer.ok()) return;
  auto j = nlohmann::json::parse(*answer, nullptr, false);
  if (!j.is_object() || !j.value("hold", false)) return;  // an old agent: {"error":...}
  if (int64_t t = j.value("hold_timeout_ms", int64_t{0}); t > 0) {
    ping_interval = std::min(ping_interval, milliseconds(std::max<int64_t>(t / 3, 1)));
  }
  *backoff = kBackoffFirst;
  ++holds_up;
  while (SleepFor(ping_interval)) {
    if (!sock.SendLine("ping", Now() + options.deadline).ok()) break;
    LineSocket::ReadEnd why;
    auto pong = sock.ReadLine(Now() + options.deadline, stop_fd, &why);
    if (!pong.ok()) break;
  }
  --holds_up;
}

void RoleClient::Impl::HoldLoop(milliseconds ping_interval) {
  milliseconds backoff = kBackoffFirst;
  while (!stopping.load()) {
    auto conn = LineSocket::Connect(path);
    if (conn.ok()) {
      LineSocket sock = std::move(conn).value();
      HoldOnce(sock, ping_interval, &backoff);
    }
    if (!SleepFor(backoff)) return;
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

RoleClient::RoleClient(std::string socket_path)
    : RoleClient(std::move(socket_path), RoleClientOptions{}) {}

RoleClient::RoleClient(std::string socket_path, RoleClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(socket_path), options)) {}

RoleClient::~RoleClient() = default;

const std::string& RoleClient::socket_path() const { return impl_->path; }

Result<std::string> RoleClient::Request(std::string_view request_line) {
  if (request_line.find_first_of("\r\n") != std::string_view::npos) {
    return latchd::Status::Error("a request must be a single line");
  }
  return client_internal::RoundTrip(impl_->path, request_line, impl_->options.deadline);
}

Result<ClientStatus> RoleClient::Status() {
  auto line = Request("status");
  if (!line.ok()) return line.status();
  return ParseStatusLine(*line);
}

bool RoleClient::IsActive() { return ActiveEpoch().has_value(); }

std::optional<int64_t> RoleClient::ActiveEpoch() {
  if (impl_->stop_fd < 0 || impl_->kick_fd < 0) return std::nullopt;  // eventfd failed
  if (impl_->stopping.load()) return std::nullopt;
  impl_->StartMonitorAndSettle();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->DrainWatchLocked();  // first: a pushed change must not be missed
  SteadyTime now = Now();
  if (!impl_->watch.is_open() || impl_->watch_failed || !impl_->watch_ready) return std::nullopt;
  if (impl_->role != Role::kActive) return std::nullopt;
  if (now >= impl_->trusted_until) return std::nullopt;
  if (impl_->poll_outstanding && now - impl_->poll_sent >= impl_->options.deadline) {
    return std::nullopt;
  }
  return impl_->trusted_epoch;
}

void RoleClient::Watch(std::function<void(const ClientStatus&)> callback) {
  // Without its eventfd (fd exhaustion) a watcher could not be stopped promptly.
  if (!callback || impl_->stop_fd < 0) return;
  std::lock_guard<std::mutex> lock(impl_->watchers_mu);
  if (impl_->stopping.load()) return;
  Impl* impl = impl_.get();
  impl->watchers.emplace_back(
      [impl, cb = std::move(callback)] { impl->WatchLoop(cb); });
}

void RoleClient::Hold(milliseconds ping_interval) {
  if (impl_->stop_fd < 0) return;
  std::lock_guard<std::mutex> lock(impl_->watchers_mu);
  if (impl_->stopping.load()) return;
  Impl* impl = impl_.get();
  ping_interval = std::max(ping_interval, milliseconds(1));
  impl->watchers.emplace_back([impl, ping_interval] { impl->HoldLoop(ping_interval); });
}

bool RoleClient::Holding() const { return impl_->holds_up.load() > 0; }

namespace {

// Interprets an {"ok":true,...} / {"error":"..."} answer.
latchd::Status OkAnswer(const Result<std::string>& line, const std::string& what) {
  if (!line.ok()) return line.status();
  auto j = nlohmann::json::parse(*line, nullptr, false);
  if (j.is_object()) {
    if (auto it = j.find("ok"); it != j.end() && it->is_boolean() && it->get<bool>()) {
      return latchd::Status::Ok();
    }
    if (auto it = j.find("error"); it != j.end()) {
      return latchd::Status::Error("latchd refused " + what + ": " +
                                   (it->is_string() ? it->get<std::string>() : it->dump()));
    }
  }
  return latchd::Status::Error("unexpected answer from latchd to " + what + ": " +
                               line->substr(0, 200));
}

}  // namespace

latchd::Status RoleClient::Ack(int64_t epoch) {
  if (epoch <= 0) return latchd::Status::Error("ack: epoch must be positive");
  std::string request = "ack " + std::to_string(epoch);
  return OkAnswer(Request(request), request);
}

latchd::Status RoleClient::Yield() { return OkAnswer(Request("yield"), "yield"); }

}  // namespace latchd
