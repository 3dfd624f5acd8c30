// A throw-away standalone ZooKeeper server for tests: Debian's Java server
// (/usr/share/java/zookeeper.jar) on 127.0.0.1 and a free port, with its
// zoo.cfg and data in a fresh mkdtemp directory.
//
// Start() returns once `srvr` shows "Mode:" (30 s deadline), or an error
// saying why (java missing, server exited, deadline; with the tail of the
// server's output). The destructor stops the server (SIGTERM, SIGKILL after
// 5 s), reaps it and removes the directory; the child also gets SIGKILL if the
// test process dies (PR_SET_PDEATHSIG).
//
// Thread-safety: none; use from the test's thread.
#ifndef LATCHD_TESTS_UNIT_ZK_TEST_SERVER_H_
#define LATCHD_TESTS_UNIT_ZK_TEST_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "lib/util/status.h"

namespace latchd::testing {

class ZkTestServer {
 public:
  static constexpr const char* kJar = "/usr/share/java/zookeeper.jar";

  // True if the server jar is installed (tests GTEST_SKIP otherwise).
  static bool Available();

  // tick_time_ms: the server's tickTime; session timeouts are clamped to
  // [2, 20] x tickTime.
  static Result<std::unique_ptr<ZkTestServer>> Start(int tick_time_ms = 200);

  ~ZkTestServer();
  ZkTestServer(const ZkTestServer&) = delete;
  ZkTestServer& operator=(const ZkTestServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  // "127.0.0.1:<port>"
  std::string connect_string() const;
  // The answer to a four-letter word ("srvr", "mntr", "ruok"), or "" if the
  // server does not answer within `timeout_ms`.
  std::string FourLetterWord(const std::string& word, int timeout_ms = 2000) const;

 private:
  ZkTestServer() = default;
  void Stop();
  std::string OutputTail() const;

  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
};

// A TCP forwarder from 127.0.0.1:<port()> to 127.0.0.1:<target_port>, for
// cutting a client off its server: while blocked, every open connection is
// closed and new ones are accepted and closed at once (the server itself keeps
// running, so it expires the client's session on time).
//
// Thread-safety: SetBlocked may be called from any thread. The destructor
// stops the forwarding thread and closes every socket.
class TcpProxy {
 public:
  static Result<std::unique_ptr<TcpProxy>> Start(int target_port);

  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string connect_string() const;
  void SetBlocked(bool blocked);

 private:
  struct State;
  TcpProxy() = default;
  int port_ = 0;
  std::unique_ptr<State> state_;
};

}  // namespace latchd::testing

#endif  // LATCHD_TESTS_UNIT_ZK_TEST_SERVER_H_
