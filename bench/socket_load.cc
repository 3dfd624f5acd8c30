// socket_load: closed-loop load on a Unix-socket line server. N client
// threads, each with its own connection, send a request line (default
// "status") and wait for the whole answer line before sending the next, for D
// seconds (after a short warm-up that is not counted). Every request's latency
// (CLOCK_MONOTONIC, send to the answer's '\n') is kept; the report gives
// requests/s and latency percentiles over all of them.
//
// Usage: socket_load --socket=PATH [--clients=16] [--seconds=10]
//                    [--warmup=1] [--request=status] [--label=NAME]
// Prints one JSON object on stdout. Exit 1 if a connection fails or an
// answer does not arrive within 5 s.
#include <sys/time.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace {

using bench::ConnectUnix;
using bench::FlagValue;
using bench::NowNs;

struct Worker {
  std::vector<uint32_t> lat_ns;  // latencies of the measured phase
  uint64_t bytes = 0;
  uint64_t answer_size = 0;
  std::string error;
};

std::atomic<int> g_phase{0};  // 0 warm-up, 1 measuring, 2 stop

void Run(const std::string& path, const std::string& request, Worker* w) {
  int fd = ConnectUnix(path);
  if (fd < 0) {
    w->error = "connect " + path + ": " + std::strerror(errno);
    return;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::vector<char> buf(64 * 1024);
  size_t have = 0;  // bytes of a partial next answer already read (never, in a closed loop)
  w->lat_ns.reserve(1 << 20);
  while (g_phase.load(std::memory_order_relaxed) < 2) {
    int64_t t0 = NowNs();
    size_t off = 0;
    while (off < request.size()) {
      ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        w->error = std::string("send: ") + std::strerror(errno);
        close(fd);
        return;
      }
      off += static_cast<size_t>(n);
    }
    // Read until the answer's '\n'.
    size_t scanned = 0;
    for (;;) {
      void* nl = have > scanned ? std::memchr(buf.data() + scanned, '\n', have - scanned) : nullptr;
      if (nl != nullptr) {
        size_t len = static_cast<char*>(nl) - buf.data() + 1;
        w->answer_size = len;
        w->bytes += len;
        std::memmove(buf.data(), buf.data() + len, have - len);
        have -= len;
        break;
      }
      scanned = have;
      if (have == buf.size()) buf.resize(buf.size() * 2);
      // Blocking recv with SO_RCVTIMEO (no poll: one syscall per read).
      ssize_t n = recv(fd, buf.data() + have, buf.size() - have, 0);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        w->error = n == 0                                         ? "server closed the connection"
                   : (errno == EAGAIN || errno == EWOULDBLOCK) ? "no answer within 5 s"
                                                               : std::string("recv: ") + std::strerror(errno);
        close(fd);
        return;
      }
      have += static_cast<size_t>(n);
    }
    int64_t t1 = NowNs();
    if (g_phase.load(std::memory_order_relaxed) == 1) {
      int64_t d = t1 - t0;
      w->lat_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(d, UINT32_MAX)));
    }
  }
  close(fd);
}

double Pct(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;  // µs
}

// Every request's latency, kept for the raw results without a million numbers: the sorted
// latencies rounded down to three significant digits (ns), as [[value_ns, count], ...] in
// ascending order. Percentiles from it are within 1 % of the exact ones.
uint32_t ThreeDigits(uint32_t ns) {
  uint32_t scale = 1;
  while (ns / scale >= 1000) scale *= 10;
  return ns / scale * scale;
}

std::string Histogram(const std::vector<uint32_t>& sorted) {
  std::string out = "[";
  size_t i = 0;
  while (i < sorted.size()) {
    uint32_t key = ThreeDigits(sorted[i]);
    size_t n = 0;
    while (i < sorted.size() && ThreeDigits(sorted[i]) == key) {
      ++n;
      ++i;
    }
    if (out.size() > 1) out += ",";
    out += "[" + std::to_string(key) + "," + std::to_string(n) + "]";
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, request = "status", label, v;
  int clients = 16;
  double seconds = 10, warmup = 1;
  for (int i = 1; i < argc; ++i) {
    if (FlagValue(argv[i], "--socket", &path) || FlagValue(argv[i], "--request", &request) ||
        FlagValue(argv[i], "--label", &label)) {
      continue;
    } else if (FlagValue(argv[i], "--clients", &v)) {
      clients = std::atoi(v.c_str());
    } else if (FlagValue(argv[i], "--seconds", &v)) {
      seconds = std::atof(v.c_str());
    } else if (FlagValue(argv[i], "--warmup", &v)) {
      warmup = std::atof(v.c_str());
    } else {
      std::fprintf(stderr,
                   "usage: %s --socket=PATH [--clients=16] [--seconds=10] [--warmup=1] "
                   "[--request=status] [--label=NAME]\n",
                   argv[0]);
      return 2;
    }
  }
  if (path.empty() || clients < 1 || seconds <= 0) {
    std::fprintf(stderr, "--socket is required; --clients and --seconds must be positive\n");
    return 2;
  }
  request.push_back('\n');

  std::vector<Worker> workers(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) threads.emplace_back(Run, path, request, &workers[i]);
  auto sleep_s = [](double s) {
    timespec ts{static_cast<time_t>(s), static_cast<long>((s - static_cast<time_t>(s)) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
  };
  sleep_s(warmup);
  int64_t t0 = NowNs();
  g_phase.store(1);
  sleep_s(seconds);
  g_phase.store(2);
  int64_t t1 = NowNs();
  for (auto& t : threads) t.join();

  std::vector<uint32_t> all;
  uint64_t answer_size = 0;
  std::string error;
  for (auto& w : workers) {
    all.insert(all.end(), w.lat_ns.begin(), w.lat_ns.end());
    answer_size = std::max(answer_size, w.answer_size);
    if (!w.error.empty() && error.empty()) error = w.error;
  }
  std::sort(all.begin(), all.end());
  double elapsed = static_cast<double>(t1 - t0) / 1e9;
  double rps = static_cast<double>(all.size()) / elapsed;
  double mean = 0;
  for (uint32_t x : all) mean += x;
  mean = all.empty() ? 0 : mean / static_cast<double>(all.size()) / 1000.0;
  std::printf(
      "{\"label\":\"%s\",\"clients\":%d,\"seconds\":%.3f,\"requests\":%zu,\"rps\":%.1f,"
      "\"answer_bytes\":%llu,\"lat_us\":{\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
      "\"p999\":%.1f,\"max\":%.1f},\"error\":%s%s%s,\"lat_hist_ns\":%s}\n",
      label.c_str(), clients, elapsed, all.size(), rps,
      static_cast<unsigned long long>(answer_size), mean, Pct(all, 50), Pct(all, 90), Pct(all, 99),
      Pct(all, 99.9), all.empty() ? 0.0 : all.back() / 1000.0, error.empty() ? "" : "\"",
      error.empty() ? "null" : error.c_str(), error.empty() ? "" : "\"", Histogram(all).c_str());
  return error.empty() ? 0 : 1;
}
