// The simulated ZooKeeper itself (tests/sim/sim_zk.h): each behaviour the
// simulations rely on, against hand-driven clients.
#include "tests/sim/sim_zk.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace latchd::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A client that records everything delivered to it, with the time.
class Recorder {
 public:
  Recorder(SimZk& zk, SimClientOptions options = {}) : zk_(zk) {
    id_ = zk.AddClient(std::move(options), [this](const ClientEvent& e) {
      events.push_back({zk_.now(), e});
    });
  }
  int id() const { return id_; }
  uint64_t Send(ZkRequestKind kind, const std::string& path, std::string data = "",
                bool watch = false) {
    ZkRequest r;
    r.id = ++next_id_;
    r.kind = kind;
    r.path = path;
    r.data = std::move(data);
    r.watch = watch;
    zk_.Submit(id_, r);
    return r.id;
  }
  std::optional<ZkResult> ResultOf(uint64_t id) const {
    for (const auto& [t, e] : events) {
      if (const auto* r = std::get_if<ZkResult>(&e); r && r->id == id) return *r;
    }
    return std::nullopt;
  }
  std::vector<ZkSessionEvent> Sessions() const {
    std::vector<ZkSessionEvent> out;
    for (const auto& [t, e] : events) {
      if (const auto* s = std::get_if<SessionChange>(&e)) out.push_back(s->event);
    }
    return out;
  }
  std::vector<std::pair<MonoTime, ZkWatchEvent>> Watches() const {
    std::vector<std::pair<MonoTime, ZkWatchEvent>> out;
    for (const auto& [t, e] : events) {
      if (const auto* w = std::get_if<ZkWatchEvent>(&e)) out.emplace_back(t, *w);
    }
    return out;
  }
  std::vector<std::pair<MonoTime, ClientEvent>> events;

 private:
  SimZk& zk_;
  int id_ = 0;
  uint64_t next_id_ = 0;
};

SimClientOptions OnServer(int server, Duration timeout = seconds(4), Duration jitter = Duration::zero()) {
  SimClientOptions o;
  o.name = "c" + std::to_string(server);
  o.server = server;
  o.session_timeout = timeout;
  o.latency.jitter = jitter;
  return o;
}

MonoTime Boundary(MonoTime t, Duration tick) { return MonoTime((t.time_since_epoch() / tick + 1) * tick); }

TEST(SimZkTest, NegotiatedTimeoutIsClampedToTwoAndTwentyTicks) {
  SimZk zk;  // tick 500 ms
  Recorder low(zk, OnServer(0, milliseconds(100)));
  Recorder high(zk, OnServer(1, seconds(60)));
  zk.Open(low.id());
  zk.Open(high.id());
  ASSERT_TRUE(zk.Settle());
  auto negotiated = [](const Recorder& r) {
    return std::get<SessionChange>(r.events.at(0).second).info.negotiated_timeout;
  };
  EXPECT_EQ(negotiated(low), seconds(1));
  EXPECT_EQ(negotiated(high), seconds(10));
  EXPECT_EQ(zk.NegotiatedTimeout(seconds(4)), seconds(4));
}

TEST(SimZkTest, SessionExpiresAtTheFirstTickBoundaryAfterLastTouchPlusTimeout) {
  SimZk zk;
  Recorder c(zk, OnServer(0));  // on the leader: touches count at once
  zk.Open(c.id());
  ASSERT_TRUE(zk.Settle());
  zk.Run(zk.now() + milliseconds(130));
  c.Send(ZkRequestKind::kGetData, "/");
  const MonoTime touched = zk.now() + milliseconds(1);  // the request's arrival
  ASSERT_TRUE(zk.Settle());
  const int64_t session = zk.session(c.id());
  zk.Abandon(c.id());  // the process dies: nothing more reaches the server
  const MonoTime expiry = Boundary(touched + seconds(4), zk.options().tick);
  ASSERT_GT(expiry, touched + seconds(4));
  zk.Run(expiry - milliseconds(1));
  EXPECT_TRUE(zk.Alive(session)) << "not before the tick boundary";
  zk.Run(expiry);
  EXPECT_FALSE(zk.Alive(session));
}

