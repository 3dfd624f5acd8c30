// Small helpers the bench programs share (header-only: bench/build.sh compiles
// each program from its one .cc file). Thread-safety: every function is safe
// from any thread; none keeps state.
#ifndef LATCHD_BENCH_BENCH_UTIL_H_
#define LATCHD_BENCH_BENCH_UTIL_H_

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace bench {

// CLOCK_MONOTONIC in nanoseconds.
inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// True if `arg` is "<name>=<value>" (name includes the dashes); *out = value.
inline bool FlagValue(const char* arg, const char* name, std::string* out) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *out = arg + n + 1;
  return true;
}

// A blocking, close-on-exec stream connection to the Unix socket `path` (cut
// to fit sun_path). Returns the descriptor, or -1 with errno from the failed
// socket(2) or connect(2).
inline int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

}  // namespace bench

#endif  // LATCHD_BENCH_BENCH_UTIL_H_
