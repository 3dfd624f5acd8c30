// The whole agent as a state machine (lib/agent/agent_core.h), against the
// in-memory ZooKeeper: every socket command and HTTP route, the order of what
// leaves the agent during a transition, the session record, signals.
#include "lib/agent/agent_core.h"

#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <deque>

#include "tests/unit/fake_zk.h"

namespace latchd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// One AgentCore wired to a FakeZk: ZooKeeper requests are answered at once,
// socket bytes are collected per connection.
using FakeZkPtr = std::shared_ptr<testing::FakeZk>;

class AgentHarness {
 public:
  explicit AgentHarness(std::string id = "host1", FakeZkPtr zk = nullptr)
      : zk_(zk ? zk : std::make_shared<testing::FakeZk>()) {
    AgentConfig c;
    c.latch.id = id;
    c.latch.advertise = "http://" + id + ":21000";
    c.zk_connect = "127.0.0.1:2181";
    c.session_timeout = seconds(4);
    c.socket_path = "/run/latchd/" + id + ".sock";
    c.journal = "/var/lib/latchd/journal";
    config = c;
  }

  void Start(AgentCoreOptions options = {}) {
    if (!options.new_uuid) {
      options.new_uuid = [this] {
        char buf[40];
        std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", ++uuids_);
        return std::string(buf);
      };
    }
    if (options.session_file.empty()) options.session_file = config.socket_path + ".session";
    core = std::make_unique<AgentCore>(config, std::move(options), metrics);
    Handle(agent::Started{});
  }

  // Feeds `e` and carries out every action (ZooKeeper at once), recording them.
  void Handle(const agent::Event& e) {
    std::deque<agent::Event> queue{e};
    while (!queue.empty()) {
      agent::Event next = queue.front();
      queue.pop_front();
      for (const agent::Action& a : core->Handle(next, Instant{now, 1'700'000'000'000})) {
        actions.push_back(Copy(a));
        if (const auto* s = std::get_if<agent::SendBytes>(&a)) {
          received[s->conn] += std::string(s->bytes) + "\n";
        } else if (std::holds_alternative<agent::ZkOpen>(a)) {
          session = zk_->NewSession(seconds(4), now);
          queue.push_back(agent::ZkSession{ZkSessionEvent::kConnected,
                                           ZkSessionInfo{session, seconds(4), "pw"}});
        } else if (const auto* z = std::get_if<agent::ZkSubmit>(&a)) {
          queue.push_back(agent::ZkAnswer{zk_->Apply(session, z->request, now)});
        } else if (std::holds_alternative<agent::ZkClose>(a)) {
          zk_->Expire(session);
        }
      }
      for (const auto& fired : zk_->TakeFiredFor(session)) queue.push_back(agent::ZkWatch{fired.event});
    }
  }

  // A socket line from connection `conn`; returns what it received for it.
  std::string Line(uint64_t conn, std::string_view line) {
    received[conn].clear();
    Handle(agent::LineReceived{conn, line});
    return received[conn];
  }
  // The last line `conn` received for `line` (a watcher gets change lines too).
  nlohmann::json Json(uint64_t conn, std::string_view line) {
    std::string got = Line(conn, line);
    got.pop_back();
    return nlohmann::json::parse(got.substr(got.rfind('\n') + 1));
  }
  HttpResponse Get(const std::string& path) {
    return core->HandleHttp(HttpRequest{"GET", path, ""}, Instant{now, 1'700'000'000'000});
  }
  // Delivers the watches another harness's requests fired, then runs timers.
  void Advance(Duration d) {
    MonoTime end = now + d;
    for (const auto& fired : zk_->TakeFiredFor(session)) Handle(agent::ZkWatch{fired.event});
    while (true) {
      auto next = core->NextDeadline();
      if (!next || *next > end) break;
      now = std::max(now, *next);
      zk_->ExpireDue(now);
      Handle(agent::TimerFired{});
    }
    now = end;
  }
  template <typename T>
  std::vector<T> All() const {
    std::vector<T> out;
    for (const auto& a : actions) {
      if (const auto* t = std::get_if<T>(&a)) out.push_back(*t);
    }
    return out;
  }
  testing::FakeZk& zk() { return *zk_; }

  AgentConfig config;
  Metrics metrics{"test"};
  std::unique_ptr<AgentCore> core;
  MonoTime now{seconds(1000)};
  int64_t session = 0;
  std::vector<agent::Action> actions;  // bytes as copies (the views die)
  std::map<uint64_t, std::string> received;

