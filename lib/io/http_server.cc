#include "lib/io/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <glog/logging.h>

#include "lib/io/http_parser.h"

namespace latchd {
namespace {

constexpr size_t kMaxHead = 8 * 1024;
constexpr size_t kMaxOutput = 1024 * 1024;
constexpr size_t kMaxConnections = 1024;
constexpr size_t kReadChunk = 16 * 1024;
constexpr int kMaxAcceptsPerWakeup = 64;
constexpr Duration kIdleTimeout = std::chrono::seconds(30);
// After a response that ends the connection, unread input is drained this
// long so that close() does not reset the connection under the response.
constexpr Duration kLingerTimeout = std::chrono::seconds(2);
constexpr Duration kAcceptRetry = std::chrono::milliseconds(100);

MonoTime Now() { return std::chrono::steady_clock::now(); }

std::string Errno(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
};

Result<SockAddr> ParseListen(const std::string& listen) {
  auto bad = [&](const char* why) {
    return Status::Error("bad listen address '" + listen + "': " + why);
  };
  std::string host, port_text;
  bool v6 = !listen.empty() && listen[0] == '[';
  if (v6) {
    size_t end = listen.find("]:");
    if (end == std::string::npos) return bad("want [IPV6]:PORT");
    host = listen.substr(1, end - 1);
    port_text = listen.substr(end + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return bad("want HOST:PORT");
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
    if (host == "localhost") host = "127.0.0.1";
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return bad("bad port");
  }
  uint16_t port = htons(static_cast<uint16_t>(std::stoi(port_text)));
  SockAddr addr;
  if (v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&addr.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = port;
    if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1) return bad("bad IPv6 address");
    addr.len = sizeof(*sin6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&addr.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = port;
    if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) {
      return bad("host must be an IPv4 literal, localhost or [IPv6]");
    }
    addr.len = sizeof(*sin);
  }
  return addr;
}

// --- Responses ---------------------------------------------------------------

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

// `connection` is "", "close" or "keep-alive"; `extra` is whole header lines.
void AppendResponse(std::string& out, const HttpResponse& r, bool with_body,
                    std::string_view connection, std::string_view extra = {}) {
  out += "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\n";
  if (!connection.empty()) out.append("Connection: ").append(connection).append("\r\n");
  out += extra;
  out += "\r\n";
  if (with_body) out += r.body;
}

HttpResponse ErrorResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

struct HttpServer::Conn {
  int fd = -1;
  std::string in;
  std::string out;
  size_t out_off = 0;         // bytes of `out` already sent
  bool closing = false;       // no more requests: flush `out`, then end
  bool peer_done = false;     // the client has shut its side
  bool lingering = false;     // `out` sent, write side shut; draining input
  MonoTime deadline;          // idle or linger deadline
  EventLoop::TimerId timer = 0;

  size_t pending() const { return out.size() - out_off; }
};

HttpServer::HttpServer(EventLoop& loop, int listen_fd, int port, Handler handler)
    : loop_(loop), listen_fd_(listen_fd), port_(port), handler_(std::move(handler)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(EventLoop& loop, const std::string& listen,
                                                      Handler handler) {
  Result<SockAddr> addr = ParseListen(listen);
  if (!addr.ok()) return addr.status();
  int family = addr->storage.ss_family;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("http " + listen + ": " + Errno("socket"));
  auto fail = [&](const char* what) {
    Status s = Status::Error("http " + listen + ": " + Errno(what));
    close(fd);
    return s;
  };
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) return fail("SO_REUSEADDR");
  if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
    return fail("IPV6_V6ONLY");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr->storage), addr->len) < 0) {
    return fail("bind");
  }
  if (::listen(fd, SOMAXCONN) < 0) return fail("listen");
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) < 0) {
    return fail("getsockname");
  }
  int port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                      : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  std::unique_ptr<HttpServer> server(new HttpServer(loop, fd, port, std::move(handler)));
  HttpServer* self = server.get();
  Status watched = loop.Watch(fd, EPOLLIN, [self](uint32_t) { self->OnAcceptable(); });
  if (!watched.ok()) return Status::Error("http " + listen + ": " + watched.message());
  return server;
}

HttpServer::~HttpServer() {
  if (accept_retry_timer_ != 0) loop_.CancelTimer(accept_retry_timer_);
  loop_.Unwatch(listen_fd_);
  close(listen_fd_);
  while (!conns_.empty()) CloseConn(conns_.begin()->first);
}

void HttpServer::OnAcceptable() {
  for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The listener is level-triggered: pause it rather than spin.
        LOG(WARNING) << "http accept: " << std::strerror(errno) << "; pausing accepts";
        loop_.Modify(listen_fd_, 0);
        accept_retry_timer_ = loop_.AddTimer(Now() + kAcceptRetry, [this] {
          accept_retry_timer_ = 0;
          loop_.Modify(listen_fd_, EPOLLIN);
        });
      }
      return;  // EAGAIN, or nothing more we can do now
    }
    if (conns_.size() >= kMaxConnections) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!loop_.Watch(fd, EPOLLIN, [this, fd](uint32_t events) { OnConnEvent(fd, events); }).ok()) {
      close(fd);
      continue;
    }
    auto conn = std::make_unique<Conn>();
    conn->fd = fd;
    conn->deadline = Now() + kIdleTimeout;
    ArmTimer(*conn);
    conns_.emplace(fd, std::move(conn));
  }
}

