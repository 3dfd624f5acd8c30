#include "lib/io/line_server.h"

#include <grp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <glog/logging.h>

#include "lib/io/write_buffer.h"

namespace latchd {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr int kMaxAcceptsPerWakeup = 64;
constexpr Duration kAcceptRetry = std::chrono::milliseconds(100);

MonoTime Now() { return std::chrono::steady_clock::now(); }

std::string ErrnoText(int err) { return std::strerror(err); }

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<gid_t> LookupGroup(const std::string& name) {
  std::vector<char> buf(16 * 1024);
  group entry;
  group* found = nullptr;
  int err;
  while ((err = getgrnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (found == nullptr) {
    return Status::Error("unknown group '" + name + "'" + (err != 0 ? ": " + ErrnoText(err) : ""));
  }
  return found->gr_gid;
}

// Makes room for a new socket at `addr`: fails if something live or something
// other than a socket is there; removes a socket nobody listens on.
Status ClearStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Error("cannot stat " + path + ": " + ErrnoText(errno));
  }
  if (!S_ISSOCK(st.st_mode)) return Status::Error(path + " exists and is not a socket");
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return Status::Error("socket: " + ErrnoText(errno));
  int rc = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(probe);
  // EAGAIN: a listener whose backlog is full is still a listener.
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
    return Status::Error("socket " + path + " is in use by another process");
  }
  if (err != ECONNREFUSED) return Status::Error("cannot probe socket " + path + ": " + ErrnoText(err));
  if (unlink(path.c_str()) < 0 && errno != ENOENT) {
    return Status::Error("cannot remove stale socket " + path + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

}  // namespace

class LineServer::Conn final : public LineConn {
 public:
  Conn(LineServer& server, uint64_t id, int fd, PeerCred peer)
      : server_(server), id_(id), fd_(fd), peer_(peer), out_(server.options_.max_output) {}

  uint64_t id() const override { return id_; }
  PeerCred peer() const override { return peer_; }

  void Send(std::string_view line) override {
    if (closed_) return;
    if (!out_.Fits(line.size() + 1)) return server_.Drop(*this);
    out_.Append(line);
    out_.Append('\n');
    if (server_.Flush(*this)) server_.UpdateInterest(*this);
  }

  void Close() override { server_.Drop(*this); }

 private:
  friend class LineServer;

  bool partial() const { return !in_.empty() || discarding_; }

  LineServer& server_;
  const uint64_t id_;
  int fd_;  // -1 once closed
  const PeerCred peer_;
  std::string in_;             // the unfinished line
  bool discarding_ = false;    // skipping the rest of an oversize line
  WriteBuffer out_;
  bool peer_done_ = false;     // no more input (EOF, or a line timeout): flush, then close
  bool closed_ = false;
  MonoTime line_start_{};      // first byte of the unfinished line, if partial()
  EventLoop::TimerId line_timer_ = 0;  // armed for line_timer_at_; 0: none
  MonoTime line_timer_at_{};
};

LineServer::LineServer(EventLoop& loop, LineServerOptions options, LineServerCallbacks callbacks,
                       int listen_fd, dev_t dev, ino_t ino)
    : loop_(loop),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      listen_fd_(listen_fd),
      dev_(dev),
      ino_(ino) {}

Result<std::unique_ptr<LineServer>> LineServer::Start(EventLoop& loop, LineServerOptions options,
                                                      LineServerCallbacks callbacks) {
  const std::string& path = options.path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status::Error("bad socket path '" + path + "': empty or too long");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());

  gid_t gid = static_cast<gid_t>(-1);
  if (!options.group.empty()) {
    Result<gid_t> g = LookupGroup(options.group);
    if (!g.ok()) return Status::Error("socket " + path + ": " + g.status().message());
    gid = *g;
  }
  std::string dir = ParentDir(path);
  struct stat st;
  if (stat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
    return Status::Error("directory " + dir + " for socket " + path + " does not exist");
  }
  if (Status s = ClearStaleSocket(path, addr); !s.ok()) return s;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("socket " + path + ": socket: " + ErrnoText(errno));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0) {
    Status s = Status::Error("socket " + path + ": bind: " + ErrnoText(errno));
    close(fd);
    return s;
  }
  // Permissions are set before listen(), so nobody connects under the umask's.
  auto fail = [&](const char* what) {
    Status s = Status::Error("socket " + path + ": " + what + ": " + ErrnoText(errno));
    close(fd);
    unlink(path.c_str());
    return s;
  };
  if (chmod(path.c_str(), options.mode) < 0) return fail("chmod");
  if (gid != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), gid) < 0) {
    return fail("chgrp");
  }
  if (lstat(path.c_str(), &st) < 0) return fail("stat");
  if (listen(fd, SOMAXCONN) < 0) return fail("listen");

  std::unique_ptr<LineServer> server(
      new LineServer(loop, std::move(options), std::move(callbacks), fd, st.st_dev, st.st_ino));
  LineServer* self = server.get();
  if (Status s = loop.Watch(fd, EPOLLIN, [self](uint32_t) { self->OnAcceptable(); }); !s.ok()) {
    return Status::Error("socket " + self->options_.path + ": " + s.message());
  }
  return server;
}