TEST(SimZkTest, FollowersReportTouchesOncePerTickSoExpiryMayComeATickLater) {
  SimZk zk;
  Recorder c(zk, OnServer(1));  // a follower
  zk.Open(c.id());
  ASSERT_TRUE(zk.Settle());
  zk.Run(zk.now() + milliseconds(130));
  c.Send(ZkRequestKind::kGetData, "/");
  const MonoTime touched = zk.now() + milliseconds(1);
  ASSERT_TRUE(zk.Settle());
  const int64_t session = zk.session(c.id());
  zk.Abandon(c.id());
  const MonoTime reported = Boundary(touched, zk.options().tick);
  const MonoTime leader_rule = Boundary(touched + seconds(4), zk.options().tick);
  const MonoTime expiry = Boundary(reported + seconds(4), zk.options().tick);
  ASSERT_GT(expiry, leader_rule);
  zk.Run(leader_rule);
  EXPECT_TRUE(zk.Alive(session)) << "the touch reached the leader only at the tick";
  zk.Run(expiry);
  EXPECT_FALSE(zk.Alive(session));
}

TEST(SimZkTest, LaggingFollowerReadsAnOlderPrefixUntilSync) {
  SimZk zk;
  Recorder c(zk, OnServer(1));
  zk.Open(c.id());
  ASSERT_TRUE(zk.Settle());
  zk.SetCommitLag(1, seconds(3));
  ASSERT_EQ(zk.Create("/x", "new"), ZkCode::kOk);
  uint64_t before = c.Send(ZkRequestKind::kGetData, "/x");
  ASSERT_TRUE(zk.Settle());
  EXPECT_EQ(c.ResultOf(before)->code, ZkCode::kNoNode) << "the follower has not applied it";
  EXPECT_FALSE(zk.TreeOf(1).Exists("/x"));
  c.Send(ZkRequestKind::kSync, "/");
  uint64_t after = c.Send(ZkRequestKind::kGetData, "/x");
  ASSERT_TRUE(zk.Settle());
  ASSERT_EQ(c.ResultOf(after)->code, ZkCode::kOk);
  EXPECT_EQ(c.ResultOf(after)->data, "new");
  EXPECT_LT(zk.now() - zk.options().start, seconds(3)) << "sync caught up without waiting for the lag";
}

TEST(SimZkTest, WatchFiresWhenTheClientsFollowerAppliesTheChange) {
  SimZk zk;
  Recorder c(zk, OnServer(2));
  zk.Open(c.id());
  ASSERT_EQ(zk.Create("/w", "1"), ZkCode::kOk);
  ASSERT_TRUE(zk.Settle());
  c.Send(ZkRequestKind::kGetData, "/w", "", /*watch=*/true);
  ASSERT_TRUE(zk.Settle());
  zk.SetCommitLag(2, seconds(2));
  const MonoTime committed = zk.now();
  ASSERT_EQ(zk.SetData("/w", "2"), ZkCode::kOk);
  zk.Run(committed + milliseconds(1900));
  EXPECT_TRUE(c.Watches().empty()) << "the follower has not applied the change yet";
  zk.Run(committed + milliseconds(2100));
  ASSERT_EQ(c.Watches().size(), 1u);
  EXPECT_EQ(c.Watches()[0].second.type, WatchEventType::kDataChanged);
  EXPECT_GE(c.Watches()[0].first, committed + seconds(2));
}

