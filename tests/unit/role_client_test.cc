// RoleClient against a fake agent on a Unix socket: a thread that answers
// `status`, `watch`, `ack` and `yield` lines like latchd does, and can be
// paused (like SIGSTOP: connections stay open, nothing is answered), stopped
// (like a crash) and restarted on the same path. Every wait has a deadline.
#include "lib/client/role_client.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace latchd {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Polls pred every 2 ms until it is true or `timeout` passes; returns whether
// it became true.
bool WaitFor(const std::function<bool()>& pred, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return pred();
}

class FakeAgent {
 public:
  explicit FakeAgent(std::string path) : path_(std::move(path)) {}
  ~FakeAgent() { Stop(); }

  void Start() {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(listen_fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    unlink(path_.c_str());
    ASSERT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << strerror(errno);
    ASSERT_EQ(listen(listen_fd_, 64), 0);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    stop_ = false;
    thread_ = std::thread([this] { Loop(); });
  }

  // Like a crash: every connection and the listener closed at once.
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    Wake();
    thread_.join();
    for (auto& c : conns_) close(c.fd);
    conns_.clear();
    close(listen_fd_);
    close(wake_fd_);
    unlink(path_.c_str());
  }

  // Like SIGSTOP: nothing is accepted, read or answered; connections stay open.
  void Pause(bool paused) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      paused_ = paused;
    }
    Wake();
  }

  // Changes the role and pushes a status line to every watcher before
  // returning (as the agent does on a role change).
  void Set(Role role, int64_t lease_ms, int64_t epoch = 7) {
    std::lock_guard<std::mutex> lock(mu_);
    role_ = role;
    lease_ms_ = lease_ms;
    epoch_ = epoch;
    std::string line = StatusLineLocked();
    for (auto& c : conns_) {
      if (c.watching) SendLine(c.fd, line);
    }
  }

  void SetAckAnswer(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    ack_answer_ = std::move(line);
  }

  int status_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_requests_;
  }
  int pings() {
    std::lock_guard<std::mutex> lock(mu_);
    return pings_;
  }
  int holding_conns() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (auto& c : conns_) n += c.holding;
    return n;
  }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  struct Conn {
    int fd;
    std::string in;
    bool watching = false;
    bool holding = false;
  };

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  static void SendLine(int fd, const std::string& line) {
    std::string data = line + "\n";
    (void)!send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  }

  std::string StatusLineLocked() {
    nlohmann::json j = {
        {"id", "fake"},
        {"role", std::string(RoleName(role_))},
        {"epoch", epoch_},
        {"leader", {{"id", IsClaim(role_) ? nlohmann::json("fake") : nlohmann::json(nullptr)},
                    {"address", nullptr},
                    {"epoch", epoch_}}},
        {"lease_ms", lease_ms_},
        {"zk", {{"state", "CONNECTED"}, {"session_id", "0x1"}, {"timeout_ms", 3000}}},
        {"since", 1700000000000},
        {"participants", 2},
    };
    return j.dump();
  }

  void AnswerLocked(Conn& c, const std::string& line) {
    requests_.push_back(line);
    if (line == "status") {
      ++status_requests_;
      SendLine(c.fd, StatusLineLocked());
    } else if (line == "watch") {
      c.watching = true;
      SendLine(c.fd, StatusLineLocked());
    } else if (line == "yield") {
      SendLine(c.fd, R"({"ok":true,"role":"BECOMING_PASSIVE"})");
    } else if (line == "hold") {
      c.holding = true;
      SendLine(c.fd, R"({"ok":true,"hold":true,"holds":1,"server_hold":true,"hold_timeout_ms":300})");
    } else if (line == "ping") {
      ++pings_;
      SendLine(c.fd, R"({"ok":true,"pong":true})");
    } else if (line.rfind("ack ", 0) == 0) {
      SendLine(c.fd, ack_answer_);
    } else {
      SendLine(c.fd, R"({"error":"unknown command"})");
    }
  }

  void Loop() {
    while (true) {
      std::vector<pollfd> fds;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
        fds.push_back({wake_fd_, POLLIN, 0});
        if (!paused_) {
          fds.push_back({listen_fd_, POLLIN, 0});
          for (auto& c : conns_) fds.push_back({c.fd, POLLIN, 0});
        }
      }
      poll(fds.data(), fds.size(), 1000);
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof v);
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      if (paused_) continue;
      int fd;
      while ((fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        conns_.push_back(Conn{fd, {}, false});
      }
      for (size_t i = 0; i < conns_.size();) {
        Conn& c = conns_[i];
        char buf[4096];
        ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          close(c.fd);
          conns_.erase(conns_.begin() + static_cast<long>(i));
          continue;
        }
        if (n > 0) c.in.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = c.in.find('\n')) != std::string::npos) {
          std::string line = c.in.substr(0, nl);
          c.in.erase(0, nl + 1);
          AnswerLocked(c, line);
        }
        ++i;
      }
    }
  }

  const std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::mutex mu_;
  bool stop_ = false;
  bool paused_ = false;
  Role role_ = Role::kPassive;
  int64_t lease_ms_ = 0;
  int64_t epoch_ = 7;
  std::string ack_answer_ = R"({"ok":true,"epoch":7})";
  int status_requests_ = 0;
  int pings_ = 0;
  std::vector<std::string> requests_;
  std::vector<Conn> conns_;
};

class RoleClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rc-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/s.sock";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::string dir_;
  std::string path_;
};

// Collects Watch callbacks.
class Recorder {
 public:
  std::function<void(const ClientStatus&)> Callback() {
    return [this](const ClientStatus& s) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(s);
    };
  }
  std::vector<ClientStatus> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  size_t size() { return seen().size(); }
  int unreachable() {
    int n = 0;
    for (auto& s : seen()) n += s.agent_reachable ? 0 : 1;
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<ClientStatus> seen_;
};

TEST(ParseStatusLineTest, ParsesTheAgentsStatus) {
  auto st = ParseStatusLine(
      R"({"id":"a1","role":"ACTIVE","epoch":42,"leader":{"id":"a1","address":"http://h:21000",)"
      R"("epoch":42},"lease_ms":2200,"zk":{"state":"CONNECTED","session_id":"0x1f",)"
      R"("timeout_ms":3000},"since":1700000000123,"participants":3})");
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(st->role, Role::kActive);
  EXPECT_EQ(st->epoch, 42);
  EXPECT_EQ(st->id, "a1");
  EXPECT_EQ(st->leader_id, "a1");
  EXPECT_EQ(st->leader_address, "http://h:21000");
  EXPECT_EQ(st->leader_epoch, 42);
  EXPECT_EQ(st->lease_ms, 2200);
  EXPECT_TRUE(st->zk_connected);
  EXPECT_EQ(st->zk_session_id, "0x1f");
  EXPECT_EQ(st->zk_timeout_ms, 3000);
  EXPECT_EQ(st->since_ms, 1700000000123);
  EXPECT_EQ(st->participants, 3);
  EXPECT_TRUE(st->agent_reachable);
}

TEST(ParseStatusLineTest, NullLeaderAndErrors) {
  auto st = ParseStatusLine(
      R"({"role":"PASSIVE","epoch":0,"leader":{"id":null,"address":null,"epoch":0},)"
      R"("lease_ms":0,"zk":{"state":"DISCONNECTED","session_id":"","timeout_ms":0}})");
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(st->role, Role::kPassive);
  EXPECT_EQ(st->leader_id, "");
  EXPECT_FALSE(st->zk_connected);

  auto err = ParseStatusLine(R"({"error":"unknown command \"x\""})");
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("unknown command"), std::string::npos);
  EXPECT_FALSE(ParseStatusLine("not json").ok());
  EXPECT_FALSE(ParseStatusLine(R"({"role":"LEADER"})").ok());
  EXPECT_FALSE(ParseStatusLine("[1,2]").ok());
}

