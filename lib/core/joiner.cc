#include "lib/core/joiner.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "lib/core/latch_node.h"
#include "lib/util/session_id.h"

namespace latchd {

Joiner::Joiner(std::string latch_path, std::string id, std::function<std::string()> new_uuid)
    : latch_path_(std::move(latch_path)), id_(std::move(id)), new_uuid_(std::move(new_uuid)) {}

const std::string& Joiner::Prepare() {
  join_at_.reset();
  uuid_ = new_uuid_();
  own_node_.clear();
  lost_create_ = false;
  owner_known_ = false;
  phase_ = JoinPhase::kPreparing;
  return uuid_;
}

void Joiner::Create(CoreIo& io) {
  phase_ = JoinPhase::kCreating;
  ZkRequest req = MakeRequest(ZkRequestKind::kCreate, latch_path_ + "/" + LatchNodePrefix(uuid_));
  req.data = id_;
  req.mode = CreateMode::kEphemeralSequential;
  io.Send(std::move(req), Purpose::kCreateNode, uuid_);
}

void Joiner::Reset() {
  own_node_.clear();
  lost_create_ = false;
  owner_known_ = false;
  join_at_.reset();
}

bool Joiner::ScheduleRejoin(CoreIo& io) {
  phase_ = JoinPhase::kIdle;
  if (stable_at_ && io.now() >= *stable_at_) join_failures_ = 0;
  stable_at_.reset();
  ++join_failures_;
  if (join_failures_ <= 2) return true;
  int shift = std::min(join_failures_ - 3, 5);
  int64_t full_us = int64_t{50000} << shift;
  // Jitter from the attempt's uuid: deterministic for tests, different per agent.
  uint64_t h = std::hash<std::string>{}(uuid_ + std::to_string(join_failures_));
  int64_t us = full_us / 2 + static_cast<int64_t>(h % static_cast<uint64_t>(full_us / 2 + 1));
  join_at_ = io.now() + std::chrono::microseconds(us);
  return false;
}

void Joiner::OnSessionGone() {
  if (lost_create_ && !uuid_.empty()) orphan_uuids_.push_back(uuid_);
}

void Joiner::DeleteOrphans(CoreIo& io) {
  if (!orphan_uuids_.empty()) {
    io.Send(MakeRequest(ZkRequestKind::kGetChildren, latch_path_), Purpose::kOrphanList);
  }
}

void Joiner::TakeBack(const std::string& node) {
  own_node_ = node;
  std::optional<LatchNode> parsed = ParseLatchNode(node);
  uuid_ = parsed ? parsed->uuid : std::string();
  phase_ = JoinPhase::kJoined;
}

void Joiner::DeleteUnresumed(CoreIo& io, int64_t session, const std::string& node) {
  unresumed_session_ = session;
  io.Send(MakeRequest(ZkRequestKind::kGetData, latch_path_ + "/" + node), Purpose::kUnresumedOwner,
          node);
}

bool Joiner::Resync(CoreIo& io) {
  switch (phase_) {
    case JoinPhase::kIdle:
      return !join_at_;
    case JoinPhase::kPreparing:
      return false;  // waits for the member record
    case JoinPhase::kEnsuringParents:
      return true;
    case JoinPhase::kCreating:
    case JoinPhase::kRecovering:
      if (lost_create_) {
        phase_ = JoinPhase::kRecovering;
        io.Send(MakeRequest(ZkRequestKind::kGetChildren, latch_path_), Purpose::kRecoverList);
        return false;
      }
      return !io.InFlight(Purpose::kCreateNode);
    case JoinPhase::kJoined:
      return false;
  }
  return false;
}

void Joiner::Abandon() {
  std::optional<LatchNode> node = ParseLatchNode(own_node_);
  if (node && !node->uuid.empty()) orphan_uuids_.push_back(node->uuid);
}

JoinResult Joiner::OnResult(CoreIo& io, const ZkResult& r, const Pending& p, bool current) {
  switch (p.purpose) {
    case Purpose::kOrphanList:
      OnOrphanList(io, r);
      return {};
    case Purpose::kUnresumedOwner:
      OnUnresumedOwner(io, r, p);
      return {};
    case Purpose::kDeleteStray:
      return {};
    default:
      break;
  }
  if (!current) {  // about an own-node attempt that was abandoned
    if (p.purpose == Purpose::kCreateNode) OnAbandonedCreate(io, r, p);
    return {};
  }
  switch (p.purpose) {
    case Purpose::kCreateNode: return OnCreateNode(io, r);
    case Purpose::kCreateParent: return OnCreateParent(io, r, p);
    case Purpose::kRecoverList: return OnRecoverList(io, r);
    case Purpose::kRecoverOwner: return OnRecoverOwner(io, r, p);
    default: return {};
  }
}

// A create of an abandoned attempt: whatever it made must not stay behind.
void Joiner::OnAbandonedCreate(CoreIo& io, const ZkResult& r, const Pending& p) {
  if (r.code == ZkCode::kOk) {
    io.Log(LogAction::kInfo, "deleting latch node " + std::string(BaseName(r.created_path)) +
                                 " of an abandoned join attempt");
    io.Send(MakeRequest(ZkRequestKind::kDelete, r.created_path), Purpose::kDeleteStray,
            r.created_path);
  } else if (IsUncertain(r.code)) {
    orphan_uuids_.push_back(p.node);
  }
}

JoinResult Joiner::OnCreateNode(CoreIo& io, const ZkResult& r) {
  switch (r.code) {
    case ZkCode::kOk: {
      std::optional<LatchNode> created = ParseLatchNode(BaseName(r.created_path));
      if (!created || created->uuid != uuid_) {
        // ZooKeeper always answers with the created path; anything else is a
        // broken client or server. A node may exist anyway: treat it as an orphan.
        io.Log(LogAction::kError, "latch node create answered with the unexpected path \"" +
                                      r.created_path + "\"; rejoining");
        orphan_uuids_.push_back(uuid_);
        io.Send(MakeRequest(ZkRequestKind::kGetChildren, latch_path_), Purpose::kOrphanList);
        return {JoinStep::kRejoin, "unexpected create answer"};
      }
      own_node_ = created->name;
      lost_create_ = false;
      phase_ = JoinPhase::kJoined;
      // Created in this session, answered with its stat: the owner and the
      // epoch are known, so leading needs no owner read, only the claim check.
      owner_known_ = r.stat.ephemeral_owner == io.session() && r.stat.czxid != 0;
      own_czxid_ = r.stat.czxid;
      io.Log(LogAction::kInfo, "joined the latch as " + own_node_);
      return {JoinStep::kCreated, ""};
    }
    case ZkCode::kNoNode:
      phase_ = JoinPhase::kEnsuringParents;
      parent_index_ = 0;
      io.Send(MakeRequest(ZkRequestKind::kCreate, PathPrefixes(latch_path_)[0]),
              Purpose::kCreateParent, PathPrefixes(latch_path_)[0]);
      return {};
    case ZkCode::kConnectionLoss:
    case ZkCode::kOperationTimeout:
      // The node may or may not exist: find it by its uuid once reconnected (CURATOR-498).
      lost_create_ = true;
      return {JoinStep::kReconnect, ""};
    case ZkCode::kNoAuth:
      io.Log(LogAction::kError, "NOAUTH creating a latch node under " + latch_path_ +
                                    ": check --zk_acl and --zk_auth_file");
      return {JoinStep::kRejoin, "create refused"};
    default:
      if (IsServerAnswer(r.code)) {
        return {JoinStep::kRejoin, std::string("create failed: ") + std::string(ZkCodeName(r.code))};
      }
      return {};  // session trouble: the session events drive what happens next
  }
}

JoinResult Joiner::OnCreateParent(CoreIo& io, const ZkResult& r, const Pending& p) {
  if (r.code == ZkCode::kOk || r.code == ZkCode::kNodeExists) {
    auto prefixes = PathPrefixes(latch_path_);
    if (++parent_index_ < prefixes.size()) {
      io.Send(MakeRequest(ZkRequestKind::kCreate, prefixes[parent_index_]), Purpose::kCreateParent,
              prefixes[parent_index_]);
      return {};
    }
    return {JoinStep::kRestart, ""};
  }
  if (IsUncertain(r.code)) return {JoinStep::kReconnect, ""};
  if (r.code == ZkCode::kNoAuth) {
    io.Log(LogAction::kError, "NOAUTH creating " + p.node + ": check --zk_acl and --zk_auth_file");
  }
  if (IsServerAnswer(r.code)) return {JoinStep::kRejoin, "could not create the latch path"};
  return {};
}

JoinResult Joiner::OnRecoverList(CoreIo& io, const ZkResult& r) {
  if (IsUncertain(r.code)) return {JoinStep::kReconnect, ""};
  if (r.code != ZkCode::kOk) return {JoinStep::kRestart, ""};
  for (const auto& child : r.children) {
    auto node = ParseLatchNode(child);
    if (node && node->uuid == uuid_) {
      io.Send(MakeRequest(ZkRequestKind::kGetData, latch_path_ + "/" + child),
              Purpose::kRecoverOwner, child);
      return {};
    }
  }
  return {JoinStep::kRestart, ""};  // the lost create never landed
}

JoinResult Joiner::OnRecoverOwner(CoreIo& io, const ZkResult& r, const Pending& p) {
  if (IsUncertain(r.code)) return {JoinStep::kReconnect, ""};
  if (r.code == ZkCode::kOk && r.stat.ephemeral_owner == io.session()) {
    own_node_ = p.node;
    lost_create_ = false;
    phase_ = JoinPhase::kJoined;
    owner_known_ = true;
    own_czxid_ = r.stat.czxid;
    io.Log(LogAction::kInfo, "adopted latch node " + own_node_ + " after a lost create");
    return {JoinStep::kAdopted, ""};
  }
  if (r.code == ZkCode::kOk) {
    io.Log(LogAction::kWarning, "deleting latch node " + p.node + " of another session " +
                                    SessionIdHex(r.stat.ephemeral_owner) + " left by a lost create");
    io.Send(MakeRequest(ZkRequestKind::kDelete, latch_path_ + "/" + p.node), Purpose::kDeleteStray,
            p.node);
  }
  return {JoinStep::kRestart, ""};
}

// The node recorded for a session that could not be resumed.
void Joiner::OnUnresumedOwner(CoreIo& io, const ZkResult& r, const Pending& p) {
  if (r.code != ZkCode::kOk) return;  // gone with its session (or unknown: the session does it)
  if (r.stat.ephemeral_owner != unresumed_session_) return;  // not that session's node
  io.Log(LogAction::kWarning, "deleting latch node " + p.node + " of session " +
                                  SessionIdHex(r.stat.ephemeral_owner) + ", which could not be resumed");
  ZkRequest del = MakeRequest(ZkRequestKind::kDelete, latch_path_ + "/" + p.node);
  del.version = r.stat.version;
  io.Send(std::move(del), Purpose::kDeleteStray, p.node);
}

void Joiner::OnOrphanList(CoreIo& io, const ZkResult& r) {
  if (r.code != ZkCode::kOk) return;
  for (const auto& child : r.children) {
    auto node = ParseLatchNode(child);
    if (!node || node->uuid.empty()) continue;
    if (std::find(orphan_uuids_.begin(), orphan_uuids_.end(), node->uuid) != orphan_uuids_.end()) {
      io.Log(LogAction::kWarning, "deleting orphan latch node " + child + " of an earlier session");
      io.Send(MakeRequest(ZkRequestKind::kDelete, latch_path_ + "/" + child), Purpose::kDeleteStray,
              child);
    }
  }
  orphan_uuids_.clear();
}

}  // namespace latchd