 private:
  // SendBytes views are valid only until the next call: keep copies.
  agent::Action Copy(const agent::Action& a) {
    if (const auto* s = std::get_if<agent::SendBytes>(&a)) {
      kept_.push_back(std::string(s->bytes));
      return agent::SendBytes{s->conn, kept_.back()};
    }
    return a;
  }
  FakeZkPtr zk_;
  std::deque<std::string> kept_;
  int uuids_ = 0;
};

TEST(AgentCoreTest, StartsOpensTheSessionAndBecomesActive) {
  AgentHarness h;
  h.Start();
  EXPECT_EQ(h.core->latch().RoleAt(h.now), Role::kActive);
  auto notes = h.All<agent::Notify>();
  ASSERT_GE(notes.size(), 2u);
  EXPECT_EQ(notes[0].kind, agent::Notify::kReady);
  // Every role change is journaled, one JSON line each.
  auto journal = h.All<agent::JournalAppend>();
  ASSERT_EQ(journal.size(), 2u);
  auto j = nlohmann::json::parse(journal[1].line);
  EXPECT_EQ(j["to"], "ACTIVE");
  EXPECT_EQ(j["from"], "BECOMING_ACTIVE");
  EXPECT_EQ(j["id"], "host1");
  EXPECT_EQ(journal[1].line.back(), '\n');
  // The session record names the session and the node.
  auto records = h.All<agent::SessionRecordWrite>();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().record.session_id, h.session);
  EXPECT_FALSE(records.back().record.node.empty());
  EXPECT_EQ(records.back().record.password, "pw");
}

TEST(AgentCoreTest, EverySocketCommandIsAnsweredByItsOwnHandler) {
  AgentHarness h;
  h.Start();
  h.Handle(agent::ConnOpened{7, Peer{42, 0, 0}});
  for (const CommandSpec& spec : kCommands) {
    std::string line(spec.name);
    if (spec.args == CommandArgs::kEpoch) line += " 1";
    // watch on a connection of its own: the others get no change lines.
    nlohmann::json j = h.Json(spec.command == Command::kWatch ? 8 : 7, line);
    switch (spec.command) {
      case Command::kStatus:
      case Command::kWatch:
        EXPECT_EQ(j["role"], "ACTIVE") << line;
        EXPECT_EQ(j["id"], "host1");
        break;
      case Command::kAck:
        EXPECT_EQ(j["error"], "ack: not BECOMING_ACTIVE (role ACTIVE)") << j;
        break;
      case Command::kYield:
        EXPECT_EQ(j["ok"], true);
        break;
      case Command::kLeader:
        EXPECT_EQ(j["id"], "host1");
        EXPECT_EQ(j["address"], "http://host1:21000");
        break;
      case Command::kParticipants:
        EXPECT_TRUE(j["participants"].is_array()) << j;
        break;
      case Command::kHelp:
        EXPECT_EQ(j["help"], ProtocolHelp());
        break;
      case Command::kHold:  // without --server_hold: counted, binds nothing
        EXPECT_EQ(j["hold"], true) << j;
        EXPECT_EQ(j["server_hold"], false) << j;
        EXPECT_EQ(j["holds"], 1) << j;
        break;
      case Command::kPing:
        EXPECT_EQ(j["pong"], true) << j;
        break;
    }
  }
  EXPECT_EQ(h.Json(7, "frobnicate")["error"], "unknown command \"frobnicate\"; try \"help\"");
}

