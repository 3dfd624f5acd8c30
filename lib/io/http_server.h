// A minimal non-blocking HTTP/1.1 server on an EventLoop, for the agent's
// health and metrics endpoints.
//
// Promises: the handler runs on the loop thread once per complete GET or HEAD
// request, in arrival order per connection (pipelining is answered in order).
// HEAD gets GET's headers, Content-Length included, and no body. Any other
// method gets 405 with "Allow: GET, HEAD"; a malformed request line 400; a
// request head over 8 KiB 431; a request with a body (Content-Length > 0 or
// Transfer-Encoding) 400. After 400/431, or a 405 for a request with a body,
// the connection is closed. Every response carries Content-Type,
// Content-Length and "Cache-Control: no-store". HTTP/1.1 connections stay open
// unless "Connection: close"; HTTP/1.0 ones close unless "keep-alive".
// Never blocks; SIGPIPE is never raised.
//
// Limits (HttpServerOptions), so that slow or idle clients cannot take the
// health check's place:
//  - Head deadline: a request head must be complete within head_timeout
//    (2 s), counted from accept for a connection's first request and from
//    the first byte of the head for later ones. Bytes arriving meanwhile do
//    not extend it. On expiry the connection gets 408 and is closed (also one
//    that has sent nothing since accept).
//  - Idle deadline: idle_timeout (30 s) from the last complete response (its
//    last byte handed to the kernel), not from any byte received: a head
//    begun late must still finish by then (408 if not); an idle connection is
//    closed silently. While a response waits for the client to read it, the
//    same time counts from the last byte the client took.
//  - max_requests_per_connection (10,000): the last one is answered with
//    "Connection: close".
//  - max_output (1 MiB) of unread responses per connection: answers are
//    produced at most that far ahead of the client, and a client that leaves
//    more unread is dropped.
//  - max_connections (4,096; at most half of RLIMIT_NOFILE's soft limit at
//    Start, so that ZooKeeper and the socket keep descriptors). At the limit
//    a new connection is never refused: the one that least deserves its slot
//    is closed for it, in this order: (1) idle keep-alive connections (and
//    those only draining a response or lingering after their last one), the
//    longest idle first, closed silently; (2) connections with a request
//    head pending, the one whose head has been pending longest first, sent a
//    best-effort 503. When accept() fails for want of descriptors (EMFILE,
//    ENFILE), a connection is evicted by the same rule and accept retried;
//    only with no connection left to evict are accepts paused (100 ms).
//    A newcomer starts with a fresh head deadline, so under a flood of slow
//    clients each one holds a slot for at most head_timeout, and a client
//    that sends its request at once (a health check) is answered.
//
// Thread-safety: Start, the accessors and the destructor must run on the loop
// thread (or while the loop is not running). The handler must not destroy the
// server.
// Errors: Start returns a Status naming the address and the failing call.
#ifndef LATCHD_LIB_IO_HTTP_SERVER_H_
#define LATCHD_LIB_IO_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "lib/io/event_loop.h"
#include "lib/io/http_message.h"
#include "lib/util/log_limiter.h"
#include "lib/util/status.h"

namespace latchd {

struct HttpServerOptions {
  size_t max_connections = 4096;  // also at most half of RLIMIT_NOFILE
  Duration head_timeout = std::chrono::seconds(2);
  Duration idle_timeout = std::chrono::seconds(30);
  size_t max_requests_per_connection = 10000;
  size_t max_output = 1024 * 1024;  // unread response bytes per connection
};

// What the limits did, since Start.
struct HttpServerStats {
  uint64_t head_timeouts = 0;   // 408: a head not complete in time
  uint64_t idle_timeouts = 0;   // idle connections closed
  uint64_t evicted_idle = 0;    // closed at the limit: idle (class 1)
  uint64_t evicted_head = 0;    // closed at the limit: head pending (class 2)
  uint64_t slow_readers = 0;    // dropped: over max_output, or no progress
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // `listen` is "HOST:PORT" with HOST an IPv4 literal or "localhost"
  // (127.0.0.1), or "[IPV6]:PORT" (e.g. "[::1]:8080"). Port 0 picks a free
  // port (see port()). No name resolution is done.
  static Result<std::unique_ptr<HttpServer>> Start(EventLoop& loop, const std::string& listen,
                                                   Handler handler,
                                                   HttpServerOptions options = {});
  ~HttpServer();  // closes the listener and all connections
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }                     // the bound port
  size_t connections() const { return conns_.size(); }  // open client connections
  // The connection limit in force: options.max_connections, or less (see
  // the header comment).
  size_t max_connections() const { return max_connections_; }
  const HttpServerStats& stats() const { return stats_; }

 private:
  struct Conn;
  using ConnList = std::list<Conn*>;

  HttpServer(EventLoop& loop, int listen_fd, int port, Handler handler, HttpServerOptions options,
             size_t max_connections);
  void OnAcceptable();
  void OnConnEvent(int fd, uint32_t events);
  void OnConnTimer(int fd);
  // ReadInput and Flush return false once c has been closed (and freed).
  bool ReadInput(Conn& c, MonoTime now);
  // Answers the complete requests in c.in; true if it stopped at the output
  // cap with requests left over.
  bool ServeInput(Conn& c, MonoTime now);
  bool Flush(Conn& c, MonoTime now);
  void UpdateInterest(Conn& c);
  // After every change of c: its eviction class and place, and its timer.
  void Reschedule(Conn& c);
  MonoTime Deadline(const Conn& c) const;
  bool HeadPending(const Conn& c) const;
  // Closes the connection that least deserves its slot; false if none.
  bool EvictOne(const char* why);
  void CloseConn(int fd);

  EventLoop& loop_;
  const int listen_fd_;
  const int port_;
  Handler handler_;
  const HttpServerOptions options_;
  const size_t max_connections_;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;  // by fd
  // Eviction classes, each in eviction order (front first): idle by the
  // time it became idle or last made progress; heads by head start.
  ConnList idle_;
  ConnList heads_;
  EventLoop::TimerId accept_retry_timer_ = 0;  // 0: none
  HttpServerStats stats_;
  LogLimiter log_limiter_{10, 1};  // evictions: a burst of 10, then 1 a second
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_HTTP_SERVER_H_
