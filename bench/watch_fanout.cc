// watch_fanout: how fast a role change reaches many `watch` clients.
//
// Opens --watchers connections to the agent's socket (RLIMIT_NOFILE raised to
// its hard limit), sends `watch` on each and waits until every one has its
// first line (the current status). Then, on "trigger" from stdin (or at once
// without --stdin), it opens one more connection, takes t0 = CLOCK_MONOTONIC
// and sends --trigger (default `yield`). One thread reads all watchers with
// epoll and timestamps (CLOCK_MONOTONIC) each watcher's first and second
// change line. Delays are measured from the trigger's send time, not from the
// agent's own role change (the lines' `since` is wall-clock milliseconds, too
// coarse); they therefore include the agent handling the request itself.
// The timestamps are taken in user space as this single thread gets to each
// socket, so the figures include the reader's own pace (a few µs per socket).
//
// Usage: watch_fanout --socket=PATH [--watchers=1000] [--trigger=yield]
//                     [--trigger_socket=PATH] [--changes=2] [--timeout=10] [--stdin]
// With --stdin: prints "READY ..." after all watchers have their first line,
// then waits for a stdin line: "trigger" runs the measurement, "quit" exits.
// Prints one JSON object (the result) on stdout. Exit 1 on failure to set up;
// watchers that missed the change are reported, not fatal.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.h"

namespace {

using bench::ConnectUnix;
using bench::FlagValue;
using bench::NowNs;

bool SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

struct Watcher {
  int fd = -1;
  int lines = 0;            // complete lines received
  std::string partial;      // the unfinished line
  std::vector<int64_t> at;  // receive time of each change line (lines 2..)
  std::string first_change; // text of the first change line
  bool closed = false;
};

// Every watcher's delay (ns) as a JSON array of integer µs, in watcher order: the raw samples.
std::string MicrosList(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ",";
    out += std::to_string((v[i] + 500) / 1000);
  }
  return out + "]";
}

double PctMs(std::vector<int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1e6;
}