TEST(AgentCoreTest, AYieldsChangeLinesReachWatchersBeforeItsZooKeeperWrite) {
  AgentHarness h;
  h.Start();
  h.Handle(agent::ConnOpened{1, Peer{}});
  h.Handle(agent::ConnOpened{2, Peer{}});
  h.Line(1, "watch");
  h.Line(2, "watch");
  h.actions.clear();
  std::string reply = h.Line(3, "yield");
  EXPECT_NE(reply.find("\"ok\":true"), std::string::npos);
  int first_delete = -1, reply_at = -1;
  std::vector<int> watch_sends;  // of the yield's change lines
  for (size_t i = 0; i < h.actions.size(); ++i) {
    if (const auto* s = std::get_if<agent::SendBytes>(&h.actions[i])) {
      if (s->conn == 3) reply_at = static_cast<int>(i);
      if (s->conn != 3 && s->bytes.find("\"role\":\"BECOMING_PASSIVE\"") != std::string::npos) {
        watch_sends.push_back(static_cast<int>(i));
      }
    }
    if (const auto* z = std::get_if<agent::ZkSubmit>(&h.actions[i])) {
      if (z->request.kind == ZkRequestKind::kDelete && first_delete < 0) first_delete = static_cast<int>(i);
    }
  }
  ASSERT_GE(first_delete, 0) << "the yield deletes the node";
  ASSERT_EQ(watch_sends.size(), 2u) << "one write per watcher";
  for (int i : watch_sends) EXPECT_LT(i, first_delete) << "watchers are told before the handover write";
  EXPECT_GT(reply_at, first_delete) << "the yield is answered after it was carried out";
  // Both steps in one write per watcher, in order.
  for (uint64_t w : {1, 2}) {
    const std::string& got = h.received[w];
    size_t bp = got.find("\"role\":\"BECOMING_PASSIVE\"");
    size_t p = got.find("\"role\":\"PASSIVE\"");
    ASSERT_NE(bp, std::string::npos) << got;
    ASSERT_NE(p, std::string::npos) << got;
    EXPECT_LT(bp, p);
  }
}

TEST(AgentCoreTest, EveryHttpRouteAnswers) {
  AgentHarness h;
  h.Start();
  for (const HttpRouteSpec& r : kHttpRoutes) {
    HttpResponse resp = h.Get(std::string(r.path));
    switch (r.route) {
      case HttpRoute::kAtlasStatus: EXPECT_EQ(resp.body, "{\"Status\":\"ACTIVE\"}"); break;
      case HttpRoute::kActive: EXPECT_EQ(resp.status, 200); break;
      case HttpRoute::kPassive: EXPECT_EQ(resp.status, 503); break;
      case HttpRoute::kLeader: EXPECT_NE(resp.body.find("\"id\":\"host1\""), std::string::npos); break;
      case HttpRoute::kStatus: EXPECT_EQ(nlohmann::json::parse(resp.body)["role"], "ACTIVE"); break;
      case HttpRoute::kHealthz: EXPECT_EQ(resp.body, "ok\n"); break;
      case HttpRoute::kMetrics: EXPECT_NE(resp.body.find("latchd_role{"), std::string::npos); break;
      case HttpRoute::kIndex:
        for (const HttpRouteSpec& other : kHttpRoutes) {
          EXPECT_NE(resp.body.find(std::string(other.path) + "  "), std::string::npos) << other.path;
        }
        break;
    }
    EXPECT_TRUE(resp.status == 200 || r.route == HttpRoute::kPassive) << r.path;
  }
  EXPECT_EQ(h.Get("/nope").status, 404);
}

TEST(AgentCoreTest, HttpStatusIsTheSocketStatusLine) {
  AgentHarness h;
  h.Start();
  h.Handle(agent::ConnOpened{7, Peer{42, 0, 0}});
  nlohmann::json sock = h.Json(7, "status");
  nlohmann::json http = nlohmann::json::parse(h.Get("/status").body);
  EXPECT_EQ(http["server"], sock["server"]);
  EXPECT_EQ(http["server"]["reason"], "no server binding configured");
  sock.erase("lease_ms");
  http.erase("lease_ms");
  EXPECT_EQ(http, sock);
}

TEST(AgentCoreTest, TheStatusAnswerRechecksTheLeaseWithoutATimer) {
  AgentHarness h;
  h.Start();
  // Nothing is handled for longer than the lease (a paused process).
  h.now += seconds(4);
  EXPECT_EQ(h.Get("/active").status, 503);
  EXPECT_EQ(nlohmann::json::parse(h.Get("/status").body)["role"], "BECOMING_PASSIVE");
}

TEST(AgentCoreTest, ASecondAgentWaitsAndTakesOverAfterAStop) {
  auto zk = std::make_shared<testing::FakeZk>();
  AgentHarness a("host1", zk), b("host2", zk);
  a.Start();
  b.Start();
  EXPECT_EQ(b.core->latch().RoleAt(b.now), Role::kPassive);
  a.Handle(agent::SignalReceived{SIGTERM, 1});
  a.Advance(kCloseAfterHandover);
  EXPECT_FALSE(a.All<agent::Exit>().empty()) << "the stop finished";
  EXPECT_FALSE(a.All<agent::SessionRecordRemove>().empty());
  b.Advance(milliseconds(500));
  EXPECT_EQ(b.core->latch().RoleAt(b.now), Role::kActive);
}

