#include "tests/unit/fake_zk.h"

#include <cstdio>

namespace latchd::testing {

FakeZk::FakeZk() { nodes_["/"] = Node{}; }

int64_t FakeZk::NewSession(Duration timeout, MonoTime now) {
  int64_t id = next_session_++;
  sessions_[id] = {timeout, now};
  return id;
}

void FakeZk::ExpireDue(MonoTime now) {
  std::vector<int64_t> due;
  for (const auto& [id, s] : sessions_) {
    if (now >= s.second + s.first) due.push_back(id);
  }
  for (int64_t id : due) Expire(id);
}

void FakeZk::Expire(int64_t session) {
  sessions_.erase(session);
  std::vector<std::string> owned;
  for (const auto& [path, node] : nodes_) {
    if (node.stat.ephemeral_owner == session) owned.push_back(path);
  }
  for (const auto& path : owned) DeleteNode(path, -1);
}

std::string FakeZk::Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

const FakeZk::Node* FakeZk::Get(const std::string& path) const {
  auto it = nodes_.find(path);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<std::string> FakeZk::Children(const std::string& path) const {
  return ChildrenIn(nodes_, path);
}

std::vector<std::string> FakeZk::ChildrenIn(const Tree& tree, const std::string& path) {
  std::vector<std::string> out;
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = tree.lower_bound(prefix); it != tree.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
  }
  return out;
}

void FakeZk::Fire(const std::string& path, WatchEventType type) {
  auto it = data_watches_.find(path);
  if (it == data_watches_.end()) return;
  for (int64_t s : it->second) fired_.push_back(Fired{s, ZkWatchEvent{type, path}});
  data_watches_.erase(it);
}

ZkCode FakeZk::DeleteNode(const std::string& path, int32_t version) {
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return ZkCode::kNoNode;
  if (version != -1 && version != it->second.stat.version) return ZkCode::kBadVersion;
  if (!Children(path).empty()) return ZkCode::kNotEmpty;
  nodes_.erase(it);
  ++zxid_;
  Fire(path, WatchEventType::kDeleted);
  return ZkCode::kOk;
}

ZkCode FakeZk::Delete(const std::string& path) {
  // An outside client may delete a subtree (a data wipe): children first.
  for (const auto& child : Children(path)) Delete(path == "/" ? "/" + child : path + "/" + child);
  return DeleteNode(path, -1);
}

ZkCode FakeZk::Create(const std::string& path, const std::string& data, int64_t owner) {
  if (nodes_.count(path)) return ZkCode::kNodeExists;
  if (!nodes_.count(Parent(path))) return ZkCode::kNoNode;
  Node n;
  n.data = data;
  n.stat.czxid = n.stat.mzxid = ++zxid_;
  n.stat.ephemeral_owner = owner;
  nodes_[path] = n;
  return ZkCode::kOk;
}

void FakeZk::LagReadsOf(int64_t session) { lagging_[session] = nodes_; }

std::vector<FakeZk::Fired> FakeZk::TakeFiredFor(int64_t session) {
  std::vector<Fired> out, rest;
  for (auto& f : fired_) (f.session == session ? out : rest).push_back(std::move(f));
  fired_.swap(rest);
  return out;
}

std::vector<FakeZk::Fired> FakeZk::TakeFired() {
  std::vector<Fired> out;
  out.swap(fired_);
  return out;
}

ZkResult FakeZk::Apply(int64_t session, const ZkRequest& req, MonoTime now) {
  ZkResult r;
  r.id = req.id;
  auto s = sessions_.find(session);
  if (s == sessions_.end()) {
    r.code = ZkCode::kSessionExpired;
    return r;
  }
  s->second.second = now;
  if (req.mark_path.empty()) return ApplyOp(session, req);
  if (req.kind != ZkRequestKind::kDelete) {
    r.code = ZkCode::kBadArguments;
    return r;
  }
  if (!nodes_.count(req.mark_path)) {  // the multi's last op would fail: nothing applied
    r.code = ZkCode::kNoNode;
    return r;
  }
  r = ApplyOp(session, req);
  if (r.code != ZkCode::kOk) return r;
  ZkRequest set;  // the multi's last op
  set.kind = ZkRequestKind::kSetData;
  set.path = req.mark_path;
  set.data = req.mark_data;
  ApplyOp(session, set);
  return r;
}

ZkResult FakeZk::ApplyOp(int64_t session, const ZkRequest& req) {
  ZkResult r;
  r.id = req.id;
  if (!req.guard.empty()) {
    bool writes = req.kind == ZkRequestKind::kCreate || req.kind == ZkRequestKind::kSetData ||
                  req.kind == ZkRequestKind::kDelete;
    if (!writes) {
      r.code = ZkCode::kBadArguments;
      return r;
    }
    if (!nodes_.count(req.guard)) {  // multi {check(guard), op}: all or nothing
      r.code = ZkCode::kNoNode;
      r.guard_failed = true;
      return r;
    }
    if (req.guard_delete) {  // multi {delete(guard), delete(path)}
      if (req.kind != ZkRequestKind::kDelete) {
        r.code = ZkCode::kBadArguments;
        return r;
      }
      auto it = nodes_.find(req.path);
      if (it == nodes_.end()) {
        r.code = ZkCode::kNoNode;
      } else if (req.version != -1 && req.version != it->second.stat.version) {
        r.code = ZkCode::kBadVersion;
      } else if (!Children(req.path).empty() || !Children(req.guard).empty()) {
        r.code = ZkCode::kNotEmpty;
      } else {
        DeleteNode(req.path, -1);
        r.code = DeleteNode(req.guard, -1);
      }
      return r;
    }
  }
  auto lag = lagging_.find(session);
  const Tree& seen = lag == lagging_.end() ? nodes_ : lag->second;  // what reads see
  switch (req.kind) {
    case ZkRequestKind::kSync:
      if (lag != lagging_.end()) lagging_.erase(lag);
      r.code = ZkCode::kOk;
      break;
    case ZkRequestKind::kCreate: {
      std::string path = req.path;
      std::string parent = Parent(path);
      auto p = nodes_.find(parent);
      if (p == nodes_.end()) {
        r.code = ZkCode::kNoNode;
        break;
      }
      if (req.mode == CreateMode::kEphemeralSequential) {
        char seq[16];
        std::snprintf(seq, sizeof seq, "%010d", p->second.cversion);
        path += seq;
      }
      int64_t owner = req.mode == CreateMode::kPersistent ? 0 : session;
      r.code = Create(path, req.data, owner);
      if (r.code == ZkCode::kOk) {
        ++nodes_[parent].cversion;
        r.created_path = path;
        r.stat = nodes_[path].stat;
        if (!req.guard.empty()) r.stat = ZkStat{};  // a multi's create reports no stat
      }
      break;
    }
    case ZkRequestKind::kDelete:
      r.code = DeleteNode(req.path, req.version);
      break;
    case ZkRequestKind::kGetData: {
      auto it = seen.find(req.path);
      if (it == seen.end()) {
        r.code = ZkCode::kNoNode;  // a getData on a missing node sets no watch
        break;
      }
      r.code = ZkCode::kOk;
      r.data = it->second.data;
      r.stat = it->second.stat;
      if (req.watch) data_watches_[req.path].insert(session);
      break;
    }
    case ZkRequestKind::kGetChildren:
      if (!seen.count(req.path)) {
        r.code = ZkCode::kNoNode;
        break;
      }
      r.code = ZkCode::kOk;
      r.children = ChildrenIn(seen, req.path);
      break;
    case ZkRequestKind::kCheck:
      r.code = nodes_.count(req.path) ? ZkCode::kOk : ZkCode::kNoNode;
      break;
    case ZkRequestKind::kSetData: {
      auto it = nodes_.find(req.path);
      if (it == nodes_.end()) {
        r.code = ZkCode::kNoNode;
        break;
      }
      if (req.version != -1 && req.version != it->second.stat.version) {
        r.code = ZkCode::kBadVersion;
        break;
      }
      it->second.data = req.data;
      it->second.stat.mzxid = ++zxid_;
      ++it->second.stat.version;
      r.code = ZkCode::kOk;
      r.stat = it->second.stat;
      Fire(req.path, WatchEventType::kDataChanged);
      break;
    }
  }
  return r;
}

}  // namespace latchd::testing
