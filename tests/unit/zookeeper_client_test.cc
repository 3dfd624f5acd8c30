// MakeZookeeperClient against a real ZooKeeper server started by the test.
#include "lib/zk/zookeeper_client.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/zk/acl.h"
#include "tests/unit/zk_test_server.h"

namespace latchd {
namespace {

using ::testing::HasSubstr;
using std::chrono::milliseconds;
using testing::TcpProxy;
using testing::ZkTestServer;

constexpr milliseconds kWait{15000};

// Plays the agent's event loop: `post` queues, the test thread drains.
class Recorder {
 public:
  ZkClientCallbacks Callbacks() {
    ZkClientCallbacks cb;
    cb.post = [this](std::function<void()> fn) {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
      cv_.notify_all();
    };
    cb.on_session = [this](ZkSessionEvent event, ZkSessionInfo info) {
      sessions.emplace_back(event, info);
    };
    cb.on_watch = [this](const ZkWatchEvent& event) { watches.push_back(event); };
    cb.on_result = [this](ZkResult result) {
      ++result_count[result.id];
      answer_order.push_back(result.id);
      results[result.id] = std::move(result);
    };
    return cb;
  }

  // Runs posted functions on this thread until `done()` or the deadline.
  bool RunUntil(const std::function<bool()>& done, milliseconds timeout = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (!cv_.wait_until(lock, deadline, [this] { return !queue_.empty(); })) return done();
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
    return true;
  }

  // Runs whatever arrives during `period`.
  void RunFor(milliseconds period) {
    RunUntil([] { return false; }, period);
  }

  std::vector<std::pair<ZkSessionEvent, ZkSessionInfo>> sessions;
  std::vector<ZkWatchEvent> watches;
  std::map<uint64_t, ZkResult> results;
  std::map<uint64_t, int> result_count;
  std::vector<uint64_t> answer_order;  // request ids, as answered

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

// One client plus its recorder.
class Session {
 public:
  explicit Session(ZkClientOptions options) {
    client_ = MakeZookeeperClient(std::move(options), recorder_.Callbacks());
  }

  Status Open() { return client_->Open(); }

  // Waits for kConnected; returns its session info.
  ZkSessionInfo WaitConnected() {
    size_t seen = recorder_.sessions.size();
    bool ok = recorder_.RunUntil([&] {
      for (size_t i = seen; i < recorder_.sessions.size(); ++i) {
        if (recorder_.sessions[i].first == ZkSessionEvent::kConnected) return true;
      }
      return false;
    });
    EXPECT_TRUE(ok) << "no kConnected within " << kWait.count() << " ms";
    for (size_t i = seen; i < recorder_.sessions.size(); ++i) {
      if (recorder_.sessions[i].first == ZkSessionEvent::kConnected) {
        return recorder_.sessions[i].second;
      }
    }
    return {};
  }

  uint64_t Submit(ZkRequest request) {
    request.id = next_id_++;
    client_->Submit(request);
    return request.id;
  }

  ZkResult Wait(uint64_t id) {
    bool ok = recorder_.RunUntil([&] { return recorder_.results.count(id) > 0; });
    EXPECT_TRUE(ok) << "no result for request " << id;
    if (!ok) {
      ZkResult none;
      none.code = ZkCode::kOther;
      return none;
    }
    return recorder_.results[id];
  }

  ZkResult Call(ZkRequest request) { return Wait(Submit(std::move(request))); }

  ZkResult Create(const std::string& path, const std::string& data, CreateMode mode) {
    ZkRequest r;
    r.kind = ZkRequestKind::kCreate;
    r.path = path;
    r.data = data;
    r.mode = mode;
    return Call(r);
  }
  ZkResult Simple(ZkRequestKind kind, const std::string& path, bool watch = false,
                  const std::string& data = "") {
    ZkRequest r;
    r.kind = kind;
    r.path = path;
    r.watch = watch;
    r.data = data;
    return Call(r);
  }

  ZkClient& client() { return *client_; }
  Recorder& recorder() { return recorder_; }