// A leader's stop that handed over (the node deleted with the mark) closes its session
// kCloseAfterHandover later, so that the closeSession commit is not ordered in front of the
// successor's sync and publish; meanwhile it is PASSIVE, sends nothing to ZooKeeper and
// ignores its answers and watches. A second signal exits at once.
TEST(AgentCoreTest, AHandedOverStopClosesTheSessionAMomentLater) {
  for (bool second_signal : {false, true}) {
    SCOPED_TRACE(second_signal ? "second signal" : "timer");
    auto zk = std::make_shared<testing::FakeZk>();
    AgentHarness a("host1", zk), b("host2", zk), c("host3", zk);
    a.Start();
    b.Start();
    c.Start();
    ASSERT_EQ(a.core->latch().RoleAt(a.now), Role::kActive);
    // A stop of an agent that did not lead hands nothing over: its session is closed at once.
    c.Handle(agent::SignalReceived{SIGTERM, 1});
    EXPECT_EQ(c.All<agent::ZkClose>().size(), 1u);
    EXPECT_EQ(c.All<agent::Exit>().size(), 1u);
    a.actions.clear();
    a.Handle(agent::SignalReceived{SIGTERM, 1});
    EXPECT_EQ(a.core->latch().RoleAt(a.now), Role::kPassive);
    EXPECT_EQ(a.All<agent::ZkSubmit>().size(), 1u) << "the step-down multi alone";
    EXPECT_TRUE(a.All<agent::ZkClose>().empty());
    EXPECT_TRUE(a.All<agent::Exit>().empty());
    ASSERT_TRUE(a.core->NextDeadline().has_value());
    EXPECT_EQ(*a.core->NextDeadline(), a.now + kCloseAfterHandover);
    // the successor takes over meanwhile, on the mark, without a claim check
    b.Advance(milliseconds(50));
    EXPECT_EQ(b.core->latch().RoleAt(b.now), Role::kActive);
    a.actions.clear();
    a.Handle(agent::ZkWatch{ZkWatchEvent{WatchEventType::kDeleted, "/latchd/active_server_info"}});
    a.Handle(agent::ZkSession{ZkSessionEvent::kConnecting, {}});
    EXPECT_TRUE(a.All<agent::ZkSubmit>().empty());
    EXPECT_TRUE(a.All<agent::ZkOpen>().empty());
    if (second_signal) {
      a.Handle(agent::SignalReceived{SIGTERM, 1});
    } else {
      a.Advance(kCloseAfterHandover - milliseconds(1));
      EXPECT_TRUE(a.All<agent::ZkClose>().empty());
      a.Advance(milliseconds(1));
    }
    EXPECT_EQ(a.All<agent::ZkClose>().size(), 1u);
    EXPECT_EQ(a.All<agent::SessionRecordRemove>().size(), 1u);
    ASSERT_EQ(a.All<agent::Exit>().size(), 1u);
    EXPECT_EQ(a.All<agent::Exit>()[0].code, 0);
    EXPECT_FALSE(a.core->NextDeadline().has_value());
  }
}

TEST(AgentCoreTest, SignalsHupIsLoggedASecondStopExitsAtOnce) {
  AgentHarness h;
  h.Start();
  h.actions.clear();
  h.Handle(agent::SignalReceived{SIGHUP, 9});
  ASSERT_EQ(h.All<agent::Log>().size(), 1u);
  EXPECT_NE(h.All<agent::Log>()[0].message.find("reload is not supported"), std::string::npos);
  EXPECT_TRUE(h.All<agent::Exit>().empty());
  EXPECT_EQ(h.core->latch().RoleAt(h.now), Role::kActive);
}

TEST(AgentCoreTest, ARestartResumesTheRecordedSessionOfItsOwnConfiguration) {
  AgentHarness h;
  SessionRecord r{0x1234, "pw", "_c_x-latch-0000000001", "host1", "127.0.0.1:2181", "/latchd"};
  AgentCoreOptions o;
  o.previous_record = Result<SessionRecord>(r);
  h.core = nullptr;
  h.config.latch.zk_root = "/latchd";
  AgentCore same(h.config, o, h.metrics);
  ASSERT_TRUE(same.resume().has_value());
  EXPECT_EQ(same.resume()->session_id, 0x1234);
  r.zk_root = "/elsewhere";
  o.previous_record = Result<SessionRecord>(r);
  AgentCore other(h.config, o, h.metrics);
  EXPECT_FALSE(other.resume().has_value()) << "a record of another configuration is ignored";
}

