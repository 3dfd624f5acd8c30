// A Unix-domain stream socket server speaking newline-terminated lines on an
// EventLoop; the transport of the agent's local control socket.
//
// Promises: on_open is called once per accepted connection, before any other
// callback for it; on_line is called once per received line, in order, without the
// '\n' and a trailing '\r'; the bytes are otherwise passed through untouched
// (NUL included). A line longer than max_line gets one on_oversize instead and
// the rest of it is discarded; the connection stays usable. A client that
// shuts its write side has its pending output flushed and is then closed (an
// unterminated last line is discarded). on_close is called exactly once per
// connection, from a loop timer (never re-entrantly inside Send(), Close() or
// another callback); it is not called for connections still open when the
// server is destroyed.
// Idle connections hold only their fd and empty buffers.
//
// Limits (LineServerOptions):
//  - A silent connection is never timed out or evicted: watchers and a
//    server's long-lived connections are legitimate, however quiet.
//  - A line that is started must be finished within line_timeout (10 s from
//    its first byte; an oversize line counts until its '\n'). Otherwise the
//    connection gets line_timeout_reply (one line) and is closed once that is
//    sent; lines completed before are answered first.
//  - At max_clients open connections, a new one is accepted, sent
//    refusal_reply (one line, best effort) and closed; the connected ones are
//    never evicted for it. A warning is logged once per episode.
//  - Unsent output is capped at max_output: Send() beyond it drops the
//    connection (a watcher that does not read never slows anyone else).
//
// Thread-safety: everything, LineConn included, must be used on the loop
// thread (or while the loop is not running). Callbacks must not destroy the
// server.
// Errors: Start returns a Status naming the path (or directory, or group)
// and what is wrong with it; I/O errors on a connection just close it.
#ifndef LATCHD_LIB_IO_LINE_SERVER_H_
#define LATCHD_LIB_IO_LINE_SERVER_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/io/event_loop.h"
#include "lib/util/log_limiter.h"
#include "lib/util/status.h"

namespace latchd {

struct PeerCred {
  int pid = -1;
  int uid = -1;
  int gid = -1;
};

// One client connection. Valid until on_close for it returns.
class LineConn {
 public:
  virtual ~LineConn() = default;
  virtual uint64_t id() const = 0;     // unique per server, never reused
  virtual PeerCred peer() const = 0;   // SO_PEERCRED at accept
  // Queues `line` plus '\n' and sends what the socket takes now (`line` may
  // hold several lines joined by '\n': they go out in one write). If the
  // unsent output would exceed max_output the connection is dropped instead
  // (closed at once; on_close follows later on the loop). No-op once closed.
  virtual void Send(std::string_view line) = 0;
  // Closes at once; pending output is discarded. on_close follows later.
  virtual void Close() = 0;
};

struct LineServerOptions {
  std::string path;               // socket file; its directory must exist
  unsigned mode = 0660;           // chmod after bind, before listen
  std::string group;              // chgrp to this group if non-empty
  size_t max_line = 4096;         // bytes, without "\r\n"
  size_t max_output = 256 * 1024; // unsent bytes per connection
  size_t max_clients = 4096;      // more are sent refusal_reply and closed
  // A started line not finished within this long closes the connection
  // after line_timeout_reply. Zero or negative: no limit.
  Duration line_timeout = std::chrono::seconds(10);
  // The lines sent (without '\n') before those closes; empty: none. The
  // defaults are error lines of the agent's protocol (docs/protocol.md).
  std::string line_timeout_reply =
      R"({"error":"request line not finished within the time limit; closing the connection"})";
  std::string refusal_reply = R"({"error":"too many clients connected; try again later"})";
};

struct LineServerCallbacks {
  std::function<void(LineConn&)> on_open;  // accepted (optional)
  std::function<void(LineConn&, std::string_view line)> on_line;
  std::function<void(LineConn&)> on_oversize;  // a line exceeded max_line
  std::function<void(LineConn&)> on_close;
};

class LineServer {
 public:
  // Binds and listens on options.path. An existing file there is replaced
  // only if it is a socket nobody accepts connections on; a live socket
  // ("in use by another process") or any other kind of file is an error.
  static Result<std::unique_ptr<LineServer>> Start(EventLoop& loop, LineServerOptions options,
                                                   LineServerCallbacks callbacks);
  // Closes all connections (without on_close) and the listener, and unlinks
  // the socket file if it is still the one this server created.
  ~LineServer();
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  size_t clients() const { return conns_.size() - closed_.size(); }  // open connections

 private:
  class Conn;

  LineServer(EventLoop& loop, LineServerOptions options, LineServerCallbacks callbacks,
             int listen_fd, dev_t dev, ino_t ino);
  void OnAcceptable();
  void OnConnEvent(uint64_t id, uint32_t events);
  void ReadInput(Conn& c);
  // Consumes `data`; true if a line was finished (so a partial line left
  // over starts now).
  bool Consume(Conn& c, std::string_view data);
  void TrackPartialLine(Conn& c, bool line_finished);
  void OnLineTimer(uint64_t id);
  bool Flush(Conn& c);  // false once c is closed
  void UpdateInterest(Conn& c);
  void Drop(Conn& c);   // closes the fd now; on_close and freeing in Reap()
  void Reap();

  EventLoop& loop_;
  const LineServerOptions options_;
  const LineServerCallbacks callbacks_;
  const int listen_fd_;
  const dev_t dev_;  // identity of the socket file we bound
  const ino_t ino_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;  // by id
  std::vector<uint64_t> closed_;  // dropped, awaiting Reap()
  EventLoop::TimerId reap_timer_ = 0;
  EventLoop::TimerId accept_retry_timer_ = 0;
  bool over_limit_logged_ = false;
  LogLimiter log_limiter_{10, 1};  // line timeouts: a burst of 10, then 1 a second
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_LINE_SERVER_H_