 private:
  Recorder recorder_;  // outlives client_
  std::unique_ptr<ZkClient> client_;
  uint64_t next_id_ = 1;
};

class ZookeeperClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!ZkTestServer::Available()) return;
    auto server = ZkTestServer::Start(/*tick_time_ms=*/200);
    if (server.ok()) {
      server_ = std::move(server).value().release();
    } else {
      start_error_ = new std::string(server.status().message());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (!ZkTestServer::Available()) {
      GTEST_SKIP() << ZkTestServer::kJar << " is not installed (Debian package zookeeper)";
    }
    ASSERT_NE(server_, nullptr) << "ZooKeeper test server did not start: "
                                << (start_error_ != nullptr ? *start_error_ : "?");
  }

  ZkClientOptions Options() const {
    ZkClientOptions o;
    o.connect = server_->connect_string();
    o.session_timeout = milliseconds(4000);
    return o;
  }

  static ZkTestServer* server_;
  static std::string* start_error_;
};

ZkTestServer* ZookeeperClientTest::server_ = nullptr;
std::string* ZookeeperClientTest::start_error_ = nullptr;

TEST(ZookeeperClientNoServerTest, OpenFailsOnEmptyConnectString) {
  Recorder recorder;
  ZkClientOptions options;
  options.connect = "";
  auto client = MakeZookeeperClient(options, recorder.Callbacks());
  Status s = client->Open();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("zookeeper_init(\"\")"));
  EXPECT_THAT(s.message(), HasSubstr("errno"));
}

TEST(ZookeeperClientNoServerTest, SubmitWithoutHandleAnswersInvalidState) {
  Recorder recorder;
  ZkClientOptions options;
  options.connect = "127.0.0.1:1";
  auto client = MakeZookeeperClient(options, recorder.Callbacks());
  ZkRequest r;
  r.id = 7;
  r.kind = ZkRequestKind::kGetData;
  r.path = "/x";
  client->Submit(r);
  ASSERT_TRUE(recorder.RunUntil([&] { return recorder.results.count(7) > 0; }));
  EXPECT_EQ(recorder.results[7].code, ZkCode::kInvalidState);
}