TEST(AgentCoreTest, UnreachableZooKeeperIsWarnedOnceAndOpenFailuresRetried) {
  AgentHarness h;
  h.core = std::make_unique<AgentCore>(h.config, AgentCoreOptions{}, h.metrics);
  auto& first = h.core->Handle(agent::Started{}, Instant{h.now, 0});
  bool opened = false;
  for (const auto& a : first) opened |= std::holds_alternative<agent::ZkOpen>(a);
  EXPECT_TRUE(opened);
  h.core->Handle(agent::ZkOpenFailed{"bad host"}, Instant{h.now, 0});
  ASSERT_TRUE(h.core->NextDeadline().has_value());
  EXPECT_EQ(*h.core->NextDeadline(), h.now + seconds(1));
  auto& retry = h.core->Handle(agent::TimerFired{}, Instant{h.now + seconds(1), 0});
  opened = false;
  for (const auto& a : retry) opened |= std::holds_alternative<agent::ZkOpen>(a);
  EXPECT_TRUE(opened);
  auto& warned = h.core->Handle(agent::TimerFired{}, Instant{h.now + seconds(4), 0});
  int warnings = 0;
  for (const auto& a : warned) {
    if (const auto* l = std::get_if<agent::Log>(&a)) warnings += l->message.find("unreachable") != std::string::npos;
  }
  EXPECT_EQ(warnings, 1);
}

}  // namespace
}  // namespace latchd

