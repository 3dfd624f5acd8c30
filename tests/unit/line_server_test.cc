#include "lib/io/line_server.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace latchd {
namespace {

using std::chrono::seconds;
using namespace std::string_literals;

constexpr auto kDeadline = seconds(5);

// A blocking test client; every read and write gives up after 5 s.
class UnixClient {
 public:
  explicit UnixClient(const std::string& path, int rcvbuf = 0) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
      ADD_FAILURE() << "connect " << path << ": " << strerror(errno);
    }
  }
  ~UnixClient() { close(fd_); }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next line without its '\n'; "<none>" on EOF, error or timeout.
  std::string ReadLine() {
    size_t nl;
    while ((nl = buf_.find('\n')) == std::string::npos) {
      if (Fill() <= 0) return "<none>";
    }
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    return line;
  }

  // The next line if one arrives within `wait`, else "<none>".
  std::string ReadLineWithin(std::chrono::milliseconds wait) {
    if (buf_.find('\n') == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return "<none>";
    }
    return ReadLine();
  }

  // Reads until the server closes the connection: true; or the deadline: false.
  bool WaitClosed() {
    ssize_t n;
    while ((n = Fill()) > 0) {
    }
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }

  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

 private:
  ssize_t Fill() {
    char chunk[16 * 1024];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) buf_.append(chunk, static_cast<size_t>(n));
    return n;
  }

  int fd_ = -1;
  std::string buf_;
};

// A fresh directory under /tmp, removed with what is left in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/latchd_line_test_XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

class LineServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    options_.path = dir_.path() + "/ctl.sock";
    Result<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status().message();
    loop_ = std::move(loop).value();
  }
  void TearDown() override {
    StopLoop();
    server_.reset();
  }

  LineServerCallbacks Callbacks() {
    LineServerCallbacks cb;
    cb.on_line = [this](LineConn& conn, std::string_view line) {
      in_callback_ = true;
      if (line == "close") {
        conn.Close();
        conn.Send("never sent");
      } else if (line == "whoami") {
        PeerCred p = conn.peer();
        conn.Send(std::to_string(p.pid) + " " + std::to_string(p.uid) + " " +
                  std::to_string(p.gid));
      } else if (line == "flood") {
        for (int i = 0; i < 4096; ++i) conn.Send(std::string(1024, 'f'));
      } else {
        conn.Send("echo:"s + std::string(line));
      }
      in_callback_ = false;
    };
    cb.on_oversize = [](LineConn& conn) { conn.Send("ERR oversize"); };
    cb.on_close = [this](LineConn&) {
      EXPECT_FALSE(in_callback_) << "on_close ran inside another callback";
      ++closes_;
    };
    return cb;
  }

  Result<std::unique_ptr<LineServer>> StartAnother() {
    return LineServer::Start(*loop_, options_, Callbacks());
  }

  void StartServer() {
    auto server = StartAnother();
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
    thread_ = std::thread([this] { loop_->Run(); });
  }

  void StopLoop() {
    if (thread_.joinable()) {
      loop_->Stop();
      thread_.join();
    }
  }

  // clients(), read on the loop thread.
  size_t Clients() {
    std::promise<size_t> count;
    loop_->Post([&] { count.set_value(server_->clients()); });
    auto future = count.get_future();
    if (future.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "the loop does not answer";
      return SIZE_MAX;
    }
    return future.get();
  }

  bool WaitFor(const std::function<bool()>& done) {
    auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  TempDir dir_;
  LineServerOptions options_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<LineServer> server_;
  std::thread thread_;
  bool in_callback_ = false;  // loop thread only
  std::atomic<int> closes_{0};
};

TEST_F(LineServerTest, ManyLinesInOnePacketArriveInOrder) {
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send("one\ntwo\r\n\nthree\n"));
  EXPECT_EQ(c.ReadLine(), "echo:one");
  EXPECT_EQ(c.ReadLine(), "echo:two");
  EXPECT_EQ(c.ReadLine(), "echo:");
  EXPECT_EQ(c.ReadLine(), "echo:three");
}

