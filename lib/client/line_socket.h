// A client end of the agent's Unix-socket line protocol: one non-blocking
// AF_UNIX stream socket with an input buffer, and waits that always end at a
// deadline (std::chrono::steady_clock) or when an optional wake fd becomes
// readable. Internal to lib/client and latchctl: not installed, and the
// public RoleClient header does not include it.
//
// Promises: lines are returned without '\n' (and without a trailing '\r'), in
// the order received; bytes after the last '\n' stay buffered for the next
// call. No call blocks past its deadline. SIGPIPE is never raised (sends use
// MSG_NOSIGNAL).
// Thread-safety: one LineSocket must be used by one thread at a time; distinct
// objects are independent.
// Errors: values; each message is one line naming the socket path and what
// happened ("cannot reach latchd at P: No such file or directory",
// "latchd at P closed the connection", "no answer from latchd at P within 2000 ms").
#ifndef LATCHD_LIB_CLIENT_LINE_SOCKET_H_
#define LATCHD_LIB_CLIENT_LINE_SOCKET_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/util/status.h"

namespace latchd {
namespace client_internal {

using SteadyTime = std::chrono::steady_clock::time_point;

class LineSocket {
 public:
  // Longest line accepted from the agent; a longer one is an error.
  static constexpr size_t kMaxLine = 1 << 20;

  LineSocket() = default;
  ~LineSocket();
  LineSocket(LineSocket&& other) noexcept;
  LineSocket& operator=(LineSocket&& other) noexcept;
  LineSocket(const LineSocket&) = delete;
  LineSocket& operator=(const LineSocket&) = delete;

  // Connects to `path` without blocking (a Unix-socket connect completes or
  // fails at once; a full backlog is reported as an error, not waited for).
  static Result<LineSocket> Connect(const std::string& path);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  void Close();

  // Sends `line` plus '\n'; waits for buffer space until `deadline`.
  Status SendLine(std::string_view line, SteadyTime deadline);

  // Reads what is available now without waiting and appends every complete
  // line to `lines`. Returns OK with nothing appended when no input is
  // pending. EOF or a socket error is an error (complete lines read before
  // it are still appended).
  Status ReadAvailable(std::vector<std::string>* lines);

  enum class ReadEnd { kLine, kTimeout, kWoken, kError };
  // The next line; waits until `deadline` or until `wake_fd` (if >= 0) is
  // readable. A deadline, a wake-up, EOF and socket errors are errors;
  // `*why` (if given) tells them apart. After kTimeout and kWoken the socket
  // is still usable.
  Result<std::string> ReadLine(SteadyTime deadline, int wake_fd = -1, ReadEnd* why = nullptr);

 private:
  // Reads what is available into in_, stopping early once it holds more
  // than kMaxLine bytes; *drained tells whether no more input is pending.
  // Errors: EOF, socket errors.
  Status Fill(bool* drained);
  bool PopLine(std::string* line);
  Status TooLong() const;

  int fd_ = -1;
  std::string path_;
  std::string in_;
};

// One request line, one answer line, on a fresh connection, within `timeout`.
Result<std::string> RoundTrip(const std::string& path, std::string_view request,
                              std::chrono::milliseconds timeout);

// Milliseconds until `deadline` for poll(2): 0 when passed, rounded up,
// capped at one minute.
int PollTimeoutMs(SteadyTime deadline);

}  // namespace client_internal
}  // namespace latchd

#endif  // LATCHD_LIB_CLIENT_LINE_SOCKET_H_
