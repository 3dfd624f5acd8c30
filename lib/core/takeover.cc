#include "lib/core/takeover.h"

#include <utility>

#include "lib/core/latch_node.h"
#include "lib/core/member_info.h"
#include "lib/util/session_id.h"

namespace latchd {

TakeoverStep Takeover::Reconnect() {
  TakeoverStep s;
  s.kind = TakeoverStep::kReconnect;
  return s;
}

TakeoverStep Takeover::Lost(std::string reason, std::string rejoin_reason) {
  TakeoverStep s;
  s.kind = TakeoverStep::kLost;
  s.reason = std::move(reason);
  s.rejoin_reason = std::move(rejoin_reason);
  return s;
}

void Takeover::Reset() {
  vanished_node_.clear();
  vanished_id_.clear();
  vanished_uuid_.clear();
  lock_reads_ = 0;
  record_blocks_ = asi_blocks_ = record_known_ = false;
  lock_until_.reset();
  lock_logged_ = false;
}

TakeoverStep Takeover::OnFirst(CoreIo& io, const ListOutcome& list, const Joiner& joiner,
                               LatchView& view) {
  if (!list.vanished_leader.empty() && vanished_node_.empty()) {
    vanished_node_ = list.vanished_leader;
    vanished_id_ = list.vanished_leader_id;
    std::optional<LatchNode> parsed = ParseLatchNode(vanished_node_);
    vanished_uuid_ = parsed ? parsed->uuid : std::string();
  }
  if (io.InFlight(Purpose::kVerifyOwner) || io.InFlight(Purpose::kClaimCheck) || lock_reads_ > 0 ||
      lock_until_) {
    return {};
  }
  if (!list.synced) {
    // Not a synced listing (sent while leading) or its sync failed: it may be
    // from the past. Look again with a sync (a failed sync: at the next
    // renewal, so that an error cannot make a loop).
    if (!list.sent_synced) view.SendList(io, /*leading=*/false);
    return {};
  }
  // A graceful handover: the node before this one was first and its owner
  // stopped claiming before it deleted it; no other node can have led since,
  // so no check write is needed. Otherwise (a crash, a delete by another
  // client, a Curator participant) the claim waits for one.
  if (joiner.owner_known() && list.handed_over) {
    io.Log(LogAction::kInfo, "latch node " + list.handed_over_from + " was handed over");
    TakeoverStep s;
    s.kind = TakeoverStep::kClaim;
    s.epoch = joiner.own_czxid();
    Reset();
    return s;
  }
  if (joiner.owner_known()) return StartLockDelay(io, joiner, joiner.own_czxid());
  io.Send(WatchRequest(joiner.OwnPath()), Purpose::kVerifyOwner, joiner.own_node());
  return {};
}

// The listing was synced, but the node may still have been deleted since (by
// another client, the notification not yet here). The write is ordered after
// everything before it, and a node that still exists and was first is still
// first; it also gives a lagging server of a deposed leader one commit more to
// tell that leader.
TakeoverStep Takeover::SendClaimCheck(CoreIo& io, const Joiner& joiner, int64_t czxid) {
  if (io.InFlight(Purpose::kClaimCheck)) return {};
  claim_epoch_ = czxid;
  io.Send(MakeRequest(ZkRequestKind::kCheck, joiner.OwnPath()), Purpose::kClaimCheck,
          joiner.own_node());
  return {};
}

TakeoverStep Takeover::OnResult(CoreIo& io, const ZkResult& r, const Pending& p,
                                const Joiner& joiner, bool leading) {
  if (p.purpose == Purpose::kLockDelayAsi || p.purpose == Purpose::kLockDelayRecord) {
    if (leading) return {};
    return OnLockRead(io, r, p, joiner);
  }
  if (p.purpose == Purpose::kWatchOwn) {
    // NONODE: the node is already gone and no watch was set: as a deletion.
    if (r.code != ZkCode::kNoNode || !joiner.joined() || p.node != joiner.own_node()) return {};
    return Lost("own latch node " + joiner.own_node() + " was deleted", "own latch node deleted");
  }
  // The answers on the way to leadership.
  if (IsUncertain(r.code)) return Reconnect();
  if (r.code == ZkCode::kNoNode) {
    return Lost("own latch node is gone", "own latch node gone before taking leadership");
  }
  if (r.code != ZkCode::kOk || leading) return {};
  if (p.purpose == Purpose::kClaimCheck) {
    TakeoverStep s;
    s.kind = TakeoverStep::kClaim;
    s.epoch = claim_epoch_;
    Reset();
    return s;
  }
  // kVerifyOwner.
  if (r.stat.ephemeral_owner != io.session()) {
    // CURATOR-696: a node of a dead session must never confer leadership.
    io.Log(LogAction::kWarning, "own latch node " + joiner.own_node() + " belongs to session " +
                                    SessionIdHex(r.stat.ephemeral_owner) + ", not " +
                                    SessionIdHex(io.session()) + "; deleting it and rejoining");
    io.Send(MakeRequest(ZkRequestKind::kDelete, joiner.OwnPath()), Purpose::kDeleteStray,
            joiner.own_node());
    TakeoverStep s;
    s.kind = TakeoverStep::kRejoin;
    s.rejoin_reason = "own node owned by another session";
    return s;
  }
  return StartLockDelay(io, joiner, r.stat.czxid);
}

// ---- The lock-delay ----------------------------------------------------------

TakeoverStep Takeover::StartLockDelay(CoreIo& io, const Joiner& joiner, int64_t czxid) {
  claim_epoch_ = czxid;
  record_blocks_ = asi_blocks_ = record_known_ = false;
  lock_reads_ = 1;
  io.Send(MakeRequest(ZkRequestKind::kGetData, asi_path_), Purpose::kLockDelayAsi);
  if (!vanished_id_.empty() && !vanished_uuid_.empty()) {
    ++lock_reads_;
    io.Send(WatchRequest(MemberPath(zk_root_, vanished_id_)), Purpose::kLockDelayRecord);
  }
  return {};
}

TakeoverStep Takeover::OnLockRead(CoreIo& io, const ZkResult& r, const Pending& p, const Joiner& joiner) {
  if (lock_reads_ == 0) return {};
  if (IsUncertain(r.code)) {
    lock_reads_ = 0;
    return Reconnect();
  }
  if (p.purpose == Purpose::kLockDelayAsi) {
    // Not this session's, and not this agent's own previous run (that process is gone).
    asi_blocks_ = r.code == ZkCode::kOk && r.stat.ephemeral_owner != 0 &&
                  r.stat.ephemeral_owner != io.session() &&
                  r.stat.ephemeral_owner != joiner.unresumed_session();
  } else if (r.code == ZkCode::kOk) {
    Result<MemberInfo> m = ParseMemberJson(r.data);
    record_known_ = m.ok();
    record_blocks_ = m.ok() && m->uuid == vanished_uuid_;
    record_lease_ = m.ok() ? std::chrono::milliseconds(m->lease_ms) : Duration{};
  } else {
    record_known_ = false;  // NONODE: the owner's session is gone, or no record (Curator)
    record_blocks_ = false;
  }
  if (--lock_reads_ > 0) return {};
  return Decide(io, joiner);
}

// The previous owner may still claim while its record names the vanished
// node; without a record to ask, while active_server_info is another live
// session's. A record that names another uuid clears it: its owner stopped
// claiming with the node before it wrote that.
TakeoverStep Takeover::Decide(CoreIo& io, const Joiner& joiner) {
  bool blocked = record_known_ ? record_blocks_ : asi_blocks_;
  if (blocked && lock_until_ && io.now() >= *lock_until_) blocked = false;
  if (!blocked) {
    if (lock_until_) {
      io.Log(LogAction::kInfo, "lock-delay over: taking the lead");
    }
    lock_until_.reset();
    lock_logged_ = false;
    return SendClaimCheck(io, joiner, claim_epoch_);
  }
  if (!lock_until_) {
    Duration wait = std::max(lease_length_, record_lease_);
    wait += wait / 10;
    lock_until_ = io.now() + wait;
    if (!lock_logged_) {
      lock_logged_ = true;
      io.Log(LogAction::kWarning,
             "lock-delay: latch node " + (vanished_node_.empty() ? std::string("of the last leader") : vanished_node_) +
                 " vanished without a handover and its owner may still claim (" +
                 (record_known_ ? "its member record " + MemberPath(zk_root_, vanished_id_) + " still names it"
                                : "active_server_info belongs to another live session") +
                 "); waiting up to " + std::to_string(ToMillis(wait)) + " ms");
    }
  }
  return {};
}

TakeoverStep Takeover::OnTick(CoreIo& io, const Joiner& joiner) {
  if (!lock_until_ || io.now() < *lock_until_ || lock_reads_ > 0) return {};
  return Decide(io, joiner);
}

bool Takeover::OnLockWatch(CoreIo& io, const ZkWatchEvent& w, const Joiner& joiner, TakeoverStep* step) {
  if (!lock_until_ || vanished_id_.empty() || w.path != MemberPath(zk_root_, vanished_id_)) return false;
  // The record changed or went: read it again (with a new watch) and decide.
  lock_reads_ = 1;
  io.Send(WatchRequest(MemberPath(zk_root_, vanished_id_)), Purpose::kLockDelayRecord);
  *step = {};
  return true;
}

TakeoverStep Takeover::OnOwnWatch(CoreIo& io, const ZkWatchEvent& w, const Joiner& joiner,
                                  bool leading) {
  if (w.type == WatchEventType::kDeleted) {
    return Lost("own latch node " + joiner.own_node() + " was deleted", "own latch node deleted");
  }
  if (leading) io.Send(WatchRequest(joiner.OwnPath()), Purpose::kVerifyOwner, joiner.own_node());
  return {};
}

void Takeover::WatchOwnNode(CoreIo& io, const Joiner& joiner) {
  io.Send(WatchRequest(joiner.OwnPath()), Purpose::kWatchOwn, joiner.own_node());
}

}  // namespace latchd