namespace latchd {
namespace {

// A harness with --server_hold (its server must hold before it stands), started.
void StartBound(AgentHarness& h) {
  h.config.server.server_hold = true;
  h.config.latch.start_healthy = false;
  h.Start();
}

TEST(AgentCoreBindingTest, ABoundAgentStandsOnlyWhileItsServerHolds) {
  auto zk = std::make_shared<testing::FakeZk>();
  AgentHarness a("host1", zk), b("host2", zk);
  for (AgentHarness* h : {&a, &b}) StartBound(*h);
  EXPECT_EQ(zk->Children("/latchd/leader_elector_path").size(), 0u) << "no server holds yet";
  nlohmann::json st = a.Json(9, "status");
  EXPECT_EQ(st["server"]["healthy"], false);
  EXPECT_EQ(st["server"]["holds"], 0);
  // The servers hold: both stand; the first is ACTIVE.
  a.Handle(agent::ConnOpened{1, Peer{100, 0, 0}});
  nlohmann::json held = a.Json(1, "hold");
  EXPECT_EQ(held["ok"], true);
  EXPECT_EQ(held["holds"], 1);
  EXPECT_EQ(held["server_hold"], true);
  b.Handle(agent::ConnOpened{1, Peer{200, 0, 0}});
  b.Line(1, "hold");
  a.Advance(milliseconds(10));
  b.Advance(milliseconds(10));
  EXPECT_EQ(a.core->latch().RoleAt(a.now), Role::kActive);
  EXPECT_EQ(a.Json(9, "status")["server"]["healthy"], true);
  EXPECT_EQ(a.Json(1, "ping")["pong"], true);
  // a's server dies: its connection closes; a hands over at once.
  a.Handle(agent::ConnClosed{1});
  EXPECT_NE(a.core->latch().RoleAt(a.now), Role::kActive);
  b.Advance(milliseconds(10));
  EXPECT_EQ(b.core->latch().RoleAt(b.now), Role::kActive);
  EXPECT_EQ(zk->Children("/latchd/leader_elector_path").size(), 1u) << "a stays out";
  HttpResponse m = a.Get("/metrics");
  EXPECT_NE(m.body.find("latchd_handovers_total{reason=\"server_unhealthy\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("latchd_server_healthy 0"), std::string::npos);
}

// Every server dies; the leader keeps leadership and says so; a standby's
// server comes back: leadership moves there and the leader's "waiting" ends,
// in its status and its metric.
TEST(AgentCoreBindingTest, ALeaderWithoutCandidateWaitsAndHandsOverWhenOneComes) {
  auto zk = std::make_shared<testing::FakeZk>();
  AgentHarness a("host1", zk), b("host2", zk);
  for (AgentHarness* h : {&a, &b}) {
    StartBound(*h);
    h->Handle(agent::ConnOpened{1, Peer{100, 0, 0}});
    h->Line(1, "hold");
  }
  a.Advance(milliseconds(10));
  b.Advance(milliseconds(10));
  ASSERT_EQ(a.core->latch().RoleAt(a.now), Role::kActive);
  b.Handle(agent::ConnClosed{1});
  a.Advance(milliseconds(10));
  a.Handle(agent::ConnClosed{1});
  a.Advance(milliseconds(10));
  EXPECT_EQ(a.core->latch().RoleAt(a.now), Role::kActive) << "nobody healthy to hand over to";
  EXPECT_EQ(a.Json(9, "status")["server"]["waiting"], true);
  EXPECT_NE(a.Get("/metrics").body.find("latchd_leader_waiting_for_candidate 1"), std::string::npos);
  b.Handle(agent::ConnOpened{2, Peer{101, 0, 0}});
  b.Line(2, "hold");
  for (int i = 0; i < 50; ++i) {  // 1 s: the leader learns of the candidate when it renews
    a.Advance(milliseconds(20));
    b.Advance(milliseconds(20));
  }
  EXPECT_EQ(b.core->latch().RoleAt(b.now), Role::kActive);
  EXPECT_NE(a.core->latch().RoleAt(a.now), Role::kActive);
  EXPECT_EQ(a.Json(9, "status")["server"]["waiting"], false);
  EXPECT_NE(a.Get("/metrics").body.find("latchd_leader_waiting_for_candidate 0"), std::string::npos);
}

TEST(AgentCoreBindingTest, ASilentHoldIsReleasedAndItsConnectionClosed) {
  AgentHarness h;
  h.config.server.server_hold = true;
  h.config.server.hold_timeout = milliseconds(500);
  h.config.latch.start_healthy = false;
  h.Start();
  h.Handle(agent::ConnOpened{1, Peer{100, 0, 0}});
  h.Line(1, "hold");
  h.Advance(milliseconds(400));
  h.Line(1, "ping");
  h.Advance(milliseconds(400));
  EXPECT_EQ(h.core->latch().RoleAt(h.now), Role::kActive) << "pings keep the hold";
  h.actions.clear();
  h.Advance(milliseconds(200));
  bool closed = false;
  for (const auto& c : h.All<agent::CloseConn>()) closed |= c.conn == 1;
  EXPECT_TRUE(closed);
  EXPECT_NE(h.received[1].find("the hold is released"), std::string::npos) << h.received[1];
  // A hung server, and no candidate: the leader keeps leadership and says so.
  EXPECT_EQ(h.core->latch().RoleAt(h.now), Role::kActive);
  nlohmann::json st = h.Json(9, "status");
  EXPECT_EQ(st["server"]["healthy"], false);
  EXPECT_EQ(st["server"]["waiting"], true);
  EXPECT_NE(h.Get("/metrics").body.find("latchd_leader_waiting_for_candidate 1"), std::string::npos);
}

TEST(AgentCoreBindingTest, AHoldWithoutServerHoldIsAcceptedAndBindsNothing) {
  AgentHarness h;
  h.Start();
  h.Handle(agent::ConnOpened{1, Peer{}});
  nlohmann::json held = h.Json(1, "hold");
  EXPECT_EQ(held["ok"], true);
  EXPECT_EQ(held["server_hold"], false);
  h.Handle(agent::ConnClosed{1});
  EXPECT_EQ(h.core->latch().RoleAt(h.now), Role::kActive);
}

TEST(AgentCoreBindingTest, ProbesAreRunAtTheirIntervalAndDecideTheHealth) {
  AgentHarness h;
  h.config.server.health_exec = "/bin/true";
  h.config.server.interval = milliseconds(200);
  h.config.server.timeout = milliseconds(100);
  h.config.server.rise = 2;
  h.config.server.fall = 2;
  h.config.latch.start_healthy = false;
  h.Start();
  int runs = 0;
  for (int i = 0; i < 3; ++i) {
    h.Advance(milliseconds(200));
    auto probes = h.All<agent::ProbeRun>();
    ASSERT_EQ(probes.size(), static_cast<size_t>(runs + 1)) << "one probe per interval";
    h.Handle(agent::ProbeFinished{probes.back().probe.id, true, "exit 0"});
    ++runs;
  }
  EXPECT_EQ(h.core->latch().RoleAt(h.now), Role::kActive);
  auto st = h.Json(9, "status");
  EXPECT_NE(st["server"]["reason"].get<std::string>().find("exec probe up"), std::string::npos) << st;
}

}  // namespace
}  // namespace latchd
