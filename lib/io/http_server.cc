#include "lib/io/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <glog/logging.h>

#include "lib/io/http_parser.h"
#include "lib/io/write_buffer.h"

namespace latchd {
namespace {

constexpr size_t kMaxHead = 8 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
constexpr int kMaxAcceptsPerWakeup = 64;
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
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

void AppendNumber(WriteBuffer& out, size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
  out.Append(std::string_view(digits, static_cast<size_t>(end - digits)));
}

// `connection` is "", "close" or "keep-alive"; `extra` is whole header lines.
void AppendResponse(WriteBuffer& out, const HttpResponse& r, bool with_body,
                    std::string_view connection, std::string_view extra = {}) {
  out.Append("HTTP/1.1 ");
  AppendNumber(out, static_cast<size_t>(r.status));
  out.Append(' ');
  out.Append(Reason(r.status));
  out.Append("\r\nContent-Type: ");
  out.Append(r.content_type);
  out.Append("\r\nContent-Length: ");
  AppendNumber(out, r.body.size());
  out.Append("\r\nCache-Control: no-store\r\n");
  if (!connection.empty()) {
    out.Append("Connection: ");
    out.Append(connection);
    out.Append("\r\n");
  }
  out.Append(extra);
  out.Append("\r\n");
  if (with_body) out.Append(r.body);
}

HttpResponse ErrorResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Written with one non-blocking send just before a close (eviction).
constexpr std::string_view kEvicted =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 32\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    "too many connections; try again\n";

// The connection limit in force: at most half of the descriptors the
// process may open, so that ZooKeeper, the socket and hooks keep theirs.
size_t EffectiveMaxConnections(size_t wanted) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return wanted;
  size_t half = static_cast<size_t>(lim.rlim_cur / 2);
  return std::max<size_t>(1, std::min(wanted, half));
}

}  // namespace

struct HttpServer::Conn {
  explicit Conn(size_t max_output) : out(max_output) {}

  int fd = -1;
  std::string in;             // unparsed input: a partial head, or heads held at the cap
  WriteBuffer out;
  bool closing = false;       // no more requests: flush `out`, then end
  bool peer_done = false;     // the client has shut its side
  bool lingering = false;     // `out` sent, write side shut; draining input
  size_t requests = 0;        // answered on this connection
  MonoTime head_start;        // accept, or the first byte of the current head
  MonoTime last_response;     // `out` last drained after a response
  MonoTime last_progress;     // the client last took output (or output began)
  MonoTime linger_until;
  EventLoop::TimerId timer = 0;  // armed for timer_at; 0: none
  MonoTime timer_at;
  bool in_heads = false;      // which eviction list holds `pos`
  ConnList::iterator pos;
};

HttpServer::HttpServer(EventLoop& loop, int listen_fd, int port, Handler handler,
                       HttpServerOptions options, size_t max_connections)
    : loop_(loop),
      listen_fd_(listen_fd),
      port_(port),
      handler_(std::move(handler)),
      options_(options),
      max_connections_(max_connections) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(EventLoop& loop, const std::string& listen,
                                                      Handler handler,
                                                      HttpServerOptions options) {
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
  size_t max_connections = EffectiveMaxConnections(options.max_connections);
  if (max_connections < options.max_connections) {
    LOG(WARNING) << "http " << listen << ": at most " << max_connections
                 << " connections (half of RLIMIT_NOFILE), not " << options.max_connections;
  }
  std::unique_ptr<HttpServer> server(
      new HttpServer(loop, fd, port, std::move(handler), options, max_connections));
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
      // Out of descriptors: make room the same way as at the limit.
      if ((errno == EMFILE || errno == ENFILE) && EvictOne("out of file descriptors")) continue;
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
    if (conns_.size() >= max_connections_) EvictOne("connection limit reached");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!loop_.Watch(fd, EPOLLIN, [this, fd](uint32_t events) { OnConnEvent(fd, events); }).ok()) {
      close(fd);
      continue;
    }
    auto conn = std::make_unique<Conn>(options_.max_output);
    Conn& c = *conn;
    c.fd = fd;
    c.head_start = c.last_response = c.last_progress = Now();
    c.in_heads = true;
    c.pos = heads_.insert(heads_.end(), &c);
    conns_.emplace(fd, std::move(conn));
    Reschedule(c);
  }
}

void HttpServer::OnConnEvent(int fd, uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (events & EPOLLERR) return CloseConn(fd);
  MonoTime now = Now();
  if ((events & (EPOLLIN | EPOLLHUP)) && !ReadInput(c, now)) return;
  // Answers are produced at most about max_output ahead of the socket; a
  // client that leaves more than that unread is dropped by Flush().
  for (bool more = true; more;) {
    more = ServeInput(c, now);
    if (!Flush(c, now)) return;
  }
  UpdateInterest(c);
  Reschedule(c);
}

void HttpServer::OnConnTimer(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  c.timer = 0;
  MonoTime now = Now();
  if (now < Deadline(c)) return Reschedule(c);  // the deadline moved since it was armed
  if (c.lingering) return CloseConn(fd);
  if (!c.out.empty()) {  // the client has taken nothing for idle_timeout
    ++stats_.slow_readers;
    return CloseConn(fd);
  }
  if (!HeadPending(c)) {
    ++stats_.idle_timeouts;
    return CloseConn(fd);
  }
  ++stats_.head_timeouts;
  AppendResponse(c.out, ErrorResponse(408, "request head not complete in time\n"), true, "close");
  c.closing = true;
  std::string().swap(c.in);
  if (!Flush(c, now)) return;
  UpdateInterest(c);
  Reschedule(c);
}