TEST_F(ZookeeperClientTest, ConnectCreateWatchCheck) {
  Session a(Options());
  ASSERT_TRUE(a.Open().ok());
  ZkSessionInfo info = a.WaitConnected();
  EXPECT_NE(info.session_id, 0);
  EXPECT_GT(info.negotiated_timeout.count(), 0);
  EXPECT_LE(info.negotiated_timeout.count(), 4000);

  ZkResult parent = a.Create("/latch_basic", "", CreateMode::kPersistent);
  ASSERT_EQ(parent.code, ZkCode::kOk) << ZkCodeName(parent.code);
  EXPECT_EQ(parent.created_path, "/latch_basic");
  EXPECT_EQ(parent.stat.ephemeral_owner, 0);

  const std::string prefix = "/latch_basic/_c_0f6b5f07-8f0e-4c0e-9d7e-1d2f3a4b5c6d-latch-";
  ZkResult node = a.Create(prefix, "server1", CreateMode::kEphemeralSequential);
  ASSERT_EQ(node.code, ZkCode::kOk) << ZkCodeName(node.code);
  ASSERT_EQ(node.created_path.size(), prefix.size() + 10) << node.created_path;
  EXPECT_EQ(node.created_path.substr(0, prefix.size()), prefix);
  EXPECT_TRUE(std::regex_match(node.created_path.substr(prefix.size()), std::regex("[0-9]{10}")))
      << node.created_path;
  EXPECT_EQ(node.stat.ephemeral_owner, info.session_id);

  ZkResult dup = a.Create("/latch_basic", "", CreateMode::kPersistent);
  EXPECT_EQ(dup.code, ZkCode::kNodeExists);

  ZkResult children = a.Simple(ZkRequestKind::kGetChildren, "/latch_basic");
  ASSERT_EQ(children.code, ZkCode::kOk);
  ASSERT_EQ(children.children.size(), 1u);
  EXPECT_EQ("/latch_basic/" + children.children[0], node.created_path);

  // A data watch, fired by a delete from a second client.
  ZkResult data = a.Simple(ZkRequestKind::kGetData, node.created_path, /*watch=*/true);
  ASSERT_EQ(data.code, ZkCode::kOk);
  EXPECT_EQ(data.data, "server1");
  EXPECT_EQ(data.stat.ephemeral_owner, info.session_id);
  // Watching the same node twice leaves one watch.
  ASSERT_EQ(a.Simple(ZkRequestKind::kGetData, node.created_path, true).code, ZkCode::kOk);

  ZkResult check = a.Simple(ZkRequestKind::kCheck, node.created_path);
  EXPECT_EQ(check.code, ZkCode::kOk) << ZkCodeName(check.code);
  ZkResult check_missing = a.Simple(ZkRequestKind::kCheck, "/latch_basic/missing");
  EXPECT_EQ(check_missing.code, ZkCode::kNoNode) << ZkCodeName(check_missing.code);
  ZkRequest bad_version;
  bad_version.kind = ZkRequestKind::kCheck;
  bad_version.path = node.created_path;
  bad_version.version = 5;
  EXPECT_EQ(a.Call(bad_version).code, ZkCode::kBadVersion);
  EXPECT_EQ(a.Simple(ZkRequestKind::kCheck, "no-slash").code, ZkCode::kBadArguments);
  // A sync is answered (on an existing path or not), in order with a read
  // submitted right behind it.
  ZkRequest sync;
  sync.kind = ZkRequestKind::kSync;
  sync.path = "/latch_basic";
  ZkRequest list;
  list.kind = ZkRequestKind::kGetChildren;
  list.path = "/latch_basic";
  uint64_t sync_id = a.Submit(sync);
  uint64_t list_id = a.Submit(list);
  ZkResult listed = a.Wait(list_id);
  EXPECT_EQ(listed.children.size(), 1u);
  ZkResult synced = a.Wait(sync_id);
  EXPECT_EQ(synced.code, ZkCode::kOk) << ZkCodeName(synced.code);
  auto& order = a.recorder().answer_order;
  EXPECT_LT(std::find(order.begin(), order.end(), sync_id) - order.begin(),
            std::find(order.begin(), order.end(), list_id) - order.begin());
  EXPECT_EQ(a.Simple(ZkRequestKind::kSync, "/latch_basic/missing").code, ZkCode::kOk);
  EXPECT_EQ(a.Simple(ZkRequestKind::kSync, "no-slash").code, ZkCode::kBadArguments);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "no-slash").code, ZkCode::kBadArguments);

  Session b(Options());
  ASSERT_TRUE(b.Open().ok());
  ZkSessionInfo info_b = b.WaitConnected();
  EXPECT_NE(info_b.session_id, info.session_id);
  ZkResult del = b.Simple(ZkRequestKind::kDelete, node.created_path);
  ASSERT_EQ(del.code, ZkCode::kOk) << ZkCodeName(del.code);

  ASSERT_TRUE(a.recorder().RunUntil([&] { return !a.recorder().watches.empty(); }))
      << "no watch event";
  a.recorder().RunFor(milliseconds(300));
  ASSERT_EQ(a.recorder().watches.size(), 1u);
  EXPECT_EQ(a.recorder().watches[0].type, WatchEventType::kDeleted);
  EXPECT_EQ(a.recorder().watches[0].path, node.created_path);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, node.created_path).code, ZkCode::kNoNode);

  // SetData and versions.
  ZkResult set = a.Simple(ZkRequestKind::kSetData, "/latch_basic", false, "v1");
  ASSERT_EQ(set.code, ZkCode::kOk);
  EXPECT_EQ(set.stat.version, 1);
  ZkRequest stale;
  stale.kind = ZkRequestKind::kSetData;
  stale.path = "/latch_basic";
  stale.data = "v2";
  stale.version = 0;
  EXPECT_EQ(a.Call(stale).code, ZkCode::kBadVersion);
  EXPECT_EQ(a.Simple(ZkRequestKind::kDelete, "/latch_basic").code, ZkCode::kOk);

  // One session event of each kind so far, one result per request.
  ASSERT_EQ(a.recorder().sessions.size(), 1u);
  for (const auto& [id, count] : a.recorder().result_count) EXPECT_EQ(count, 1) << id;
}