TEST_F(LineServerTest, LineSplitAcrossWrites) {
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send("hel"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(c.Send("lo\n"));
  EXPECT_EQ(c.ReadLine(), "echo:hello");
}

TEST_F(LineServerTest, OversizeLineIsReportedAndTheConnectionStaysUsable) {
  options_.max_line = 16;
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send(std::string(16, 'k') + "\n" + std::string(100, 'x') + "\nok\n"));
  EXPECT_EQ(c.ReadLine(), "echo:" + std::string(16, 'k'));
  EXPECT_EQ(c.ReadLine(), "ERR oversize");
  EXPECT_EQ(c.ReadLine(), "echo:ok");
  // Oversize across several writes: reported once, the tail is discarded.
  ASSERT_TRUE(c.Send(std::string(40, 'y')));
  EXPECT_EQ(c.ReadLine(), "ERR oversize");
  ASSERT_TRUE(c.Send(std::string(40, 'y') + "\nok2\n"));
  EXPECT_EQ(c.ReadLine(), "echo:ok2");
}

TEST_F(LineServerTest, BinaryBytesAndNulArePassedThrough) {
  StartServer();
  UnixClient c(options_.path);
  std::string line = "a\0b\xff\x01"s;
  ASSERT_TRUE(c.Send(line + "\n"));
  EXPECT_EQ(c.ReadLine(), "echo:" + line);
}

TEST_F(LineServerTest, PeerCredentialsAreReported) {
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send("whoami\n"));
  EXPECT_EQ(c.ReadLine(), std::to_string(getpid()) + " " + std::to_string(getuid()) + " " +
                              std::to_string(getgid()));
}

TEST_F(LineServerTest, CloseFromOnLineClosesAndReportsOnce) {
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send("close\n"));
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return closes_ == 1; })) << "on_close not called";
  EXPECT_EQ(Clients(), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(closes_.load(), 1);
}

TEST_F(LineServerTest, HalfClosedClientGetsItsOutputThenIsClosed) {
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send("a\nb\nunterminated"));
  c.ShutdownWrite();
  EXPECT_EQ(c.ReadLine(), "echo:a");
  EXPECT_EQ(c.ReadLine(), "echo:b");
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return closes_ == 1; }));
}

TEST_F(LineServerTest, SlowReaderIsDroppedAtTheOutputCap) {
  options_.max_output = 64 * 1024;
  StartServer();
  UnixClient c(options_.path, /*rcvbuf=*/4096);
  ASSERT_TRUE(c.Send("flood\n"));  // 4 MiB of answers, never read
  EXPECT_TRUE(WaitFor([&] { return closes_ == 1; })) << "the slow reader was kept";
  EXPECT_EQ(Clients(), 0u);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(LineServerTest, ExcessClientsAreToldAndClosedAndNobodyIsEvicted) {
  options_.max_clients = 2;
  StartServer();
  UnixClient a(options_.path), b(options_.path);
  ASSERT_TRUE(WaitFor([&] { return Clients() == 2; }));
  {
    UnixClient extra(options_.path);
    EXPECT_EQ(extra.ReadLine(), options_.refusal_reply);
    EXPECT_TRUE(extra.WaitClosed());
  }
  EXPECT_EQ(Clients(), 2u);
  ASSERT_TRUE(a.Send("still here\n"));  // the silent ones were kept
  EXPECT_EQ(a.ReadLine(), "echo:still here");
  ASSERT_TRUE(b.Send("me too\n"));
  EXPECT_EQ(b.ReadLine(), "echo:me too");
  EXPECT_EQ(closes_.load(), 0) << "a connected client was evicted";
}

TEST_F(LineServerTest, UnfinishedLineGetsAnErrorAndIsClosed) {
  options_.line_timeout = std::chrono::milliseconds(200);
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send("one\ntw"));  // a line, and the start of another
  EXPECT_EQ(c.ReadLine(), "echo:one");
  EXPECT_EQ(c.ReadLine(), options_.line_timeout_reply);
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return closes_ == 1; }));
}