LineServer::~LineServer() {
  if (reap_timer_ != 0) loop_.CancelTimer(reap_timer_);
  if (accept_retry_timer_ != 0) loop_.CancelTimer(accept_retry_timer_);
  loop_.Unwatch(listen_fd_);
  close(listen_fd_);
  for (auto& [id, conn] : conns_) {
    if (conn->line_timer_ != 0) loop_.CancelTimer(conn->line_timer_);
    if (conn->closed_) continue;
    loop_.Unwatch(conn->fd_);
    close(conn->fd_);
  }
  struct stat st;
  if (lstat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    unlink(options_.path.c_str());
  }
}

void LineServer::OnAcceptable() {
  for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The listener is level-triggered: pause it rather than spin.
        LOG(WARNING) << "socket " << options_.path << ": accept: " << std::strerror(errno)
                     << "; pausing accepts";
        loop_.Modify(listen_fd_, 0);
        accept_retry_timer_ = loop_.AddTimer(Now() + kAcceptRetry, [this] {
          accept_retry_timer_ = 0;
          loop_.Modify(listen_fd_, EPOLLIN);
        });
      }
      return;  // EAGAIN, or nothing more we can do now
    }
    if (clients() >= options_.max_clients) {
      // Connected clients are never evicted (watchers, a server's held
      // connection): the newcomer is told and closed. A fresh socket's
      // buffer takes one short line; if not, it is closed without one.
      if (!options_.refusal_reply.empty()) {
        std::string line = options_.refusal_reply + "\n";
        ssize_t ignored = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
      }
      close(fd);
      if (!over_limit_logged_) {
        LOG(WARNING) << "socket " << options_.path << ": " << options_.max_clients
                     << " clients connected; refusing more";
        over_limit_logged_ = true;
      }
      continue;
    }
    over_limit_logged_ = false;
    PeerCred peer;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      peer = PeerCred{static_cast<int>(cred.pid), static_cast<int>(cred.uid),
                      static_cast<int>(cred.gid)};
    }
    uint64_t id = next_id_++;
    if (!loop_.Watch(fd, EPOLLIN, [this, id](uint32_t events) { OnConnEvent(id, events); }).ok()) {
      close(fd);
      continue;
    }
    auto [it, added] = conns_.emplace(id, std::make_unique<Conn>(*this, id, fd, peer));
    if (callbacks_.on_open) callbacks_.on_open(*it->second);
  }
}

void LineServer::OnConnEvent(uint64_t id, uint32_t events) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second->closed_) return;
  Conn& c = *it->second;
  if (events & EPOLLERR) return Drop(c);
  if (events & (EPOLLIN | EPOLLHUP)) {
    ReadInput(c);
    if (c.closed_) return;
  }
  if (Flush(c)) UpdateInterest(c);
}

void LineServer::ReadInput(Conn& c) {
  char buf[kReadChunk];
  ssize_t n = recv(c.fd_, buf, sizeof(buf), 0);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) Drop(c);
    return;
  }
  if (n == 0) {
    c.peer_done_ = true;  // Flush() closes once the output is out
    std::string().swap(c.in_);
    c.discarding_ = false;
    return;
  }
  bool finished = Consume(c, std::string_view(buf, static_cast<size_t>(n)));
  if (!c.closed_) TrackPartialLine(c, finished);
}