// A guarded write (multi {check(guard), op}) is applied only while the guard
// exists, and says whether the guard or the operation failed.
TEST_F(ZookeeperClientTest, GuardedWritesApplyOnlyWhileTheGuardExists) {
  Session a(Options());
  ASSERT_TRUE(a.Open().ok());
  a.WaitConnected();
  ASSERT_EQ(a.Create("/guarded", "", CreateMode::kPersistent).code, ZkCode::kOk);
  ASSERT_EQ(a.Create("/guarded/own", "", CreateMode::kEphemeral).code, ZkCode::kOk);
  auto guarded = [](ZkRequestKind kind, const std::string& path, const std::string& data,
                    int32_t version = -1) {
    ZkRequest r;
    r.kind = kind;
    r.path = path;
    r.data = data;
    r.mode = CreateMode::kEphemeral;
    r.version = version;
    r.guard = "/guarded/own";
    return r;
  };

  // The answer's code and whether it was the guard that failed.
  auto expect = [&a](const ZkRequest& r, ZkCode code, bool guard_failed) {
    ZkResult got = a.Call(r);
    EXPECT_EQ(got.code, code) << r.path << ": " << ZkCodeName(got.code);
    EXPECT_EQ(got.guard_failed, guard_failed) << r.path;
    return got;
  };
  ZkResult created =
      expect(guarded(ZkRequestKind::kCreate, "/guarded/info", "http://a"), ZkCode::kOk, false);
  EXPECT_EQ(created.created_path, "/guarded/info");
  // The operation's own failure is not the guard's.
  expect(guarded(ZkRequestKind::kCreate, "/guarded/info", "http://a"), ZkCode::kNodeExists, false);
  ZkResult set =
      expect(guarded(ZkRequestKind::kSetData, "/guarded/info", "http://b", 0), ZkCode::kOk, false);
  EXPECT_EQ(set.stat.version, 1);
  expect(guarded(ZkRequestKind::kSetData, "/guarded/info", "http://c", 0), ZkCode::kBadVersion,
         false);
  expect(guarded(ZkRequestKind::kSetData, "/guarded/none", "x"), ZkCode::kNoNode, false);

  // Without the guard nothing is applied, and the answer says so.
  ASSERT_EQ(a.Simple(ZkRequestKind::kDelete, "/guarded/own").code, ZkCode::kOk);
  expect(guarded(ZkRequestKind::kSetData, "/guarded/info", "http://d"), ZkCode::kNoNode, true);
  expect(guarded(ZkRequestKind::kDelete, "/guarded/info", ""), ZkCode::kNoNode, true);
  ZkResult info = a.Simple(ZkRequestKind::kGetData, "/guarded/info");
  ASSERT_EQ(info.code, ZkCode::kOk);
  EXPECT_EQ(info.data, "http://b");
  ASSERT_EQ(a.Simple(ZkRequestKind::kDelete, "/guarded/info").code, ZkCode::kOk);
  expect(guarded(ZkRequestKind::kCreate, "/guarded/info", "http://e"), ZkCode::kNoNode, true);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded/info").code, ZkCode::kNoNode);

  // guard_delete: both deleted in one write, or neither.
  ASSERT_EQ(a.Create("/guarded/own", "", CreateMode::kEphemeral).code, ZkCode::kOk);
  ASSERT_EQ(a.Create("/guarded/info", "x", CreateMode::kEphemeral).code, ZkCode::kOk);
  ZkRequest both = guarded(ZkRequestKind::kDelete, "/guarded/info", "", 7);
  both.guard_delete = true;
  expect(both, ZkCode::kBadVersion, false);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded/own").code, ZkCode::kOk);
  both.version = 0;
  expect(both, ZkCode::kOk, false);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded/own").code, ZkCode::kNoNode);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded/info").code, ZkCode::kNoNode);

  // A mark: set with the deletes in the same write, or nothing is applied.
  ASSERT_EQ(a.Create("/guarded/own", "", CreateMode::kEphemeral).code, ZkCode::kOk);
  ASSERT_EQ(a.Create("/guarded/info", "x", CreateMode::kEphemeral).code, ZkCode::kOk);
  both.version = 0;
  both.mark_path = "/guarded/none";  // a missing mark node fails the whole write
  expect(both, ZkCode::kNoNode, false);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded/own").code, ZkCode::kOk);
  both.mark_path = "/guarded";
  both.mark_data = "own";
  expect(both, ZkCode::kOk, false);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded/own").code, ZkCode::kNoNode);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded").data, "own");
  ASSERT_EQ(a.Create("/guarded/own", "", CreateMode::kEphemeral).code, ZkCode::kOk);
  ZkRequest marked;  // without a guard: {delete(path), set(mark)}
  marked.kind = ZkRequestKind::kDelete;
  marked.path = "/guarded/own";
  marked.mark_path = "/guarded";
  marked.mark_data = "again";
  expect(marked, ZkCode::kOk, false);
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/guarded").data, "again");
  expect(marked, ZkCode::kNoNode, false);
  marked.kind = ZkRequestKind::kCreate;  // only deletes carry a mark
  EXPECT_EQ(a.Call(marked).code, ZkCode::kBadArguments);

  // Only writes can be guarded; bad guard paths are refused.
  ZkResult read = a.Call(guarded(ZkRequestKind::kGetData, "/guarded", ""));
  EXPECT_EQ(read.code, ZkCode::kBadArguments);
  ZkRequest bad = guarded(ZkRequestKind::kCreate, "/guarded/x", "");
  bad.guard = "no-slash";
  EXPECT_EQ(a.Call(bad).code, ZkCode::kBadArguments);
  EXPECT_EQ(a.Simple(ZkRequestKind::kDelete, "/guarded").code, ZkCode::kOk);
  for (const auto& [id, count] : a.recorder().result_count) EXPECT_EQ(count, 1) << id;
}