std::string JsonField(const std::string& line, const std::string& key) {
  std::string pat = "\"" + key + "\":\"";
  size_t p = line.find(pat);
  if (p == std::string::npos) return "";
  p += pat.size();
  size_t e = line.find('"', p);
  return e == std::string::npos ? "" : line.substr(p, e - p);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, trigger = "yield", trigger_path, v;
  int watchers = 1000, changes = 2;
  double timeout_s = 10;
  bool use_stdin = false;
  for (int i = 1; i < argc; ++i) {
    if (FlagValue(argv[i], "--socket", &path) || FlagValue(argv[i], "--trigger", &trigger) ||
        FlagValue(argv[i], "--trigger_socket", &trigger_path)) {
      continue;
    } else if (FlagValue(argv[i], "--watchers", &v)) {
      watchers = std::atoi(v.c_str());
    } else if (FlagValue(argv[i], "--changes", &v)) {
      changes = std::atoi(v.c_str());
    } else if (FlagValue(argv[i], "--timeout", &v)) {
      timeout_s = std::atof(v.c_str());
    } else if (std::strcmp(argv[i], "--stdin") == 0) {
      use_stdin = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s --socket=PATH [--watchers=1000] [--trigger=yield] "
                   "[--trigger_socket=PATH] [--changes=2] [--timeout=10] [--stdin]\n",
                   argv[0]);
      return 2;
    }
  }
  if (path.empty() || watchers < 1 || changes < 1) {
    std::fprintf(stderr, "--socket is required; --watchers and --changes must be positive\n");
    return 2;
  }
  if (trigger_path.empty()) trigger_path = path;

  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < static_cast<rlim_t>(watchers) + 16) {
      std::fprintf(stderr, "RLIMIT_NOFILE %llu is too low for %d watchers\n",
                   static_cast<unsigned long long>(rl.rlim_cur), watchers);
      return 1;
    }
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Watcher> ws(static_cast<size_t>(watchers));
  int64_t t_connect0 = NowNs();
  for (int i = 0; i < watchers; ++i) {
    int fd = ConnectUnix(path);
    if (fd < 0) {
      std::fprintf(stderr, "connect %s (watcher %d): %s\n", path.c_str(), i, std::strerror(errno));
      return 1;
    }
    if (!SendAll(fd, "watch\n")) {
      std::fprintf(stderr, "send watch (watcher %d): %s\n", i, std::strerror(errno));
      return 1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    ws[i].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }

  constexpr int kMaxEvents = 1024;
  std::vector<epoll_event> events(kMaxEvents);
  char buf[64 * 1024];
  int64_t trigger_at = 0;  // 0 until the trigger was sent
  int unexpected = 0;      // change lines before the trigger
  int closed = 0;
  // Reads what is there on watcher i; timestamps each completed line.
  auto read_watcher = [&](int i) {
    Watcher& w = ws[static_cast<size_t>(i)];
    for (;;) {
      ssize_t n = recv(w.fd, buf, sizeof(buf), 0);
      if (n < 0) return;  // EAGAIN (or an error: the next recv reports EOF)
      int64_t t = NowNs();
      if (n == 0) {
        if (!w.closed) ++closed;
        w.closed = true;
        epoll_ctl(ep, EPOLL_CTL_DEL, w.fd, nullptr);
        return;
      }
      std::string_view data(buf, static_cast<size_t>(n));
      while (!data.empty()) {
        size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
          w.partial.append(data);
          break;
        }
        w.partial.append(data.substr(0, nl));
        data.remove_prefix(nl + 1);
        ++w.lines;
        if (w.lines >= 2) {
          if (trigger_at == 0) {
            ++unexpected;
          } else {
            w.at.push_back(t - trigger_at);
            if (w.first_change.empty()) w.first_change = w.partial;
          }
        }
        w.partial.clear();
      }
    }
  };

  // Phase 1: every watcher has its initial status line.
  int64_t deadline = NowNs() + static_cast<int64_t>(30e9);
  int ready = 0;
  while (ready < watchers) {
    if (NowNs() > deadline) {
      std::fprintf(stderr, "only %d of %d watchers got their first line within 30 s\n", ready,
                   watchers);
      return 1;
    }
    int n = epoll_wait(ep, events.data(), kMaxEvents, 100);
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>(events[k].data.u64);
      bool was = ws[i].lines >= 1;
      read_watcher(i);
      if (!was && ws[i].lines >= 1) ++ready;
    }
    if (closed > 0) {
      std::fprintf(stderr, "%d watchers were closed by the agent while connecting\n", closed);
      return 1;
    }
  }
  double connect_ms = static_cast<double>(NowNs() - t_connect0) / 1e6;

  if (use_stdin) {
    std::printf("READY watchers=%d connect_ms=%.1f\n", watchers, connect_ms);
    std::fflush(stdout);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX;
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
    std::string cmd;
    bool go = false;
    while (!go) {
      int n = epoll_wait(ep, events.data(), kMaxEvents, -1);
      for (int k = 0; k < n; ++k) {
        if (events[k].data.u64 == UINT64_MAX) {
          ssize_t r = read(0, buf, sizeof(buf));
          if (r <= 0) return 0;  // stdin closed: quit
          cmd.append(buf, static_cast<size_t>(r));
          size_t nl;
          while ((nl = cmd.find('\n')) != std::string::npos) {
            std::string line = cmd.substr(0, nl);
            cmd.erase(0, nl + 1);
            if (line == "quit") return 0;
            if (line == "trigger") go = true;
          }
        } else {
          read_watcher(static_cast<int>(events[k].data.u64));
        }
      }
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, 0, nullptr);
  }

  // Phase 2: trigger and time the fan-out.
  int cfd = ConnectUnix(trigger_path);
  if (cfd < 0) {
    std::fprintf(stderr, "connect %s (trigger): %s\n", trigger_path.c_str(), std::strerror(errno));
    return 1;
  }
  fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) | O_NONBLOCK);
  {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX - 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
  }
  trigger_at = NowNs();
  if (!SendAll(cfd, trigger + "\n")) {
    std::fprintf(stderr, "send %s: %s\n", trigger.c_str(), std::strerror(errno));
    return 1;
  }
  int64_t reply_ns = -1;
  std::string reply;
  int done = 0;  // watchers with `changes` change lines
  deadline = trigger_at + static_cast<int64_t>(timeout_s * 1e9);
  while (done + closed < watchers || reply_ns < 0) {
    int64_t left = deadline - NowNs();
    if (left <= 0) break;
    int n = epoll_wait(ep, events.data(), kMaxEvents, static_cast<int>(left / 1000000) + 1);
    for (int k = 0; k < n; ++k) {
      uint64_t d = events[k].data.u64;
      if (d == UINT64_MAX - 1) {
        ssize_t r = recv(cfd, buf, sizeof(buf), 0);
        if (r > 0) {
          if (reply_ns < 0) reply_ns = NowNs() - trigger_at;
          reply.append(buf, static_cast<size_t>(r));
        } else if (r == 0) {
          epoll_ctl(ep, EPOLL_CTL_DEL, cfd, nullptr);
          if (reply_ns < 0) reply_ns = NowNs() - trigger_at;
        }
        continue;
      }
      int i = static_cast<int>(d);
      bool was = static_cast<int>(ws[i].at.size()) >= changes;
      read_watcher(i);
      if (!was && static_cast<int>(ws[i].at.size()) >= changes) ++done;
    }
  }

  std::vector<int64_t> first, second;
  int first_role_count = 0;
  std::string first_role;
  for (auto& w : ws) {
    if (!w.at.empty()) {
      first.push_back(w.at[0]);
      std::string role = JsonField(w.first_change, "role");
      if (first_role.empty()) first_role = role;
      if (role == first_role) ++first_role_count;
    }
    if (w.at.size() >= 2) second.push_back(w.at[1]);
  }
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
  for (char& c : reply) {
    if (c == '"') c = '\'';
  }
  std::printf(
      "{\"watchers\":%d,\"connect_ms\":%.1f,\"trigger\":\"%s\",\"unexpected_before_trigger\":%d,"
      "\"closed\":%d,\"first_change\":{\"received\":%zu,\"role\":\"%s\",\"same_role\":%d,"
      "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"min_ms\":%.3f},"
      "\"second_change\":{\"received\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f},"
      "\"trigger_reply_ms\":%.3f,\"trigger_reply\":\"%s\",\"first_us\":%s,\"second_us\":%s}\n",
      watchers, connect_ms, trigger.c_str(), unexpected, closed, first.size(), first_role.c_str(),
      first_role_count, PctMs(first, 50), PctMs(first, 90), PctMs(first, 99), PctMs(first, 100),
      PctMs(first, 0), second.size(), PctMs(second, 50), PctMs(second, 99), PctMs(second, 100),
      reply_ns < 0 ? -1.0 : static_cast<double>(reply_ns) / 1e6, reply.substr(0, 200).c_str(),
      MicrosList(first).c_str(), MicrosList(second).c_str());
  std::fflush(stdout);
  if (use_stdin) {
    // Keep the connections until told to quit (or stdin closes), so the
    // driver can measure the agent with the watchers still connected.
    std::string cmd;
    for (;;) {
      ssize_t r = read(0, buf, sizeof(buf));
      if (r <= 0) break;
      cmd.append(buf, static_cast<size_t>(r));
      if (cmd.find("quit") != std::string::npos) break;
    }
  }
  for (auto& w : ws) close(w.fd);
  close(cfd);
  return 0;
}
