#include "tests/sim/sim_tree.h"

#include <algorithm>
#include <cstdio>

namespace latchd::sim {
namespace {

constexpr int kRead = 1, kWrite = 2, kCreate = 4, kDelete = 8;

ZkResult Answer(uint64_t id, ZkCode code) {
  ZkResult r;
  r.id = id;
  r.code = code;
  return r;
}

}  // namespace

SimTree::SimTree() { nodes_["/"] = SimNode{}; }

std::string SimTree::Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

const SimNode* SimTree::Get(const std::string& path) const {
  auto it = nodes_.find(path);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<std::string> SimTree::Children(const std::string& path) const {
  std::vector<std::string> out;
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
  }
  return out;
}

bool SimTree::Allowed(const SimNode& node, int perm, const SimCaller& caller) const {
  if (caller.super || node.acl.empty()) return true;
  for (const auto& e : node.acl) {
    if ((e.perms & perm) == 0) continue;
    if (e.scheme == "world" && e.id == "anyone") return true;
    if (!caller.identity.empty() && caller.identity == e.scheme + ":" + e.id) return true;
  }
  return false;
}

ZkResult SimTree::Read(const ZkRequest& req, const SimCaller& caller) const {
  const SimNode* n = Get(req.path);
  if (n == nullptr) return Answer(req.id, ZkCode::kNoNode);
  if (!Allowed(*n, kRead, caller)) return Answer(req.id, ZkCode::kNoAuth);
  ZkResult r = Answer(req.id, ZkCode::kOk);
  if (req.kind == ZkRequestKind::kGetChildren) {
    r.children = Children(req.path);
  } else {
    r.data = n->data;
  }
  r.stat = n->stat;
  return r;
}

ZkCode SimTree::Check(const std::string& path, const SimCaller& caller) const {
  const SimNode* n = Get(path);
  if (n == nullptr) return ZkCode::kNoNode;
  return Allowed(*n, kRead, caller) ? ZkCode::kOk : ZkCode::kNoAuth;
}

ZkCode SimTree::Create(const ZkRequest& req, const SimCaller& caller, int64_t zxid, ZkResult* r) {
  std::string parent = Parent(req.path);
  auto p = nodes_.find(parent);
  if (p == nodes_.end()) return ZkCode::kNoNode;
  if (!Allowed(p->second, kCreate, caller)) return ZkCode::kNoAuth;
  if (p->second.stat.ephemeral_owner != 0) return ZkCode::kNoChildrenForEphemerals;
  std::string path = req.path;
  if (req.mode == CreateMode::kEphemeralSequential) {
    char seq[16];
    std::snprintf(seq, sizeof seq, "%010d", p->second.cversion);
    path += seq;
  }
  if (nodes_.count(path)) return ZkCode::kNodeExists;
  SimNode n;
  n.data = req.data;
  n.stat.czxid = n.stat.mzxid = zxid;
  n.stat.ephemeral_owner = req.mode == CreateMode::kPersistent ? 0 : caller.session;
  n.pzxid = zxid;
  n.acl = caller.acl;
  nodes_[path] = n;
  ++p->second.cversion;
  ++p->second.stat.num_children;
  p->second.pzxid = zxid;
  touched_.push_back(parent);
  touched_.push_back(path);
  r->created_path = path;
  r->stat = n.stat;
  return ZkCode::kOk;
}

ZkCode SimTree::Delete(const std::string& path, int32_t version, const SimCaller& caller,
                       int64_t zxid) {
  auto it = nodes_.find(path);
  if (it == nodes_.end() || path == "/") return ZkCode::kNoNode;
  SimNode& parent = nodes_[Parent(path)];
  if (!Allowed(parent, kDelete, caller)) return ZkCode::kNoAuth;
  if (version != -1 && version != it->second.stat.version) return ZkCode::kBadVersion;
  if (it->second.stat.num_children > 0) return ZkCode::kNotEmpty;
  nodes_.erase(it);
  ++parent.cversion;
  --parent.stat.num_children;
  parent.pzxid = zxid;
  touched_.push_back(Parent(path));
  touched_.push_back(path);
  return ZkCode::kOk;
}

ZkCode SimTree::SetData(const std::string& path, const std::string& data, int32_t version,
                        const SimCaller& caller, int64_t zxid, ZkResult* r) {
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return ZkCode::kNoNode;
  if (!Allowed(it->second, kWrite, caller)) return ZkCode::kNoAuth;
  if (version != -1 && version != it->second.stat.version) return ZkCode::kBadVersion;
  it->second.data = data;
  it->second.stat.mzxid = zxid;
  ++it->second.stat.version;
  touched_.push_back(path);
  if (r) r->stat = it->second.stat;
  return ZkCode::kOk;
}

SimTree::Outcome SimTree::Write(const ZkRequest& req, const SimCaller& caller, int64_t zxid) const {
  Outcome out;
  out.result = Answer(req.id, ZkCode::kOk);
  ZkResult& r = out.result;
  const bool multi = !req.guard.empty() || !req.mark_path.empty();
  const bool op_write = req.kind == ZkRequestKind::kCreate || req.kind == ZkRequestKind::kDelete ||
                        req.kind == ZkRequestKind::kSetData;
  if ((multi && !op_write) || (req.guard_delete && req.kind != ZkRequestKind::kDelete) ||
      (!req.mark_path.empty() && req.kind != ZkRequestKind::kDelete)) {
    r.code = ZkCode::kBadArguments;
    return out;
  }
  SimTree work = *this;  // a multi is all or nothing: work on a copy
  work.touched_.clear();
  if (!req.guard.empty()) {
    ZkCode g = req.guard_delete ? work.Delete(req.guard, -1, caller, zxid) : work.Check(req.guard, caller);
    if (g != ZkCode::kOk) {
      r.code = g;
      r.guard_failed = true;
      return out;
    }
  }
  switch (req.kind) {
    case ZkRequestKind::kCreate: r.code = work.Create(req, caller, zxid, &r); break;
    case ZkRequestKind::kDelete: r.code = work.Delete(req.path, req.version, caller, zxid); break;
    case ZkRequestKind::kSetData:
      r.code = work.SetData(req.path, req.data, req.version, caller, zxid, &r);
      break;
    case ZkRequestKind::kCheck: r.code = work.Check(req.path, caller); break;
    default: r.code = ZkCode::kBadArguments; break;
  }
  if (r.code == ZkCode::kOk && !req.mark_path.empty()) {
    r.code = work.SetData(req.mark_path, req.mark_data, -1, caller, zxid, nullptr);
  }
  if (r.code != ZkCode::kOk) {
    ZkResult failed = Answer(req.id, r.code);
    r = failed;
    return out;
  }
  if (multi) r.stat = ZkStat{};  // a multi's results carry no stat
  out.changes = work.TouchedChanges();
  return out;
}

std::vector<SimChange> SimTree::TouchedChanges() const {
  std::vector<SimChange> out;
  for (const auto& path : touched_) {
    if (std::any_of(out.begin(), out.end(), [&](const SimChange& c) { return c.path == path; })) {
      continue;
    }
    const SimNode* n = Get(path);  // the final state of each path
    out.push_back(SimChange{path, n ? std::optional<SimNode>(*n) : std::nullopt});
  }
  return out;
}

std::vector<SimChange> SimTree::EphemeralsOf(int64_t session) const {
  SimTree work = *this;
  work.touched_.clear();
  SimCaller super;
  super.super = true;
  for (const auto& [path, node] : nodes_) {
    if (node.stat.ephemeral_owner == session) work.Delete(path, -1, super, last_zxid_ + 1);
  }
  return work.TouchedChanges();
}

std::vector<ZkWatchEvent> SimTree::Apply(const SimTxn& txn) {
  std::vector<ZkWatchEvent> fired;
  for (const auto& c : txn.changes) {
    auto it = nodes_.find(c.path);
    bool before = it != nodes_.end();
    if (!c.node) {
      if (!before) continue;
      nodes_.erase(it);
      fired.push_back(ZkWatchEvent{WatchEventType::kDeleted, c.path});
      fired.push_back(ZkWatchEvent{WatchEventType::kChildrenChanged, Parent(c.path)});
      continue;
    }
    if (!before) {
      fired.push_back(ZkWatchEvent{WatchEventType::kCreated, c.path});
      fired.push_back(ZkWatchEvent{WatchEventType::kChildrenChanged, Parent(c.path)});
    } else if (it->second.stat.mzxid != c.node->stat.mzxid) {
      fired.push_back(ZkWatchEvent{WatchEventType::kDataChanged, c.path});
    }
    nodes_[c.path] = *c.node;
  }
  last_zxid_ = std::max(last_zxid_, txn.zxid);
  return fired;
}

}  // namespace latchd::sim