TEST_F(ZookeeperClientTest, CloseDropsOldHandleAndReopenGetsNewSession) {
  Session a(Options());
  ASSERT_TRUE(a.Open().ok());
  ZkSessionInfo first = a.WaitConnected();
  ASSERT_EQ(a.Create("/latch_reopen", "", CreateMode::kPersistent).code, ZkCode::kOk);
  ZkResult eph = a.Create("/latch_reopen/e", "", CreateMode::kEphemeral);
  ASSERT_EQ(eph.code, ZkCode::kOk);

  // Requests in flight at Close are dropped, as is everything else of the
  // old handle.
  ZkRequest r;
  r.kind = ZkRequestKind::kGetChildren;
  r.path = "/latch_reopen";
  uint64_t in_flight = a.Submit(r);
  a.client().Close();
  a.recorder().RunFor(milliseconds(300));
  EXPECT_EQ(a.recorder().results.count(in_flight), 0u);
  size_t sessions_after_close = a.recorder().sessions.size();

  // Submitting without a handle answers kInvalidState.
  EXPECT_EQ(a.Call(r).code, ZkCode::kInvalidState);

  ASSERT_TRUE(a.Open().ok());
  ZkSessionInfo second = a.WaitConnected();
  EXPECT_NE(second.session_id, first.session_id);
  EXPECT_EQ(a.recorder().sessions.size(), sessions_after_close + 1);
  // The ephemeral node went with the closed session.
  ZkResult children = a.Simple(ZkRequestKind::kGetChildren, "/latch_reopen");
  ASSERT_EQ(children.code, ZkCode::kOk);
  EXPECT_TRUE(children.children.empty());

  // Open() on an open client replaces the handle.
  uint64_t in_flight2 = a.Submit(r);
  ASSERT_TRUE(a.Open().ok());
  ZkSessionInfo third = a.WaitConnected();
  EXPECT_NE(third.session_id, second.session_id);
  a.recorder().RunFor(milliseconds(200));
  EXPECT_EQ(a.recorder().results.count(in_flight2), 0u);
  EXPECT_EQ(a.Simple(ZkRequestKind::kDelete, "/latch_reopen").code, ZkCode::kOk);
}

TEST_F(ZookeeperClientTest, DigestAclProtectsNodesButWorldCanRead) {
  const std::string digest = DigestId("latchd", "s3cret");
  auto configured = ParseAclList("digest:" + digest);
  ASSERT_TRUE(configured.ok()) << configured.status().message();

  ZkClientOptions owner_options = Options();
  owner_options.acl = AclForCreate(*configured);
  owner_options.auth = std::make_pair(std::string("digest"), std::string("latchd:s3cret"));
  Session owner(owner_options);
  ASSERT_TRUE(owner.Open().ok());
  owner.WaitConnected();
  ASSERT_EQ(owner.Create("/latch_acl", "", CreateMode::kPersistent).code, ZkCode::kOk);
  ASSERT_EQ(owner.Create("/latch_acl/active_server_info", "http://a:21000",
                         CreateMode::kEphemeral)
                .code,
            ZkCode::kOk);

  Session stranger(Options());  // no auth
  ASSERT_TRUE(stranger.Open().ok());
  stranger.WaitConnected();
  // delete needs DELETE on the parent, setData WRITE on the node.
  EXPECT_EQ(stranger.Simple(ZkRequestKind::kDelete, "/latch_acl/active_server_info").code,
            ZkCode::kNoAuth);
  EXPECT_EQ(stranger
                .Simple(ZkRequestKind::kSetData, "/latch_acl/active_server_info", false,
                        "http://evil:1")
                .code,
            ZkCode::kNoAuth);
  EXPECT_EQ(stranger.Create("/latch_acl/other", "", CreateMode::kPersistent).code,
            ZkCode::kNoAuth);
  ZkResult read = stranger.Simple(ZkRequestKind::kGetData, "/latch_acl/active_server_info");
  ASSERT_EQ(read.code, ZkCode::kOk);
  EXPECT_EQ(read.data, "http://a:21000");

  // The owner can do all of it.
  EXPECT_EQ(owner
                .Simple(ZkRequestKind::kSetData, "/latch_acl/active_server_info", false,
                        "http://b:21000")
                .code,
            ZkCode::kOk);
  EXPECT_EQ(owner.Simple(ZkRequestKind::kDelete, "/latch_acl/active_server_info").code,
            ZkCode::kOk);
  EXPECT_EQ(owner.Simple(ZkRequestKind::kDelete, "/latch_acl").code, ZkCode::kOk);
}