void HttpServer::OnConnEvent(int fd, uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (events & EPOLLERR) return CloseConn(fd);
  if ((events & (EPOLLIN | EPOLLHUP)) && !ReadInput(c)) return;
  // Answers are produced at most about kMaxOutput ahead of the socket; a
  // client that leaves more than that unread is dropped by Flush().
  for (bool more = true; more;) {
    more = ServeInput(c);
    if (!Flush(c)) return;
  }
  UpdateInterest(c);
}

void HttpServer::OnConnTimer(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  c.timer = 0;
  if (Now() >= c.deadline) return CloseConn(fd);
  ArmTimer(c);  // there was activity since it was armed
}

void HttpServer::ArmTimer(Conn& c) {
  if (c.timer != 0) loop_.CancelTimer(c.timer);
  int fd = c.fd;
  c.timer = loop_.AddTimer(c.deadline, [this, fd] { OnConnTimer(fd); });
}

bool HttpServer::ReadInput(Conn& c) {
  char buf[kReadChunk];
  ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    CloseConn(c.fd);
    return false;
  }
  if (n == 0) {
    if (c.lingering || c.pending() == 0) {
      CloseConn(c.fd);
      return false;
    }
    c.peer_done = c.closing = true;  // answer what was asked, then close
    return true;
  }
  if (c.lingering || c.closing) return true;  // input after the last request is dropped
  c.deadline = Now() + kIdleTimeout;
  c.in.append(buf, static_cast<size_t>(n));
  return true;
}

bool HttpServer::ServeInput(Conn& c) {
  size_t pos = 0;
  bool at_cap = false;
  while (!c.closing && !(at_cap = c.pending() > kMaxOutput)) {
    // Blank lines before a request line are ignored (RFC 9112, 2.2).
    while (pos < c.in.size() && (c.in[pos] == '\r' || c.in[pos] == '\n')) ++pos;
    size_t consumed = 0;
    size_t head_len = FindHttpHeadEnd(c.in, pos, &consumed);
    if ((head_len == std::string::npos ? c.in.size() - pos : consumed) > kMaxHead) {
      AppendResponse(c.out, ErrorResponse(431, "request head too large\n"), true, "close");
      c.closing = true;
      break;
    }
    if (head_len == std::string::npos) break;
    std::string_view head(c.in.data() + pos, head_len);
    pos += consumed;

    std::optional<HttpRequestHead> parsed = ParseHttpRequestHead(head);
    if (!parsed) {
      AppendResponse(c.out, ErrorResponse(400, "bad request\n"), true, "close");
      c.closing = true;
      break;
    }
    const HttpRequestHead& req = *parsed;
    bool keep_alive = req.http11 ? !req.conn_close : req.conn_keep_alive;
    bool is_head = req.method == "HEAD";
    HttpResponse response;
    std::string_view extra;
    if (req.method != "GET" && !is_head) {
      keep_alive = keep_alive && !req.has_body;  // we cannot skip an unread body
      response = ErrorResponse(405, "method not allowed\n");
      extra = "Allow: GET, HEAD\r\n";
    } else if (req.has_body) {
      keep_alive = false;
      response = ErrorResponse(400, "request bodies are not supported\n");
    } else if (req.target.front() != '/') {
      response = ErrorResponse(400, "bad request target\n");
    } else {
      size_t q = req.target.find('?');
      HttpRequest request;
      request.method = std::string(req.method);
      request.path = std::string(req.target.substr(0, q));
      if (q != std::string_view::npos) request.query = std::string(req.target.substr(q + 1));
      response = handler_(request);
    }
    std::string_view connection = !keep_alive ? "close" : req.http11 ? "" : "keep-alive";
    AppendResponse(c.out, response, !is_head, connection, extra);
    if (!keep_alive) c.closing = true;
  }
  if (c.closing) {
    std::string().swap(c.in);
  } else {
    c.in.erase(0, pos);
  }
  return at_cap && !c.in.empty();
}

bool HttpServer::Flush(Conn& c) {
  while (c.pending() > 0) {
    ssize_t n = send(c.fd, c.out.data() + c.out_off, c.pending(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseConn(c.fd);
      return false;
    }
    c.out_off += static_cast<size_t>(n);
    if (!c.lingering) c.deadline = Now() + kIdleTimeout;
  }
  if (c.pending() > kMaxOutput) {  // the client is not reading its responses
    CloseConn(c.fd);
    return false;
  }
  if (c.pending() > 0) {
    if (c.out_off > c.out.size() / 2) {
      c.out.erase(0, c.out_off);
      c.out_off = 0;
    }
    return true;
  }
  c.out_off = 0;
  if (c.out.capacity() > kReadChunk) {
    std::string().swap(c.out);
  } else {
    c.out.clear();
  }
  if (c.closing && !c.lingering) {
    if (c.peer_done) {
      CloseConn(c.fd);
      return false;
    }
    shutdown(c.fd, SHUT_WR);
    c.lingering = true;
    c.deadline = Now() + kLingerTimeout;
    ArmTimer(c);
  }
  return true;
}

void HttpServer::UpdateInterest(Conn& c) {
  uint32_t events = EPOLLIN;
  if (c.closing && !c.lingering) {
    events = EPOLLOUT;  // nothing more is served, so nothing more is read
  } else if (!c.lingering && c.pending() > 0) {
    events |= EPOLLOUT;
  }
  loop_.Modify(c.fd, events);
}

void HttpServer::CloseConn(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  loop_.Unwatch(fd);
  if (it->second->timer != 0) loop_.CancelTimer(it->second->timer);
  close(fd);
  conns_.erase(it);
}

}  // namespace latchd
