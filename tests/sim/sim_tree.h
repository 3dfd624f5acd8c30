// SimTree: one ZooKeeper server's copy of the data tree, for the simulated
// ensemble (tests/sim/sim_zk.h). It answers reads, evaluates writes the way
// ZooKeeper's leader does (ACLs, versions, sequence numbers, ephemeral
// owners, latchd's guarded multis) and applies committed transactions,
// reporting which watches they trigger.
//
// Promises: Write never changes the tree; it returns the answer and, when the
// write succeeds, the transaction's changes (a multi is all or nothing). Apply
// of the same transactions in the same order gives every copy the same tree.
//
// Thread-safety: none (a value type). Errors: as ZkResult codes.
#ifndef LATCHD_TESTS_SIM_SIM_TREE_H_
#define LATCHD_TESTS_SIM_SIM_TREE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/zk/zk_types.h"

namespace latchd::sim {

struct SimNode {
  std::string data;
  ZkStat stat;
  int32_t cversion = 0;  // the next sequence number of a sequential child
  int64_t pzxid = 0;     // zxid of the last change of the children
  std::vector<ZkAclEntry> acl;  // empty: world:anyone with every permission
};

// Who sends a request: its session, the identity it authenticated as
// ("scheme:id", e.g. "digest:atlas:hash"; "" for none) and the ACL it gives
// the nodes it creates. `super` skips every ACL check (an operator).
struct SimCaller {
  int64_t session = 0;
  std::string identity;
  std::vector<ZkAclEntry> acl;
  bool super = false;
};

// One node's state after a transaction; nullopt: deleted.
struct SimChange {
  std::string path;
  std::optional<SimNode> node;
};

struct SimTxn {
  int64_t zxid = 0;
  std::vector<SimChange> changes;
};

class SimTree {
 public:
  SimTree();

  const SimNode* Get(const std::string& path) const;
  bool Exists(const std::string& path) const { return nodes_.count(path) > 0; }
  std::vector<std::string> Children(const std::string& path) const;  // names, sorted
  int64_t last_zxid() const { return last_zxid_; }

  // getData, getChildren (a watch is the caller's business).
  ZkResult Read(const ZkRequest& req, const SimCaller& caller) const;
  struct Outcome {
    ZkResult result;
    std::vector<SimChange> changes;  // empty unless the write succeeded
  };
  // create, delete, setData, check, with guard and mark (lib/zk/zk_types.h),
  // as the transaction `zxid`.
  Outcome Write(const ZkRequest& req, const SimCaller& caller, int64_t zxid) const;
  // The transaction's changes that delete every ephemeral node of `session`.
  std::vector<SimChange> EphemeralsOf(int64_t session) const;
  // Applies a committed transaction; returns the watch events it triggers:
  // kDeleted and kDataChanged for data watches of the path, kChildrenChanged
  // for child watches of the parent (and kDeleted for those of the path).
  std::vector<ZkWatchEvent> Apply(const SimTxn& txn);

  static std::string Parent(const std::string& path);

 private:
  // Ops on a working copy; each returns kOk or the error and records the
  // paths it touched.
  ZkCode Create(const ZkRequest& req, const SimCaller& caller, int64_t zxid, ZkResult* r);
  ZkCode Delete(const std::string& path, int32_t version, const SimCaller& caller, int64_t zxid);
  ZkCode SetData(const std::string& path, const std::string& data, int32_t version,
                 const SimCaller& caller, int64_t zxid, ZkResult* r);
  ZkCode Check(const std::string& path, const SimCaller& caller) const;
  bool Allowed(const SimNode& node, int perm, const SimCaller& caller) const;
  // The final state of every path touched on this working copy, once each.
  std::vector<SimChange> TouchedChanges() const;

  std::map<std::string, SimNode> nodes_;
  int64_t last_zxid_ = 0;
  std::vector<std::string> touched_;  // paths changed on a working copy
};

}  // namespace latchd::sim

#endif  // LATCHD_TESTS_SIM_SIM_TREE_H_