bool HttpServer::HeadPending(const Conn& c) const {
  return !c.closing && !c.lingering && c.out.empty() && (c.requests == 0 || !c.in.empty());
}

MonoTime HttpServer::Deadline(const Conn& c) const {
  if (c.lingering) return c.linger_until;
  if (!c.out.empty()) return c.last_progress + options_.idle_timeout;
  MonoTime idle = c.last_response + options_.idle_timeout;
  if (c.requests == 0) return c.head_start + options_.head_timeout;
  if (!c.in.empty()) return std::min(c.head_start + options_.head_timeout, idle);
  return idle;
}

void HttpServer::Reschedule(Conn& c) {
  // Eviction class. The heads list stays in head-start order (a connection
  // joins at the back when its head starts, and bytes do not move it); the
  // idle list is kept least recently active first.
  bool head = HeadPending(c);
  ConnList& from = c.in_heads ? heads_ : idle_;
  if (head != c.in_heads) {
    ConnList& to = head ? heads_ : idle_;
    to.splice(to.end(), from, c.pos);
    c.in_heads = head;
  } else if (!head) {
    idle_.splice(idle_.end(), idle_, c.pos);
  }
  // The timer is armed lazily: only when there is none, or the deadline moved
  // earlier; a later deadline is found when the earlier timer fires.
  MonoTime deadline = Deadline(c);
  if (c.timer != 0 && c.timer_at <= deadline) return;
  if (c.timer != 0) loop_.CancelTimer(c.timer);
  int fd = c.fd;
  c.timer_at = deadline;
  c.timer = loop_.AddTimer(deadline, [this, fd] { OnConnTimer(fd); });
}

bool HttpServer::EvictOne(const char* why) {
  bool idle = !idle_.empty();
  if (!idle && heads_.empty()) return false;
  Conn& victim = idle ? *idle_.front() : *heads_.front();
  if (idle) {
    ++stats_.evicted_idle;
  } else {
    ++stats_.evicted_head;
    ssize_t ignored = send(victim.fd, kEvicted.data(), kEvicted.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
    // Unread input would make close() reset the connection, and a reset can
    // discard the 503 before the client reads it: read what is there (a
    // few reads at most; this is best effort).
    char sink[4096];
    for (int i = 0; i < 4 && recv(victim.fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; ++i) {
    }
  }
  if (uint64_t suppressed = 0; log_limiter_.Admit(Now(), &suppressed)) {
    LOG(WARNING) << "http: " << why << " (" << conns_.size() << " connections); closed "
                 << (idle ? "the longest idle connection" : "the oldest pending request head")
                 << (suppressed > 0 ? " (and " + std::to_string(suppressed) + " more not logged)"
                                    : "");
  }
  CloseConn(victim.fd);
  return true;
}

bool HttpServer::ReadInput(Conn& c, MonoTime now) {
  char buf[kReadChunk];
  ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    CloseConn(c.fd);
    return false;
  }
  if (n == 0) {
    if (c.lingering || c.out.empty()) {
      CloseConn(c.fd);
      return false;
    }
    c.peer_done = c.closing = true;  // answer what was asked, then close
    return true;
  }
  if (c.lingering || c.closing) return true;  // input after the last request is dropped
  // A later request's head starts with its first byte; the first request's
  // counts from accept. Nothing else moves a deadline.
  if (c.in.empty() && c.requests > 0) c.head_start = now;
  c.in.append(buf, static_cast<size_t>(n));
  return true;
}

bool HttpServer::ServeInput(Conn& c, MonoTime now) {
  size_t pos = 0;
  bool at_cap = false;
  while (!c.closing && !(at_cap = c.out.over_limit())) {
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

    if (c.out.empty()) c.last_progress = now;  // output waits from now on
    std::optional<HttpRequestHead> parsed = ParseHttpRequestHead(head);
    if (!parsed) {
      AppendResponse(c.out, ErrorResponse(400, "bad request\n"), true, "close");
      c.closing = true;
      break;
    }
    const HttpRequestHead& req = *parsed;
    bool keep_alive = req.http11 ? !req.conn_close : req.conn_keep_alive;
    if (++c.requests >= options_.max_requests_per_connection) keep_alive = false;
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

bool HttpServer::Flush(Conn& c, MonoTime now) {
  bool had_output = !c.out.empty();
  size_t sent = 0;
  WriteBuffer::SendResult result = c.out.SendTo(c.fd, &sent);
  if (result == WriteBuffer::SendResult::kFailed) {
    CloseConn(c.fd);
    return false;
  }
  if (sent > 0) c.last_progress = now;
  if (c.out.over_limit()) {  // the client is not reading its responses
    ++stats_.slow_readers;
    CloseConn(c.fd);
    return false;
  }
  if (result == WriteBuffer::SendResult::kBlocked) return true;
  if (had_output) c.last_response = now;  // the idle time counts from here
  if (c.closing && !c.lingering) {
    if (c.peer_done) {
      CloseConn(c.fd);
      return false;
    }
    shutdown(c.fd, SHUT_WR);
    c.lingering = true;
    c.linger_until = now + kLingerTimeout;
  }
  return true;
}

void HttpServer::UpdateInterest(Conn& c) {
  uint32_t events = EPOLLIN;
  if (c.closing && !c.lingering) {
    events = EPOLLOUT;  // nothing more is served, so nothing more is read
  } else if (!c.lingering && !c.out.empty()) {
    events |= EPOLLOUT;
  }
  loop_.Modify(c.fd, events);
}

void HttpServer::CloseConn(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  loop_.Unwatch(fd);
  if (c.timer != 0) loop_.CancelTimer(c.timer);
  (c.in_heads ? heads_ : idle_).erase(c.pos);
  close(fd);
  conns_.erase(it);
}

}  // namespace latchd