TEST_F(RoleClientTest, StatusAckYieldAgainstTheFake) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 5000, 9);
  RoleClient client(path_);
  auto st = client.Status();
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(st->role, Role::kActive);
  EXPECT_EQ(st->epoch, 9);
  EXPECT_EQ(st->lease_ms, 5000);
  EXPECT_TRUE(client.Ack(9).ok());
  EXPECT_TRUE(client.Yield().ok());
  fake.SetAckAnswer(R"({"error":"ack: not the current epoch"})");
  latchd::Status refused = client.Ack(8);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("not the current epoch"), std::string::npos)
      << refused.message();
  EXPECT_FALSE(client.Ack(0).ok());
  EXPECT_FALSE(client.Request("status\nyield").ok());
  auto raw = client.Request("bogus");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, R"({"error":"unknown command"})");
  auto reqs = fake.requests();
  EXPECT_NE(std::find(reqs.begin(), reqs.end(), "ack 9"), reqs.end());
}

TEST_F(RoleClientTest, StatusErrorsWhenNoAgent) {
  RoleClient client(path_);
  auto t0 = Clock::now();
  auto st = client.Status();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find(path_), std::string::npos) << st.status().message();
  EXPECT_LT(Clock::now() - t0, milliseconds(500));
  EXPECT_FALSE(client.IsActive());
}

TEST_F(RoleClientTest, StatusTimesOutOnAPausedAgent) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Pause(true);
  RoleClient client(path_, RoleClientOptions{milliseconds(300)});
  auto t0 = Clock::now();
  auto st = client.Status();
  auto took = Clock::now() - t0;
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("within 300 ms"), std::string::npos)
      << st.status().message();
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(1500));
}

TEST_F(RoleClientTest, IsActiveWhenTheAgentSaysActiveWithALease) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 5000);
  RoleClient client(path_);
  // The first call waits for the monitor's first answer.
  EXPECT_TRUE(client.IsActive());
  EXPECT_EQ(client.ActiveEpoch(), std::optional<int64_t>(7));
  // And it stays so while the agent keeps answering (several poll rounds).
  auto end = Clock::now() + milliseconds(1200);
  while (Clock::now() < end) {
    ASSERT_TRUE(client.IsActive());
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_GE(fake.status_requests(), 2);
  // Cheap: no round trip per call.
  constexpr int kCalls = 20000;
  auto t0 = Clock::now();
  int active = 0;
  for (int i = 0; i < kCalls; ++i) active += client.IsActive() ? 1 : 0;
  auto per_call = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0) / kCalls;
  EXPECT_EQ(active, kCalls);
  EXPECT_LT(per_call, std::chrono::microseconds(50));
  std::printf("IsActive: %lld ns per call\n", static_cast<long long>(per_call.count()));
}

TEST_F(RoleClientTest, NotActiveSoonAfterTheAgentStopsAnswering) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 5000);
  RoleClient client(path_, RoleClientOptions{milliseconds(500)});
  ASSERT_TRUE(client.IsActive());
  fake.Pause(true);  // like SIGSTOP: the lease (5 s) alone would keep it ACTIVE
  auto t0 = Clock::now();
  // Bound: a poll at most every 1 s, unanswered for at most the 500 ms deadline.
  ASSERT_TRUE(WaitFor([&] { return !client.IsActive(); }, milliseconds(3000)));
  auto took = Clock::now() - t0;
  // Inherent: up to 1 s until the next poll + 500 ms without an answer; the
  // rest is slack for a loaded machine.
  EXPECT_LE(took, milliseconds(1500 + 700));
  // Stays false while paused.
  auto end = Clock::now() + milliseconds(600);
  while (Clock::now() < end) {
    ASSERT_FALSE(client.IsActive());
    std::this_thread::sleep_for(milliseconds(20));
  }
  // Comes back when the agent resumes.
  fake.Pause(false);
  EXPECT_TRUE(WaitFor([&] { return client.IsActive(); }, milliseconds(3000)));
  std::printf("paused agent -> IsActive false after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()));
}

