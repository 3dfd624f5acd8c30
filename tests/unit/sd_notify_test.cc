#include "lib/io/sd_notify.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace latchd {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

const char* const kEnvNames[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};

// Plays the service manager: a Unix datagram socket in a temp dir, and the
// notify environment set for the duration of one test (restored afterwards).
class SdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kEnvNames) {
      const char* v = std::getenv(name);
      if (v) saved_env_[name] = v;
      unsetenv(name);
    }
    char dir[] = "/tmp/sd_notify_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr) << std::strerror(errno);
    dir_ = dir;
    path_ = dir_ + "/notify";
    fd_ = Bind(path_);
    ASSERT_GE(fd_, 0);
  }

  void TearDown() override {
    if (fd_ >= 0) close(fd_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    for (const char* name : kEnvNames) {
      auto it = saved_env_.find(name);
      if (it == saved_env_.end()) {
        unsetenv(name);
      } else {
        setenv(name, it->second.c_str(), 1);
      }
    }
  }

  // A datagram socket bound to `path` ("@..." = Linux abstract namespace),
  // whose receives give up after 2 s.
  static int Bind(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len = offsetof(sockaddr_un, sun_path) + path.size();
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      ADD_FAILURE() << "bind " << path << ": " << std::strerror(errno);
      close(fd);
      return -1;
    }
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }

  // The next datagram on `fd`, or nullopt after the receive timeout.
  static std::optional<std::string> Receive(int fd) {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }
  std::optional<std::string> Receive() { return Receive(fd_); }

  // True if nothing is waiting on `fd` (the sends are synchronous: a datagram
  // that was sent is already queued when sd_notify returns).
  static bool Empty(int fd) {
    char buf[1];
    return recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  bool Empty() { return Empty(fd_); }

  void SetWatchdog(const std::string& usec, pid_t pid) {
    setenv("WATCHDOG_USEC", usec.c_str(), 1);
    setenv("WATCHDOG_PID", std::to_string(pid).c_str(), 1);
  }

  std::map<std::string, std::string> saved_env_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

TEST_F(SdNotifyTest, SendsEachNotificationAsOneDatagram) {
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  SetWatchdog("3000000", getpid());
  auto n = SystemdNotifier::FromEnvironment();
  ASSERT_NE(n, nullptr);
  EXPECT_TRUE(n->enabled());
  ASSERT_TRUE(n->WatchdogInterval().has_value());
  EXPECT_EQ(*n->WatchdogInterval(), milliseconds(1500));

  n->Ready();
  EXPECT_EQ(Receive(), "READY=1");
  n->Status("role PASSIVE, connecting to 127.0.0.1:2181");
  EXPECT_EQ(Receive(), "STATUS=role PASSIVE, connecting to 127.0.0.1:2181");
  n->Watchdog();
  EXPECT_EQ(Receive(), "WATCHDOG=1");
  n->Watchdog();
  EXPECT_EQ(Receive(), "WATCHDOG=1");
  n->Status("ACTIVE epoch 4294967302 leader host1");
  EXPECT_EQ(Receive(), "STATUS=ACTIVE epoch 4294967302 leader host1");
  n->Stopping();
  EXPECT_EQ(Receive(), "STOPPING=1");
  EXPECT_TRUE(Empty());
  // Nothing is taken out of the environment (sd_notify's unset_environment=0).
  EXPECT_NE(std::getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_NE(std::getenv("WATCHDOG_USEC"), nullptr);
}

TEST_F(SdNotifyTest, WatchdogIntervalIsHalfOfWatchdogUsec) {
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  SetWatchdog("10000000", getpid());  // WatchdogSec=10s
  EXPECT_EQ(SystemdNotifier::FromEnvironment()->WatchdogInterval(), milliseconds(5000));
  SetWatchdog("2000001", getpid());
  EXPECT_EQ(SystemdNotifier::FromEnvironment()->WatchdogInterval(), microseconds(1000000));
  // Without WATCHDOG_PID the watchdog is meant for whoever reads it.
  unsetenv("WATCHDOG_PID");
  EXPECT_EQ(SystemdNotifier::FromEnvironment()->WatchdogInterval(), microseconds(1000000));
}

TEST_F(SdNotifyTest, StatusCannotForgeOtherAssignments) {
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  auto n = SystemdNotifier::FromEnvironment();
  // A leader id read from ZooKeeper could carry anything.
  n->Status("PASSIVE epoch 7 leader evil\nREADY=1\r\tx\x7f");
  EXPECT_EQ(Receive(), "STATUS=PASSIVE epoch 7 leader evil READY=1  x ");
  EXPECT_TRUE(Empty());
}

TEST_F(SdNotifyTest, StatusIsCutAtACharacterBoundary) {
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  auto n = SystemdNotifier::FromEnvironment();
  n->Status(std::string(600, 'x'));
  EXPECT_EQ(Receive(), "STATUS=" + std::string(512, 'x'));
  // "é" is two bytes; byte 512 would be the middle of the 256th one.
  std::string text = "x";
  for (int i = 0; i < 300; ++i) text += "\xc3\xa9";
  n->Status(text);
  auto got = Receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "STATUS=" + text.substr(0, 511));
}

TEST_F(SdNotifyTest, AbstractSocketAddress) {
  std::string name = "@latchd-sd-notify-test-" + std::to_string(getpid());
  int fd = Bind(name);
  ASSERT_GE(fd, 0);
  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  auto n = SystemdNotifier::FromEnvironment();
  n->Ready();
  EXPECT_EQ(Receive(fd), "READY=1");
  close(fd);
}

TEST_F(SdNotifyTest, NoWatchdogWithoutWatchdogUsec) {
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  auto n = SystemdNotifier::FromEnvironment();
  EXPECT_TRUE(n->enabled());
  EXPECT_EQ(n->WatchdogInterval(), std::nullopt);
  n->Watchdog();
  EXPECT_TRUE(Empty());
  n->Ready();  // the rest still works
  EXPECT_EQ(Receive(), "READY=1");
}

TEST_F(SdNotifyTest, NoWatchdogWhenMeantForAnotherProcess) {
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  SetWatchdog("2000000", getpid() + 1);  // e.g. inherited from a parent
  auto n = SystemdNotifier::FromEnvironment();
  EXPECT_EQ(n->WatchdogInterval(), std::nullopt);
  n->Watchdog();
  EXPECT_TRUE(Empty());
}

TEST_F(SdNotifyTest, NoWatchdogWhenWatchdogUsecIsGarbage) {
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  SetWatchdog("ten seconds", getpid());
  EXPECT_EQ(SystemdNotifier::FromEnvironment()->WatchdogInterval(), std::nullopt);
  SetWatchdog("0", getpid());
  EXPECT_EQ(SystemdNotifier::FromEnvironment()->WatchdogInterval(), std::nullopt);
}

TEST_F(SdNotifyTest, EverythingIsANoOpWithoutNotifySocket) {
  SetWatchdog("2000000", getpid());  // ignored without a socket to ping
  auto n = SystemdNotifier::FromEnvironment();
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->enabled());
  EXPECT_EQ(n->WatchdogInterval(), std::nullopt);
  n->Ready();
  n->Status("ACTIVE epoch 1 leader me");
  n->Watchdog();
  n->Stopping();
  // NOTIFY_SOCKET set only now: the notifier decided at creation.
  setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  n->Ready();
  n->Watchdog();
  EXPECT_TRUE(Empty());
}

TEST_F(SdNotifyTest, EmptyNotifySocketDisables) {
  setenv("NOTIFY_SOCKET", "", 1);
  auto n = SystemdNotifier::FromEnvironment();
  EXPECT_FALSE(n->enabled());
  n->Ready();
  EXPECT_TRUE(Empty());
}

TEST_F(SdNotifyTest, AnUnreachableManagerIsNotAnError) {
  std::string gone = dir_ + "/nobody-listens-here";
  setenv("NOTIFY_SOCKET", gone.c_str(), 1);
  SetWatchdog("1000000", getpid());
  auto n = SystemdNotifier::FromEnvironment();
  EXPECT_TRUE(n->enabled());
  for (int i = 0; i < 10; ++i) {  // logged a few times, then rate-limited
    n->Ready();
    n->Watchdog();
    n->Status("x");
    n->Stopping();
  }
  EXPECT_TRUE(Empty());
}

}  // namespace
}  // namespace latchd
