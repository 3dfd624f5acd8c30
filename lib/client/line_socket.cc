#include "lib/client/line_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace latchd {
namespace client_internal {
namespace {

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

int PollTimeoutMs(SteadyTime deadline) {
  auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, 60'000));
}

LineSocket::~LineSocket() { Close(); }

LineSocket::LineSocket(LineSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      in_(std::move(other.in_)) {}

LineSocket& LineSocket::operator=(LineSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    in_ = std::move(other.in_);
  }
  return *this;
}

void LineSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  in_.clear();
}

Result<LineSocket> LineSocket::Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return Status::Error("the latchd socket path is empty");
  if (path.size() >= sizeof addr.sun_path) {
    return Status::Error("socket path " + path + " is longer than " +
                         std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("socket(AF_UNIX): " + Errno(errno));
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    close(fd);
    if (err == EAGAIN) {
      return Status::Error("latchd at " + path + " is not accepting connections (backlog full)");
    }
    return Status::Error("cannot reach latchd at " + path + ": " + Errno(err));
  }
  LineSocket s;
  s.fd_ = fd;
  s.path_ = path;
  return s;
}

Status LineSocket::SendLine(std::string_view line, SteadyTime deadline) {
  if (fd_ < 0) return Status::Error("not connected to latchd");
  std::string data(line);
  data.push_back('\n');
  std::string_view rest = data;
  while (!rest.empty()) {
    ssize_t n = send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n > 0) {
      rest.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int timeout = PollTimeoutMs(deadline);
      if (timeout == 0) return Status::Error("cannot send to latchd at " + path_ + " in time");
      if (poll(&p, 1, timeout) < 0 && errno != EINTR) {
        return Status::Error("poll: " + Errno(errno));
      }
      continue;
    }
    return Status::Error("cannot send to latchd at " + path_ + ": " + Errno(errno));
  }
  return Status::Ok();
}

bool LineSocket::PopLine(std::string* line) {
  size_t nl = in_.find('\n');
  if (nl == std::string::npos) return false;
  size_t end = nl;
  if (end > 0 && in_[end - 1] == '\r') --end;
  line->assign(in_, 0, end);
  in_.erase(0, nl + 1);
  return true;
}

Status LineSocket::Fill(bool* drained) {
  *drained = false;
  char buf[16384];
  while (in_.size() <= kMaxLine) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return Status::Error("latchd at " + path_ + " closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *drained = true;
      return Status::Ok();
    }
    return Status::Error("reading from latchd at " + path_ + ": " + Errno(errno));
  }
  return Status::Ok();
}

Status LineSocket::ReadAvailable(std::vector<std::string>* lines) {
  if (fd_ < 0) return Status::Error("not connected to latchd");
  while (true) {
    bool drained = false;
    Status s = Fill(&drained);
    std::string line;
    while (PopLine(&line)) lines->push_back(std::move(line));
    if (in_.size() > kMaxLine) return TooLong();
    if (!s.ok() || drained) return s;
  }
}

Status LineSocket::TooLong() const {
  return Status::Error("latchd at " + path_ + " sent a line longer than " +
                       std::to_string(kMaxLine) + " bytes");
}

Result<std::string> LineSocket::ReadLine(SteadyTime deadline, int wake_fd, ReadEnd* why) {
  ReadEnd ignored;
  if (why == nullptr) why = &ignored;
  *why = ReadEnd::kError;
  if (fd_ < 0) return Status::Error("not connected to latchd");
  std::string line;
  while (true) {
    if (PopLine(&line)) break;
    bool drained = false;
    Status s = Fill(&drained);
    if (PopLine(&line)) break;
    if (!s.ok()) return s;
    if (in_.size() > kMaxLine) return TooLong();
    if (!drained) continue;
    int timeout = PollTimeoutMs(deadline);
    if (timeout == 0) {
      *why = ReadEnd::kTimeout;
      return Status::Error("no answer from latchd at " + path_ + " in time");
    }
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int rc = poll(p, wake_fd >= 0 ? 2 : 1, timeout);
    if (rc < 0 && errno != EINTR) return Status::Error("poll: " + Errno(errno));
    if (rc > 0 && wake_fd >= 0 && (p[1].revents & POLLIN)) {
      *why = ReadEnd::kWoken;
      return Status::Error("interrupted");
    }
  }
  *why = ReadEnd::kLine;
  return line;
}

Result<std::string> RoundTrip(const std::string& path, std::string_view request,
                              std::chrono::milliseconds timeout) {
  SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  auto conn = LineSocket::Connect(path);
  if (!conn.ok()) return conn.status();
  LineSocket sock = std::move(conn).value();
  Status sent = sock.SendLine(request, deadline);
  if (!sent.ok()) return sent;
  LineSocket::ReadEnd why;
  auto line = sock.ReadLine(deadline, -1, &why);
  if (why == LineSocket::ReadEnd::kTimeout) {
    return Status::Error("no answer from latchd at " + path + " within " +
                         std::to_string(timeout.count()) + " ms");
  }
  return line;
}

}  // namespace client_internal
}  // namespace latchd