TEST_F(RoleClientTest, NotActiveWithAZeroLease) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 0);
  RoleClient client(path_);
  EXPECT_FALSE(client.IsActive());
  ASSERT_TRUE(WaitFor([&] { return fake.status_requests() >= 2; }, milliseconds(2000)));
  auto end = Clock::now() + milliseconds(300);
  while (Clock::now() < end) {
    ASSERT_FALSE(client.IsActive());
    std::this_thread::sleep_for(milliseconds(10));
  }
}

TEST_F(RoleClientTest, LeaseBoundsTrustEvenWithoutAnyPush) {
  // ACTIVE with a short lease: true at first; once the agent stops answering,
  // false by the lease end at the latest (here before the deadline expires).
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 150);
  RoleClient client(path_, RoleClientOptions{milliseconds(5000)});
  ASSERT_TRUE(WaitFor([&] { return client.IsActive(); }, milliseconds(2000)));
  fake.Pause(true);
  auto t0 = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return !client.IsActive(); }, milliseconds(1000)));
  EXPECT_LE(Clock::now() - t0, milliseconds(150 + 250));  // + slack for a loaded machine
}

TEST_F(RoleClientTest, PushedRoleChangeIsSeenByTheVeryNextCall) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 5000);
  RoleClient client(path_);
  ASSERT_TRUE(client.IsActive());
  for (int i = 0; i < 20; ++i) {
    // Set() has written the push to the socket when it returns: IsActive must
    // not answer from its cache.
    fake.Set(Role::kBecomingPassive, 5000);
    ASSERT_FALSE(client.IsActive()) << "round " << i;
    fake.Set(Role::kBecomingActive, 5000);
    ASSERT_FALSE(client.IsActive()) << "round " << i;
    fake.Set(Role::kActive, 5000, 8 + i);
    ASSERT_TRUE(WaitFor([&] { return client.IsActive(); }, milliseconds(2000))) << "round " << i;
    EXPECT_EQ(client.ActiveEpoch(), std::optional<int64_t>(8 + i));
  }
}

TEST_F(RoleClientTest, NotActiveAtOnceWhenTheAgentGoes) {
  auto fake = std::make_unique<FakeAgent>(path_);
  fake->Start();
  fake->Set(Role::kActive, 5000);
  RoleClient client(path_);
  ASSERT_TRUE(client.IsActive());
  fake.reset();  // closes every connection
  EXPECT_FALSE(client.IsActive());
  // A new agent on the same path: the monitor reconnects.
  FakeAgent again(path_);
  again.Start();
  again.Set(Role::kActive, 5000);
  EXPECT_TRUE(WaitFor([&] { return client.IsActive(); }, milliseconds(4000)));
}

TEST_F(RoleClientTest, WatchDeliversInOrderAndReconnectsAfterARestart) {
  auto fake = std::make_unique<FakeAgent>(path_);
  fake->Start();
  fake->Set(Role::kPassive, 0, 1);
  Recorder rec;
  RoleClient client(path_);
  client.Watch(rec.Callback());
  ASSERT_TRUE(WaitFor([&] { return rec.size() >= 1; }, milliseconds(2000)));
  fake->Set(Role::kBecomingActive, 2000, 5);
  fake->Set(Role::kActive, 2000, 5);
  ASSERT_TRUE(WaitFor([&] { return rec.size() >= 3; }, milliseconds(2000)));
  {
    auto seen = rec.seen();
    EXPECT_EQ(seen[0].role, Role::kPassive);
    EXPECT_EQ(seen[1].role, Role::kBecomingActive);
    EXPECT_EQ(seen[2].role, Role::kActive);
    EXPECT_EQ(seen[2].epoch, 5);
  }

  fake.reset();  // the agent goes away
  ASSERT_TRUE(WaitFor([&] { return rec.unreachable() == 1; }, milliseconds(2000)));
  {
    auto last = rec.seen().back();
    EXPECT_FALSE(last.agent_reachable);
    EXPECT_EQ(last.role, Role::kPassive);
    EXPECT_FALSE(last.zk_connected);
  }
  // Several failed reconnects (100, 200, 400 ms...) report the outage once.
  std::this_thread::sleep_for(milliseconds(800));
  EXPECT_EQ(rec.unreachable(), 1);
  size_t before = rec.size();

  auto t_restart = Clock::now();
  FakeAgent again(path_);
  again.Start();
  again.Set(Role::kActive, 2000, 6);
  ASSERT_TRUE(WaitFor([&] { return rec.size() > before; }, milliseconds(4000)));
  auto back = rec.seen()[before];
  EXPECT_TRUE(back.agent_reachable);
  EXPECT_EQ(back.role, Role::kActive);
  EXPECT_EQ(back.epoch, 6);
  // Backoff is capped at 2 s.
  EXPECT_LE(Clock::now() - t_restart, milliseconds(2500));

  // A second outage is reported again, once.
  again.Stop();
  ASSERT_TRUE(WaitFor([&] { return rec.unreachable() == 2; }, milliseconds(2000)));
}