TEST(SimZkTest, AnswersOfOneSessionComeInOrderButClientsInterleave) {
  SimZk zk;
  Recorder a(zk, OnServer(1, seconds(4), milliseconds(30)));
  Recorder b(zk, OnServer(2, seconds(4), milliseconds(30)));
  zk.Open(a.id());
  zk.Open(b.id());
  ASSERT_TRUE(zk.Settle());
  a.events.clear();
  b.events.clear();
  std::vector<uint64_t> ids;
  for (int k = 0; k < 40; ++k) {
    ids.push_back(a.Send(ZkRequestKind::kGetData, "/"));
    b.Send(ZkRequestKind::kGetData, "/");
    zk.Run(zk.now() + milliseconds(2));
  }
  ASSERT_TRUE(zk.Settle());
  std::vector<uint64_t> got;
  for (const auto& [t, e] : a.events) got.push_back(std::get<ZkResult>(e).id);
  EXPECT_EQ(got, ids) << "one session's answers in FIFO order";
  int overtaken = 0;  // b's answer k arriving before a's answer k, or after a's k+1
  for (size_t k = 0; k + 1 < a.events.size(); ++k) {
    overtaken += b.events[k].first < a.events[k].first;
  }
  EXPECT_GT(overtaken, 0);
  EXPECT_LT(overtaken, 39);
}

TEST(SimZkTest, InjectedErrorsMatchKindPathClientAndCount) {
  SimZk zk;
  Recorder a(zk, OnServer(0));
  Recorder b(zk, OnServer(1));
  zk.Open(a.id());
  zk.Open(b.id());
  ASSERT_EQ(zk.Create("/p", "0"), ZkCode::kOk);
  ASSERT_TRUE(zk.Settle());
  FaultRule rule;
  rule.code = ZkCode::kNoAuth;
  rule.request = ZkRequestKind::kSetData;
  rule.path_prefix = "/p";
  rule.client = a.id();
  rule.remaining = 2;
  zk.AddFault(rule);
  FaultRule moved;
  moved.code = ZkCode::kSessionMoved;
  moved.request = ZkRequestKind::kCreate;
  zk.AddFault(moved);
  uint64_t a1 = a.Send(ZkRequestKind::kSetData, "/p", "a1");
  uint64_t a2 = a.Send(ZkRequestKind::kSetData, "/p", "a2");
  uint64_t read = a.Send(ZkRequestKind::kGetData, "/p");
  uint64_t a3 = a.Send(ZkRequestKind::kSetData, "/p", "a3");
  uint64_t b1 = b.Send(ZkRequestKind::kSetData, "/p", "b1");
  uint64_t create = b.Send(ZkRequestKind::kCreate, "/q");
  ASSERT_TRUE(zk.Settle());
  EXPECT_EQ(a.ResultOf(a1)->code, ZkCode::kNoAuth);
  EXPECT_EQ(a.ResultOf(a2)->code, ZkCode::kNoAuth);
  EXPECT_EQ(a.ResultOf(read)->code, ZkCode::kOk) << "other kinds pass";
  EXPECT_EQ(a.ResultOf(a3)->code, ZkCode::kOk) << "the rule is used up";
  EXPECT_EQ(b.ResultOf(b1)->code, ZkCode::kOk) << "other clients pass";
  EXPECT_EQ(b.ResultOf(create)->code, ZkCode::kSessionMoved);
  EXPECT_FALSE(zk.Exists("/q")) << "an injected error applies nothing";
}

TEST(SimZkTest, ConnectionLossBeforeOrAfterApplying) {
  for (FaultKind kind : {FaultKind::kLossNotApplied, FaultKind::kLossApplied}) {
    SimZk zk;
    Recorder c(zk, OnServer(1));
    zk.Open(c.id());
    ASSERT_TRUE(zk.Settle());
    const int64_t session = zk.session(c.id());
    FaultRule rule;
    rule.kind = kind;
    rule.request = ZkRequestKind::kCreate;
    rule.remaining = 1;
    zk.AddFault(rule);
    uint64_t id = c.Send(ZkRequestKind::kCreate, "/n");
    ASSERT_TRUE(zk.Settle());
    EXPECT_EQ(c.ResultOf(id)->code, ZkCode::kConnectionLoss);
    EXPECT_EQ(zk.Exists("/n"), kind == FaultKind::kLossApplied);
    using E = ZkSessionEvent;
    EXPECT_EQ(c.Sessions(), (std::vector<E>{E::kConnected, E::kConnecting, E::kConnected}))
        << "the client notices at once and reconnects";
    EXPECT_EQ(zk.session(c.id()), session);
    EXPECT_NE(zk.server_of(c.id()), 1) << "to the next server";
  }
}

