#include "lib/core/takeover.h"

#include <utility>

#include "lib/util/session_id.h"

namespace latchd {

TakeoverStep Takeover::Lost(std::string reason, std::string rejoin_reason) {
  TakeoverStep s;
  s.kind = TakeoverStep::kLost;
  s.reason = std::move(reason);
  s.rejoin_reason = std::move(rejoin_reason);
  return s;
}

TakeoverStep Takeover::OnFirst(CoreIo& io, const ListOutcome& list, const Joiner& joiner,
                               LatchView& view) {
  if (io.InFlight(Purpose::kVerifyOwner) || io.InFlight(Purpose::kClaimCheck)) return {};
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
    return s;
  }
  if (joiner.owner_known()) return SendClaimCheck(io, joiner, joiner.own_czxid());
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
  if (p.purpose == Purpose::kWatchOwn) {
    // NONODE: the node is already gone and no watch was set: as a deletion.
    if (r.code != ZkCode::kNoNode || !joiner.joined() || p.node != joiner.own_node()) return {};
    return Lost("own latch node " + joiner.own_node() + " was deleted", "own latch node deleted");
  }
  // The answers on the way to leadership.
  if (IsUncertain(r.code)) return TakeoverStep{TakeoverStep::kReconnect};
  if (r.code == ZkCode::kNoNode) {
    return Lost("own latch node is gone", "own latch node gone before taking leadership");
  }
  if (r.code != ZkCode::kOk || leading) return {};
  if (p.purpose == Purpose::kClaimCheck) {
    TakeoverStep s;
    s.kind = TakeoverStep::kClaim;
    s.epoch = claim_epoch_;
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
  return SendClaimCheck(io, joiner, r.stat.czxid);
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