// The agent says hold_timeout_ms 300: the client pings every 100 ms (not the
// 1 s asked), and holds again after the agent restarts.
TEST_F(RoleClientTest, HoldPingsWithinTheAgentsTimeoutAndReconnects) {
  auto fake = std::make_unique<FakeAgent>(path_);
  fake->Start();
  RoleClient client(path_);
  EXPECT_FALSE(client.Holding());
  client.Hold(milliseconds(1000));
  ASSERT_TRUE(WaitFor([&] { return client.Holding() && fake->holding_conns() == 1; }, milliseconds(2000)));
  ASSERT_TRUE(WaitFor([&] { return fake->pings() >= 5; }, milliseconds(1500)))
      << "pings in 1.5 s: " << fake->pings();
  fake.reset();  // the agent restarts
  ASSERT_TRUE(WaitFor([&] { return !client.Holding(); }, milliseconds(2000)));
  FakeAgent again(path_);
  again.Start();
  EXPECT_TRUE(WaitFor([&] { return client.Holding() && again.holding_conns() == 1; }, milliseconds(4000)))
      << "no hold after the agent came back";
}

TEST_F(RoleClientTest, WatchReportsAnAgentThatIsNotThereAtStart) {
  Recorder rec;
  RoleClient client(path_);
  client.Watch(rec.Callback());
  ASSERT_TRUE(WaitFor([&] { return rec.size() >= 1; }, milliseconds(2000)));
  EXPECT_FALSE(rec.seen()[0].agent_reachable);
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kPassive, 0);
  ASSERT_TRUE(WaitFor([&] { return rec.size() >= 2; }, milliseconds(4000)));
  EXPECT_TRUE(rec.seen()[1].agent_reachable);
}

TEST_F(RoleClientTest, DestructorIsPromptEvenWithAPausedAgent) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 5000);
  auto client = std::make_unique<RoleClient>(path_, RoleClientOptions{milliseconds(5000)});
  Recorder rec;
  client->Watch(rec.Callback());
  ASSERT_TRUE(client->IsActive());
  ASSERT_TRUE(WaitFor([&] { return rec.size() >= 1; }, milliseconds(2000)));
  fake.Pause(true);
  std::this_thread::sleep_for(milliseconds(50));
  auto t0 = Clock::now();
  client.reset();
  EXPECT_LT(Clock::now() - t0, milliseconds(200));
}

TEST_F(RoleClientTest, CallbacksMayCallBackIntoTheClient) {
  FakeAgent fake(path_);
  fake.Start();
  fake.Set(Role::kActive, 5000, 3);
  auto client = std::make_unique<RoleClient>(path_);
  std::atomic<int> acked{0};
  RoleClient* c = client.get();
  client->Watch([&](const ClientStatus& s) {
    if (s.agent_reachable && s.role == Role::kActive && c->Ack(s.epoch).ok()) ++acked;
    (void)c->IsActive();
  });
  ASSERT_TRUE(WaitFor([&] { return acked.load() >= 1; }, milliseconds(3000)));
  auto t0 = Clock::now();
  client.reset();
  EXPECT_LT(Clock::now() - t0, milliseconds(500));
}

}  // namespace
}  // namespace latchd