TEST(SimZkTest, ExpiryIsNoticedOnlyOnReconnectAndDeletesEphemerals) {
  SimZk zk;
  Recorder owner(zk, OnServer(1));
  Recorder watcher(zk, OnServer(2));
  zk.Open(owner.id());
  zk.Open(watcher.id());
  ASSERT_TRUE(zk.Settle());
  ZkRequest eph;
  eph.id = 99;
  eph.kind = ZkRequestKind::kCreate;
  eph.path = "/e";
  eph.mode = CreateMode::kEphemeral;
  zk.Submit(owner.id(), eph);
  ASSERT_TRUE(zk.Settle());
  watcher.Send(ZkRequestKind::kGetData, "/e", "", true);
  ASSERT_TRUE(zk.Settle());
  const MonoTime cut = zk.now();
  zk.SetPartitioned(owner.id(), true);
  zk.Run(cut + milliseconds(2600));
  using E = ZkSessionEvent;
  EXPECT_EQ(owner.Sessions(), (std::vector<E>{E::kConnected})) << "silent for less than 2/3";
  zk.Run(cut + milliseconds(2800));
  EXPECT_EQ(owner.Sessions(), (std::vector<E>{E::kConnected, E::kConnecting}));
  zk.Run(cut + seconds(6));
  EXPECT_FALSE(zk.Exists("/e"));
  ASSERT_EQ(watcher.Watches().size(), 1u);
  EXPECT_EQ(watcher.Watches()[0].second.type, WatchEventType::kDeleted);
  EXPECT_EQ(owner.Sessions().size(), 2u) << "still cut off: it cannot know";
  zk.SetPartitioned(owner.id(), false);
  ASSERT_TRUE(zk.Settle());
  EXPECT_EQ(owner.Sessions(), (std::vector<E>{E::kConnected, E::kConnecting, E::kExpired}));
}

TEST(SimZkTest, KilledServerMovesItsClientsAndAKilledLeaderIsReplaced) {
  SimZk zk;
  Recorder c(zk, OnServer(0));
  zk.Open(c.id());
  ASSERT_TRUE(zk.Settle());
  const int64_t session = zk.session(c.id());
  zk.KillServer(0);
  EXPECT_NE(zk.leader(), 0);
  ASSERT_TRUE(zk.Settle());
  using E = ZkSessionEvent;
  EXPECT_EQ(c.Sessions(), (std::vector<E>{E::kConnected, E::kConnecting, E::kConnected}));
  EXPECT_EQ(zk.session(c.id()), session);
  uint64_t id = c.Send(ZkRequestKind::kCreate, "/after");
  ASSERT_TRUE(zk.Settle());
  EXPECT_EQ(c.ResultOf(id)->code, ZkCode::kOk) << "the new leader commits";
  zk.RestartServer(0);
  EXPECT_TRUE(zk.TreeOf(0).Exists("/after")) << "a restarted server catches up";
}

TEST(SimZkTest, APausedClientGetsNothingAndItsSessionCanExpire) {
  SimZk zk;
  Recorder c(zk, OnServer(0));
  zk.Open(c.id());
  ASSERT_TRUE(zk.Settle());
  uint64_t id = c.Send(ZkRequestKind::kGetData, "/");
  zk.SetPaused(c.id(), true);
  EXPECT_TRUE(zk.Settle()) << "a paused client does not hold up quiescence";
  EXPECT_FALSE(c.ResultOf(id).has_value());
  const int64_t session = zk.session(c.id());
  zk.Run(zk.now() + seconds(6));
  EXPECT_FALSE(zk.Alive(session)) << "no pings while paused";
  zk.SetPaused(c.id(), false);
  ASSERT_TRUE(zk.Settle());
  EXPECT_TRUE(c.ResultOf(id).has_value()) << "the answer waited in the socket";
  EXPECT_EQ(c.Sessions().back(), ZkSessionEvent::kExpired);
}