TEST_F(ZookeeperClientTest, ExpiryIsReportedOnceAndReopenDoesNotWait) {
  auto proxy = TcpProxy::Start(server_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().message();
  ZkClientOptions options = Options();
  options.connect = (*proxy)->connect_string();
  options.session_timeout = milliseconds(1000);
  Session a(options);
  ASSERT_TRUE(a.Open().ok());
  ZkSessionInfo first = a.WaitConnected();
  EXPECT_LE(first.negotiated_timeout.count(), 1000);
  ASSERT_EQ(a.Create("/latch_expiry", "", CreateMode::kEphemeral).code, ZkCode::kOk);
  // A data watch also receives the session events; they must not be doubled.
  ASSERT_EQ(a.Simple(ZkRequestKind::kGetData, "/latch_expiry", /*watch=*/true).code, ZkCode::kOk);

  Session observer(Options());
  ASSERT_TRUE(observer.Open().ok());
  observer.WaitConnected();

  (*proxy)->SetBlocked(true);
  ASSERT_TRUE(a.recorder().RunUntil([&] {
    return a.recorder().sessions.back().first == ZkSessionEvent::kConnecting;
  })) << "no kConnecting after the cut";
  // The server expires the session: its ephemeral node goes.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  ZkCode code = ZkCode::kOk;
  while (std::chrono::steady_clock::now() < deadline) {
    code = observer.Simple(ZkRequestKind::kGetData, "/latch_expiry").code;
    if (code == ZkCode::kNoNode) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_EQ(code, ZkCode::kNoNode) << "the session did not expire on the server";
  (*proxy)->SetBlocked(false);
  ASSERT_TRUE(a.recorder().RunUntil([&] {
    return a.recorder().sessions.back().first == ZkSessionEvent::kExpired;
  })) << "no kExpired after reconnecting";
  a.recorder().RunFor(milliseconds(200));
  std::vector<ZkSessionEvent> events;
  for (const auto& [event, info] : a.recorder().sessions) events.push_back(event);
  EXPECT_THAT(events, ::testing::ElementsAre(ZkSessionEvent::kConnected,
                                             ZkSessionEvent::kConnecting,
                                             ZkSessionEvent::kExpired));
  EXPECT_TRUE(a.recorder().watches.empty());

  // The dead handle refuses everything, still answering each request once.
  EXPECT_EQ(a.Simple(ZkRequestKind::kGetData, "/").code, ZkCode::kInvalidState);
  EXPECT_EQ(a.Simple(ZkRequestKind::kCheck, "/").code, ZkCode::kInvalidState);
  EXPECT_EQ(a.Simple(ZkRequestKind::kSync, "/").code, ZkCode::kInvalidState);
  EXPECT_EQ(a.Create("/x", "", CreateMode::kEphemeral).code, ZkCode::kInvalidState);

  // A new session right away: the dead handle is closed in the background.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(a.Open().ok());
  const auto open_ms = std::chrono::duration_cast<milliseconds>(
      std::chrono::steady_clock::now() - t0);
  EXPECT_LT(open_ms.count(), 500);
  ZkSessionInfo second = a.WaitConnected();
  EXPECT_NE(second.session_id, first.session_id);
  for (const auto& [id, count] : a.recorder().result_count) EXPECT_EQ(count, 1) << id;
}

}  // namespace
}  // namespace latchd