bool LineServer::Consume(Conn& c, std::string_view data) {
  const size_t max_line = options_.max_line;
  bool finished = false;
  while (!data.empty() && !c.closed_ && !c.peer_done_) {
    size_t nl = data.find('\n');
    bool complete = nl != std::string_view::npos;
    finished = finished || complete;
    std::string_view piece = data.substr(0, nl);
    data = complete ? data.substr(nl + 1) : std::string_view();
    if (c.discarding_) {
      c.discarding_ = !complete;
      continue;
    }
    if (!complete) {
      if (c.in_.size() + piece.size() > max_line + 1) {  // +1: room for a '\r'
        c.discarding_ = true;
        std::string().swap(c.in_);
        if (callbacks_.on_oversize) callbacks_.on_oversize(c);
      } else {
        c.in_.append(piece);
      }
      break;
    }
    std::string_view line = piece;
    if (!c.in_.empty()) line = c.in_.append(piece);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line) {
      if (callbacks_.on_oversize) callbacks_.on_oversize(c);
    } else if (callbacks_.on_line) {
      callbacks_.on_line(c, line);
    }
    c.in_.clear();
  }
  if (c.in_.empty() && c.in_.capacity() > 1024) std::string().swap(c.in_);
  return finished;
}

// The deadline timer is armed lazily: only when a partial line is left after
// a read and no timer is pending; a line finished in time leaves the timer to
// fire and find nothing to do (or a younger partial line to re-arm for), so
// whole lines in one read never touch the timers.
void LineServer::TrackPartialLine(Conn& c, bool line_finished) {
  if (!c.partial()) {
    c.line_start_ = MonoTime{};
    return;
  }
  if (c.peer_done_ || options_.line_timeout <= Duration::zero()) return;
  if (line_finished || c.line_start_ == MonoTime{}) c.line_start_ = Now();
  if (c.line_timer_ != 0) return;  // fires at or before this line's deadline
  uint64_t id = c.id_;
  c.line_timer_at_ = c.line_start_ + options_.line_timeout;
  c.line_timer_ = loop_.AddTimer(c.line_timer_at_, [this, id] { OnLineTimer(id); });
}

void LineServer::OnLineTimer(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  c.line_timer_ = 0;
  if (c.closed_ || c.peer_done_ || !c.partial()) {
    c.line_start_ = MonoTime{};
    return;
  }
  MonoTime deadline = c.line_start_ + options_.line_timeout;
  if (Now() < deadline) {  // a younger line than the one the timer was armed for
    c.line_timer_at_ = deadline;
    c.line_timer_ = loop_.AddTimer(deadline, [this, id] { OnLineTimer(id); });
    return;
  }
  if (uint64_t suppressed = 0; log_limiter_.Admit(Now(), &suppressed)) {
    LOG(WARNING) << "socket " << options_.path << ": client pid " << c.peer_.pid
                 << " did not finish a line within " << ToMillis(options_.line_timeout)
                 << " ms; closing the connection"
                 << (suppressed > 0 ? " (" + std::to_string(suppressed) + " more not logged)" : "");
  }
  std::string().swap(c.in_);
  c.discarding_ = false;
  c.line_start_ = MonoTime{};
  c.peer_done_ = true;  // no more input; Flush() closes once the reply is out
  if (!options_.line_timeout_reply.empty()) {
    if (!c.out_.Fits(options_.line_timeout_reply.size() + 1)) return Drop(c);
    c.out_.Append(options_.line_timeout_reply);
    c.out_.Append('\n');
  }
  if (Flush(c)) UpdateInterest(c);
}

bool LineServer::Flush(Conn& c) {
  WriteBuffer::SendResult sent = c.out_.SendTo(c.fd_);
  if (sent == WriteBuffer::SendResult::kFailed) {
    Drop(c);
    return false;
  }
  if (sent == WriteBuffer::SendResult::kBlocked) return true;
  if (c.peer_done_) {
    Drop(c);
    return false;
  }
  return true;
}

void LineServer::UpdateInterest(Conn& c) {
  uint32_t events = c.out_.empty() ? 0 : uint32_t{EPOLLOUT};
  if (!c.peer_done_) events |= EPOLLIN;
  loop_.Modify(c.fd_, events);
}

void LineServer::Drop(Conn& c) {
  if (c.closed_) return;
  c.closed_ = true;
  if (c.line_timer_ != 0) {
    loop_.CancelTimer(c.line_timer_);
    c.line_timer_ = 0;
  }
  loop_.Unwatch(c.fd_);
  close(c.fd_);
  c.fd_ = -1;
  closed_.push_back(c.id_);
  if (reap_timer_ == 0) reap_timer_ = loop_.AddTimer(Now(), [this] { Reap(); });
}

void LineServer::Reap() {
  reap_timer_ = 0;
  std::vector<uint64_t> ids;
  ids.swap(closed_);
  for (uint64_t id : ids) {
    auto node = conns_.extract(id);  // out of the map, so clients() is right
    if (!node.empty() && callbacks_.on_close) callbacks_.on_close(*node.mapped());
  }
}

}  // namespace latchd
