#include "lib/core/latch_view.h"

#include <algorithm>
#include <utility>

#include "lib/core/latch_node.h"

namespace latchd {

std::vector<Participant> LatchView::Participants() const {
  std::vector<Participant> out;
  out.reserve(participant_nodes_.size());
  for (const auto& node : participant_nodes_) {
    auto it = participant_ids_.find(node);
    out.push_back(Participant{node, it == participant_ids_.end() ? std::string() : it->second});
  }
  return out;
}

void LatchView::SendList(CoreIo& io, bool leading) {
  if (list_in_flight_ || !io.connected()) return;
  list_in_flight_ = true;
  uint64_t sync_id = 0, mark_id = 0;
  if (!leading) {
    // This listing may make the agent leader: send a sync right before it.
    // ZooKeeper answers one session's requests in order, so the listing comes
    // from a server that has caught up with the ZooKeeper leader first: a
    // node deleted (by anyone) before the sync reached the leader is not in
    // it. This narrows what a lagging server can show; safety rests on the
    // claim check or the handover mark and on the guarded publish (ZooKeeper's
    // sync is not a quorum operation, ZOOKEEPER-1675).
    sync_id = io.Send(MakeRequest(ZkRequestKind::kSync, latch_path_), Purpose::kSync);
    if (!handover_from_.empty()) {
      // Second in line: whether the first node was handed over (OnList).
      mark_id = io.Send(MakeRequest(ZkRequestKind::kGetData, latch_path_), Purpose::kHandoverMark);
    }
  }
  uint64_t id =
      io.Send(MakeRequest(ZkRequestKind::kGetChildren, latch_path_), Purpose::kList, handover_from_);
  io.PendingOf(id).sync_id = sync_id;
  io.PendingOf(id).mark_id = mark_id;
}

ListOutcome LatchView::OnList(CoreIo& io, const ZkResult& r, const Pending& p,
                              const std::string& own_node) {
  list_in_flight_ = false;
  ListOutcome out;
  if (IsUncertain(r.code)) {
    out.kind = ListOutcome::kReconnect;
    return out;
  }
  if (r.code == ZkCode::kNoNode) {
    out.kind = ListOutcome::kPathGone;
    return out;
  }
  if (r.code != ZkCode::kOk) return out;
  std::vector<LatchNode> nodes = SortLatchNodes(r.children);
  const std::string previous_leader = leader_node_;
  std::string previous_leader_id;
  if (auto it = participant_ids_.find(previous_leader); it != participant_ids_.end()) {
    previous_leader_id = it->second;
  }
  if (previous_leader_id.empty() && !leader_info_.id.empty()) previous_leader_id = leader_info_.id;
  participants_ = static_cast<int>(nodes.size());
  participant_nodes_.clear();
  std::map<std::string, std::string> ids;
  for (const auto& n : nodes) {
    participant_nodes_.push_back(n.name);
    auto known = participant_ids_.find(n.name);
    if (known != participant_ids_.end()) {
      ids.insert(*known);
    } else {
      ids[n.name] = "";
      io.Send(MakeRequest(ZkRequestKind::kGetData, latch_path_ + "/" + n.name),
              Purpose::kParticipantGet, n.name);
    }
  }
  participant_ids_ = std::move(ids);
  auto own = std::find_if(nodes.begin(), nodes.end(),
                          [&](const LatchNode& n) { return n.name == own_node; });
  if (own == nodes.end()) {
    out.kind = ListOutcome::kOwnGone;
    return out;
  }
  // Who leads, for everyone's view of the leader.
  const LatchNode& first = nodes.front();
  if (first.name != leader_node_) {
    leader_node_ = first.name;
    if (first.name != own_node) {
      leader_info_ = LeaderInfo{};
      io.Send(MakeRequest(ZkRequestKind::kGetData, latch_path_ + "/" + first.name),
              Purpose::kLeaderGet, first.name);
      io.Send(WatchRequest(asi_path_), Purpose::kAddressGet);
    }
  }
  if (own == nodes.begin()) {
    out.kind = ListOutcome::kFirst;
    out.sent_synced = p.sync_id != 0;
    out.synced = p.sync_id != 0 && p.sync_id == synced_;
    // A graceful handover: the node before this one was first, and its owner
    // deleted it in its step-down write, which also wrote its name to the
    // latch node (read after the sync, before this listing).
    out.handed_over = !p.node.empty() && p.mark_id != 0 && p.mark_id == mark_id_ && mark_ == p.node;
    if (out.handed_over) out.handed_over_from = p.node;
    bool still_there = std::any_of(nodes.begin(), nodes.end(),
                                   [&](const LatchNode& n) { return n.name == previous_leader; });
    if (!previous_leader.empty() && previous_leader != own_node && !still_there) {
      out.vanished_leader = previous_leader;
      out.vanished_leader_id = previous_leader_id;
    }
    return out;
  }
  const LatchNode& pred = *(own - 1);
  handover_from_ = own - nodes.begin() == 1 ? pred.name : std::string();
  pending_pred_ = pred.name;
  out.kind = ListOutcome::kNotFirst;
  return out;
}

void LatchView::WatchPredecessor(CoreIo& io) {
  if (pending_pred_.empty() || pending_pred_ == watched_pred_) return;
  watched_pred_ = pending_pred_;
  io.Send(WatchRequest(latch_path_ + "/" + watched_pred_), Purpose::kWatchPred, watched_pred_);
}

bool LatchView::OnWatchPred(CoreIo& io, const ZkResult& r, const Pending& p, bool leading,
                            bool* reconnect) {
  if (p.node != watched_pred_) return false;
  if (r.code == ZkCode::kOk) return true;
  watched_pred_.clear();
  if (IsUncertain(r.code)) {
    *reconnect = true;
    return false;
  }
  SendList(io, leading);  // predecessor already gone: look again
  return false;
}

bool LatchView::OnPredecessorWatch(CoreIo& io, const ZkWatchEvent& w, bool leading) {
  if (watched_pred_.empty() || w.path != latch_path_ + "/" + watched_pred_) return false;
  if (w.type == WatchEventType::kDataChanged) {
    io.Send(WatchRequest(w.path), Purpose::kWatchPred, watched_pred_);
    return true;
  }
  watched_pred_.clear();
  SendList(io, leading);
  return true;
}

void LatchView::OnAddressWatch(CoreIo& io) {
  io.Send(WatchRequest(asi_path_), Purpose::kAddressGet);
  SendList(io, /*leading=*/false);  // a new leader publishes it: learn who leads now
}

void LatchView::OnReadResult(const ZkResult& r, const Pending& p, bool leading) {
  switch (p.purpose) {
    case Purpose::kLeaderGet:
      if (r.code != ZkCode::kOk || p.node != leader_node_) return;
      leader_info_.id = r.data;
      leader_info_.epoch = r.stat.czxid;
      return;
    case Purpose::kAddressGet:
      if (leading) return;
      if (r.code == ZkCode::kOk) leader_info_.address = r.data;
      if (r.code == ZkCode::kNoNode) leader_info_.address.clear();
      return;
    case Purpose::kParticipantGet: {
      auto it = participant_ids_.find(p.node);
      if (it != participant_ids_.end() && r.code == ZkCode::kOk) it->second = r.data;
      return;
    }
    case Purpose::kSync:
      if (r.code == ZkCode::kOk) synced_ = r.id;
      return;
    case Purpose::kHandoverMark:
      if (r.code == ZkCode::kOk) {
        mark_id_ = r.id;
        mark_ = r.data;
      }
      return;
    default:
      return;
  }
}

void LatchView::OnRenewalTick(CoreIo& io, bool leading) {
  // Only the predecessor is watched, so an agent further back learns of a
  // new leader (and the participants) from this periodic listing.
  SendList(io, leading);
  if (!leading && leader_info_.address.empty() && !leader_node_.empty()) {
    io.Send(WatchRequest(asi_path_), Purpose::kAddressGet);
  }
}

void LatchView::LeadSelf(const std::string& own_node, const std::string& id, int64_t epoch) {
  handover_from_.clear();
  leader_node_ = own_node;
  leader_info_ = LeaderInfo{id, "", epoch};
}

void LatchView::ForgetLeader() {
  leader_node_.clear();
  leader_info_ = LeaderInfo{};
}

void LatchView::Reset() {
  watched_pred_.clear();
  pending_pred_.clear();
  handover_from_.clear();
  list_in_flight_ = false;
  participants_ = 0;
  participant_nodes_.clear();
}

}  // namespace latchd
