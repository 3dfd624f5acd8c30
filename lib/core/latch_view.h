// LatchView: the order of the latch as this agent sees it — the listings
// (behind a sync when they may make the agent leader), the handover mark,
// the watch on the predecessor, the participants and who leads.
// docs/design.md, "Joining the latch" (steps 2-4) and "Knowing the leader".
//
// Promises:
//  * Only the predecessor is watched (a data watch: getData), never the
//    whole latch (no herd); a predecessor that is gone, or whose watch fires
//    as deleted, triggers a new listing.
//  * A listing sent while the agent does not lead goes right behind a
//    `sync` (and, when the agent was second, a read of the handover mark):
//    OnList tells whether the answer may be used for a claim (`synced`) and
//    whether the first node before it was handed over (the mark names it).
//  * Foreign children (not `…latch-<10 digits>`) are ignored.
//  * Leader id, epoch (the leader node's czxid) and address
//    (<root>/active_server_info, data-watched while it exists) are read when
//    the first node changes; participant ids once per new child.
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_LATCH_VIEW_H_
#define LATCHD_LIB_CORE_LATCH_VIEW_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/core/core_io.h"

namespace latchd {

// What a listing showed.
struct ListOutcome {
  enum Kind {
    kNone,       // nothing to do (an error answer, or nothing changed for the caller)
    kReconnect,  // the outcome is unknown: resynchronise after the reconnect
    kPathGone,   // the latch path is gone (CURATOR-724): rejoin
    kOwnGone,    // the own node is not in the latch: rejoin
    kFirst,      // the own node is first
    kNotFirst,   // the own node is not first (call WatchPredecessor after acting on it)
  };
  Kind kind = kNone;
  // kFirst: the listing was sent behind a sync that was answered OK, so it
  // may make the agent leader; `sent_synced` is false for a listing sent
  // while the agent led (no sync).
  bool synced = false;
  bool sent_synced = false;
  // kFirst: the node first before (when this agent was second) was deleted
  // by its owner's step-down: the handover mark, read after the sync, names it.
  bool handed_over = false;
  std::string handed_over_from;
  // kFirst: the node that led in this agent's previous listing and is gone
  // now, and its participant id when it was read ("" when unknown): the
  // lock-delay asks whether its owner may still claim (lib/core/takeover.h).
  std::string vanished_leader;
  std::string vanished_leader_id;
};

class LatchView {
 public:
  LatchView(std::string latch_path, std::string asi_path)
      : latch_path_(std::move(latch_path)), asi_path_(std::move(asi_path)) {}

  const LeaderInfo& leader() const { return leader_info_; }
  const std::string& leader_node() const { return leader_node_; }
  int participants() const { return participants_; }
  std::vector<Participant> Participants() const;

  // Lists the latch (one listing in flight at a time; not while disconnected).
  // `leading`: the agent leads, so the listing needs no sync.
  void SendList(CoreIo& io, bool leading);
  // The answer to a listing; `own_node` is the agent's node.
  ListOutcome OnList(CoreIo& io, const ZkResult& r, const Pending& p, const std::string& own_node);
  // After kNotFirst: watch the node before the own one (if it changed).
  void WatchPredecessor(CoreIo& io);
  // The answer to the predecessor's getData. True: the watch is set (the
  // agent is waiting its turn). Uncertain codes ask for a resync (*reconnect).
  bool OnWatchPred(CoreIo& io, const ZkResult& r, const Pending& p, bool leading,
                   bool* reconnect);
  // A watch on a latch child fired. True if it was the predecessor's.
  bool OnPredecessorWatch(CoreIo& io, const ZkWatchEvent& w, bool leading);
  // A watch on active_server_info fired while not leading: read it again and
  // look who leads.
  void OnAddressWatch(CoreIo& io);
  // Answers to the reads of the leader's node, active_server_info, participants,
  // the sync and the handover mark.
  void OnReadResult(const ZkResult& r, const Pending& p, bool leading);
  // The periodic look (every renewal interval): a listing, and the address
  // while it is unknown.
  void OnRenewalTick(CoreIo& io, bool leading);

  // This agent leads with `epoch`: it is its own leader.
  void LeadSelf(const std::string& own_node, const std::string& id, int64_t epoch);
  // This agent's address is published.
  void SetOwnAddress(const std::string& address) { leader_info_.address = address; }
  // Leadership of this agent ended: the leader is unknown until the next listing.
  void ForgetLeader();
  // A new own-node attempt: no handover, no predecessor.
  void ForgetPredecessor() { watched_pred_.clear(), handover_from_.clear(); }
  // The own node is gone: forget its place and the participants.
  void Reset();
  // The connection broke: a listing in flight is lost.
  void OnDisconnect() { list_in_flight_ = false; }

 private:
  const std::string latch_path_;
  const std::string asi_path_;

  bool list_in_flight_ = false;
  uint64_t synced_ = 0;          // id of the last sync answered OK (ids are never reused)
  // The predecessor, when it was first in the last listing that showed this
  // agent second; and the last read of the handover mark (request id, data).
  std::string handover_from_;
  uint64_t mark_id_ = 0;
  std::string mark_;
  std::string watched_pred_;
  std::string pending_pred_;     // set by OnList for WatchPredecessor
  int participants_ = 0;
  std::vector<std::string> participant_nodes_;
  std::map<std::string, std::string> participant_ids_;  // node name -> id
  std::string leader_node_;
  LeaderInfo leader_info_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_LATCH_VIEW_H_
