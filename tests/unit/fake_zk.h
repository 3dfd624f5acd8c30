// An in-memory ZooKeeper for unit tests of the core: one tree, sessions that
// expire on simulated time, ephemeral and sequential nodes, one-shot data
// watches, zxids. Deterministic; no threads, no sockets.
#ifndef LATCHD_TESTS_UNIT_FAKE_ZK_H_
#define LATCHD_TESTS_UNIT_FAKE_ZK_H_

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lib/util/clock.h"
#include "lib/zk/zk_types.h"

namespace latchd::testing {

class FakeZk {
 public:
  struct Node {
    std::string data;
    ZkStat stat;
    int32_t cversion = 0;
  };
  struct Fired {
    int64_t session;
    ZkWatchEvent event;
  };

  FakeZk();
  int64_t NewSession(Duration timeout, MonoTime now);
  bool Alive(int64_t session) const { return sessions_.count(session) > 0; }
  // Expires sessions not heard from for their timeout (the server's rule).
  void ExpireDue(MonoTime now);
  void Expire(int64_t session);
  // Applies a request from `session` received at `now` (touches the session).
  // A request with a guard is a multi {check(guard), op}: all or nothing;
  // so is a delete with a mark (the mark's setData last).
  ZkResult Apply(int64_t session, const ZkRequest& req, MonoTime now);
  // An outside client's actions.
  ZkCode Delete(const std::string& path);
  ZkCode Create(const std::string& path, const std::string& data, int64_t owner = 0);
  std::vector<Fired> TakeFired();
  // The fired watches of `session` only (the others stay queued).
  std::vector<Fired> TakeFiredFor(int64_t session);
  // From now on `session` is connected to a server that lags: its reads
  // (getData, getChildren) see the tree as it is now until it sends a sync.
  // Its writes, and everyone else, see the current tree.
  void LagReadsOf(int64_t session);

  bool Exists(const std::string& path) const { return nodes_.count(path) > 0; }
  const Node* Get(const std::string& path) const;
  std::vector<std::string> Children(const std::string& path) const;

 private:
  using Tree = std::map<std::string, Node>;
  ZkResult ApplyOp(int64_t session, const ZkRequest& req);
  static std::string Parent(const std::string& path);
  static std::vector<std::string> ChildrenIn(const Tree& tree, const std::string& path);
  void Fire(const std::string& path, WatchEventType type);
  ZkCode DeleteNode(const std::string& path, int32_t version);

  Tree nodes_;
  std::map<int64_t, Tree> lagging_;  // session -> what its reads see
  std::map<int64_t, std::pair<Duration, MonoTime>> sessions_;  // timeout, last heard
  std::map<std::string, std::set<int64_t>> data_watches_;
  std::vector<Fired> fired_;
  int64_t zxid_ = 100;
  int64_t next_session_ = 0x1000;
};

}  // namespace latchd::testing

#endif  // LATCHD_TESTS_UNIT_FAKE_ZK_H_
