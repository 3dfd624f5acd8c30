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
// Limits: 1024 connections (more are accepted and closed at once), 30 s idle,
// 1 MiB of unread responses per connection (beyond that it is dropped).
// Never blocks; SIGPIPE is never raised.
//
// Thread-safety: Start, the accessors and the destructor must run on the loop
// thread (or while the loop is not running). The handler must not destroy the
// server.
// Errors: Start returns a Status naming the address and the failing call.
#ifndef LATCHD_LIB_IO_HTTP_SERVER_H_
#define LATCHD_LIB_IO_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "lib/io/event_loop.h"
#include "lib/io/http_message.h"
#include "lib/util/status.h"

namespace latchd {

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // `listen` is "HOST:PORT" with HOST an IPv4 literal or "localhost"
  // (127.0.0.1), or "[IPV6]:PORT" (e.g. "[::1]:8080"). Port 0 picks a free
  // port (see port()). No name resolution is done.
  static Result<std::unique_ptr<HttpServer>> Start(EventLoop& loop, const std::string& listen,
                                                   Handler handler);
  ~HttpServer();  // closes the listener and all connections
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }                     // the bound port
  size_t connections() const { return conns_.size(); }  // open client connections

 private:
  struct Conn;

  HttpServer(EventLoop& loop, int listen_fd, int port, Handler handler);
  void OnAcceptable();
  void OnConnEvent(int fd, uint32_t events);
  void OnConnTimer(int fd);
  void ArmTimer(Conn& c);  // (re)arms c's timer for c.deadline
  // ReadInput and Flush return false once c has been closed (and freed).
  bool ReadInput(Conn& c);
  // Answers the complete requests in c.in; true if it stopped at the output
  // cap with requests left over.
  bool ServeInput(Conn& c);
  bool Flush(Conn& c);
  void UpdateInterest(Conn& c);
  void CloseConn(int fd);

  EventLoop& loop_;
  const int listen_fd_;
  const int port_;
  Handler handler_;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;  // by fd
  EventLoop::TimerId accept_retry_timer_ = 0;              // 0: none
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_HTTP_SERVER_H_