TEST_F(LineServerTest, TricklingBytesDoNotExtendTheLineDeadline) {
  options_.line_timeout = std::chrono::milliseconds(300);
  StartServer();
  UnixClient c(options_.path);
  // A byte every 50 ms for up to 10 s, never a '\n'.
  std::string got = "<none>";
  for (int i = 0; i < 200 && got == "<none>"; ++i) {
    if (!c.Send("x")) break;
    got = c.ReadLineWithin(std::chrono::milliseconds(50));
  }
  if (got == "<none>") got = c.ReadLine();
  EXPECT_EQ(got, options_.line_timeout_reply);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(LineServerTest, OversizeLineCountsAgainstTheLineDeadlineToo) {
  options_.max_line = 16;
  options_.line_timeout = std::chrono::milliseconds(200);
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send(std::string(40, 'y')));  // being discarded, never finished
  EXPECT_EQ(c.ReadLine(), "ERR oversize");
  EXPECT_EQ(c.ReadLine(), options_.line_timeout_reply);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(LineServerTest, SilentConnectionsAndLinesFinishedInTimeAreKept) {
  options_.line_timeout = std::chrono::milliseconds(1000);
  StartServer();
  UnixClient c(options_.path);
  // Silent for longer than the line deadline: a watcher may be.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  ASSERT_TRUE(c.Send("ab"));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  ASSERT_TRUE(c.Send("c\nde"));  // the first line is finished; "de" starts now
  EXPECT_EQ(c.ReadLine(), "echo:abc");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past abc's deadline
  ASSERT_TRUE(c.Send("f\n"));
  EXPECT_EQ(c.ReadLine(), "echo:def");
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // silent again
  ASSERT_TRUE(c.Send("ping\n"));
  EXPECT_EQ(c.ReadLine(), "echo:ping");
  EXPECT_EQ(closes_.load(), 0);
}

TEST_F(LineServerTest, ThousandsOfIdleClients) {
  StartServer();
  std::vector<std::unique_ptr<UnixClient>> clients;
  for (int i = 0; i < 2000; ++i) clients.push_back(std::make_unique<UnixClient>(options_.path));
  EXPECT_TRUE(WaitFor([&] { return Clients() == 2000; })) << Clients();
  ASSERT_TRUE(clients.back()->Send("ping\n"));
  EXPECT_EQ(clients.back()->ReadLine(), "echo:ping");
  clients.clear();
  EXPECT_TRUE(WaitFor([&] { return closes_ == 2000; })) << closes_.load();
  EXPECT_EQ(Clients(), 0u);
}

TEST_F(LineServerTest, LiveSocketIsNotTakenOver) {
  StartServer();
  std::promise<Status> second;  // Start belongs on the loop thread
  loop_->Post([&] { second.set_value(StartAnother().status()); });
  auto future = second.get_future();
  ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(future.get().message(), "socket " + options_.path + " is in use by another process");
  UnixClient c(options_.path);  // the first server still owns it
  ASSERT_TRUE(c.Send("hi\n"));
  EXPECT_EQ(c.ReadLine(), "echo:hi");
}

TEST_F(LineServerTest, StaleSocketIsReplaced) {
  {  // A socket file nobody listens on, as left by a crashed process.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, options_.path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    close(fd);
  }
  ASSERT_TRUE(Exists(options_.path));
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(c.Send("hi\n"));
  EXPECT_EQ(c.ReadLine(), "echo:hi");
}

TEST_F(LineServerTest, NonSocketFileIsRefused) {
  int fd = open(options_.path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  auto server = StartAnother();
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(options_.path), std::string::npos);
  EXPECT_NE(server.status().message().find("not a socket"), std::string::npos);
  EXPECT_TRUE(Exists(options_.path));
}

TEST_F(LineServerTest, MissingDirectoryIsNamed) {
  options_.path = dir_.path() + "/missing/ctl.sock";
  auto server = StartAnother();
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("directory " + dir_.path() + "/missing "),
            std::string::npos)
      << server.status().message();
  EXPECT_FALSE(Exists(dir_.path() + "/missing"));
}

TEST_F(LineServerTest, UnknownGroupIsRefused) {
  options_.group = "no-such-group-latchd-test";
  auto server = StartAnother();
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("no-such-group-latchd-test"), std::string::npos);
  EXPECT_FALSE(Exists(options_.path));
}

TEST_F(LineServerTest, ModeAndGroupAreApplied) {
  group* own = getgrgid(getgid());
  if (own == nullptr) GTEST_SKIP() << "own group has no name";
  options_.mode = 0600;
  options_.group = own->gr_name;
  StartServer();
  struct stat st;
  ASSERT_EQ(lstat(options_.path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_gid, getgid());
}

TEST_F(LineServerTest, DestructorClosesClientsAndUnlinksTheSocket) {
  StartServer();
  UnixClient c(options_.path);
  ASSERT_TRUE(WaitFor([&] { return Clients() == 1; }));
  StopLoop();
  server_.reset();
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_FALSE(Exists(options_.path));
  EXPECT_EQ(closes_.load(), 0);
}

}  // namespace
}  // namespace latchd