TEST(SimZkTest, AclRefusesWritesOfOtherIdentities) {
  SimZk zk;
  SimClientOptions anon = OnServer(0);
  SimClientOptions atlas = OnServer(1);
  atlas.identity = "digest:atlas:hash";
  Recorder a(zk, anon);
  Recorder b(zk, atlas);
  zk.Open(a.id());
  zk.Open(b.id());
  ASSERT_EQ(zk.Create("/locked", "v"), ZkCode::kOk);
  ASSERT_EQ(zk.SetAcl("/locked", {{"digest", "atlas:hash", 31}, {"world", "anyone", 1}}), ZkCode::kOk);
  ASSERT_TRUE(zk.Settle());
  uint64_t refused = a.Send(ZkRequestKind::kSetData, "/locked", "x");
  uint64_t child = a.Send(ZkRequestKind::kCreate, "/locked/c");
  uint64_t read = a.Send(ZkRequestKind::kGetData, "/locked");
  uint64_t allowed = b.Send(ZkRequestKind::kSetData, "/locked", "y");
  ASSERT_TRUE(zk.Settle());
  EXPECT_EQ(a.ResultOf(refused)->code, ZkCode::kNoAuth);
  EXPECT_EQ(a.ResultOf(child)->code, ZkCode::kNoAuth);
  EXPECT_EQ(a.ResultOf(read)->code, ZkCode::kOk);
  EXPECT_EQ(b.ResultOf(allowed)->code, ZkCode::kOk);
  EXPECT_EQ(zk.Get("/locked")->data, "y");
}

TEST(SimZkTest, ARunThatDoesNotQuiesceFailsWithATrace) {
  SimZkOptions options;
  options.settle_limit = seconds(2);
  options.max_requests_per_second = 100000;
  std::string reported;
  options.on_failure = [&](const std::string& what) { reported = what; };
  SimZk zk(options);
  int client = -1;
  uint64_t next = 0;
  auto again = [&] {  // a write loop: every answer sends the next request
    ZkRequest r;
    r.id = ++next;
    r.kind = ZkRequestKind::kSetData;
    r.path = "/loop";
    zk.Submit(client, r);
  };
  client = zk.AddClient(OnServer(1), [&](const ClientEvent& e) {
    if (std::holds_alternative<ZkResult>(e)) again();
  });
  zk.Open(client);
  ASSERT_TRUE(zk.Settle());
  ASSERT_EQ(zk.Create("/loop", ""), ZkCode::kOk);
  again();
  EXPECT_FALSE(zk.Settle());
  ASSERT_TRUE(zk.failure().has_value());
  EXPECT_NE(zk.failure()->find("did not quiesce"), std::string::npos) << *zk.failure();
  EXPECT_NE(zk.failure()->find("setData /loop -> OK"), std::string::npos) << *zk.failure();
  EXPECT_EQ(reported, *zk.failure());
}

TEST(SimZkTest, MoreRequestsPerSimulatedSecondThanTheBoundFail) {
  SimZk zk;  // 200 per client and second
  Recorder c(zk, OnServer(0));
  zk.Open(c.id());
  ASSERT_TRUE(zk.Settle());
  for (int k = 0; k < 150; ++k) {
    c.Send(ZkRequestKind::kGetData, "/");
    zk.Run(zk.now() + milliseconds(10));
  }
  EXPECT_FALSE(zk.failure().has_value()) << "100 per second is within the bound";
  for (int k = 0; k < 201; ++k) c.Send(ZkRequestKind::kGetData, "/");
  ASSERT_TRUE(zk.failure().has_value());
  EXPECT_NE(zk.failure()->find("requests within one simulated second (limit 200)"), std::string::npos)
      << *zk.failure();
}

}  // namespace
}  // namespace latchd::sim
