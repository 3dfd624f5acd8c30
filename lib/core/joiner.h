// Joiner: this agent's own latch node — creating it (and the latch path when
// it is missing), finding it again after a create whose answer was lost
// (CURATOR-498), taking back the node of a resumed session, and deleting
// every node an earlier attempt or session may have left behind. Curator
// LeaderLatch compatible: one EPHEMERAL_SEQUENTIAL node
// <latch>/_c_<uuid>-latch-<seq> with data = the participant id.
// docs/design.md, "Joining the latch" (step 1) and "Restart without failover".
//
// Promises:
//  * At most one own node at a time: a create of an abandoned attempt that
//    lands anyway is deleted when its answer arrives; a node whose create was
//    lost is found by its uuid after the reconnect and adopted only if its
//    ephemeralOwner is the current session, else deleted; uuids of attempts
//    whose outcome is unknown when their session ends are remembered and
//    their nodes deleted once a new session is up.
//  * Repeated trouble backs off: the first two rejoins in a row are at once,
//    then 50 ms doubling to 1.6 s, each delay drawn from [d/2, d] by the
//    attempt's uuid (no reset storms, CURATOR-504/644/645; agents whose nodes
//    are deleted together do not come back together). The count starts over
//    only when a node has stood for kStableFor after reaching the lead or a
//    watch on its predecessor: a node deleted again and again by another
//    client (a wipe of the root) keeps the agent backing off.
//
// Each handler returns what the rest of the core must do (JoinStep); the
// Joiner itself only sends its own requests. Thread-safety: none.
#ifndef LATCHD_LIB_CORE_JOINER_H_
#define LATCHD_LIB_CORE_JOINER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/core_io.h"

namespace latchd {

enum class JoinPhase {
  kIdle,
  kPreparing,  // a new attempt's uuid is chosen; the member record must carry it first
  kCreating, kEnsuringParents, kRecovering, kJoined,
};

// What an answer meant for the rest of the core.
enum class JoinStep {
  kNone,
  kCreated,        // joined with a node created in this session (owner and epoch known)
  kAdopted,        // joined with the node of a lost create, found and owned by this session
  kRestart,        // start a new attempt now (Start)
  kRejoin,         // trouble: reset the node and rejoin with backoff (reason in JoinResult)
  kReconnect,      // the outcome is unknown: resynchronise after the reconnect
};
struct JoinResult {
  JoinStep step = JoinStep::kNone;
  std::string reason;
};

class Joiner {
 public:
  Joiner(std::string latch_path, std::string id, std::function<std::string()> new_uuid);

  JoinPhase phase() const { return phase_; }
  bool joined() const { return phase_ == JoinPhase::kJoined; }
  const std::string& own_node() const { return own_node_; }
  std::string OwnPath() const { return latch_path_ + "/" + own_node_; }
  // The own node's ephemeralOwner is known to be this session (created or
  // adopted in it); then own_czxid() is its czxid (the epoch it would lead).
  bool owner_known() const { return owner_known_; }
  int64_t own_czxid() const { return own_czxid_; }
  std::optional<MonoTime> join_at() const { return join_at_; }

  // A new attempt (the caller bumped the generation): a fresh uuid, returned;
  // Create() follows once the member record carries it.
  const std::string& Prepare();
  // The create of the prepared attempt.
  void Create(CoreIo& io);
  // The uuid of the current attempt ("" before the first, or after Reset()).
  const std::string& uuid() const { return uuid_; }
  // Stays idle (not connected, or stopping).
  void Idle() { phase_ = JoinPhase::kIdle, join_at_.reset(); }
  // Idle until `at`, then the core starts a new attempt (join_at()).
  void JoinAt(MonoTime at) { phase_ = JoinPhase::kIdle, join_at_ = at; }
  // Forgets the node (the caller bumped the generation).
  void Reset();
  // After Reset for trouble: the next attempt now (true: call Start) or later (join_at).
  bool ScheduleRejoin(CoreIo& io);
  // Leadership reached or a predecessor watch set: if the node still stands
  // kStableFor from now, the next rejoin's backoff starts over.
  void ClearFailures(MonoTime now) { stable_at_ = now + kStableFor; }
  static constexpr Duration kStableFor = std::chrono::seconds(2);

  // The session ended while a create's outcome was unknown: its node, if
  // any, is an orphan to delete in the next session.
  void OnSessionGone();
  // Lists the latch to delete the nodes of remembered orphan uuids, if any.
  void DeleteOrphans(CoreIo& io);
  // The recorded session of this agent's previous run that ZooKeeper refused
  // to resume (0: none): that process is gone, whatever its session still holds.
  int64_t unresumed_session() const { return unresumed_session_; }
  // The resumed session of a restart: its recorded node is taken back (the
  // caller bumped the generation; the listing and the owner check decide).
  void TakeBack(const std::string& node);
  // ZooKeeper refused to resume `session`: deletes its recorded `node` if the
  // node still exists and still belongs to that session.
  void DeleteUnresumed(CoreIo& io, int64_t session, const std::string& node);
  // Reconnected in the same session, not joined: what the phase needs; true
  // means "call Start".
  bool Resync(CoreIo& io);
  // The own node is given up while it may still exist (a yield while
  // disconnected): delete it by its uuid after the reconnect.
  void Abandon();

  // Answers to the Joiner's requests (Purpose kCreateNode .. kUnresumedOwner).
  // `current` is false for an answer of an abandoned attempt.
  JoinResult OnResult(CoreIo& io, const ZkResult& r, const Pending& p, bool current);

 private:
  JoinResult OnCreateNode(CoreIo& io, const ZkResult& r);
  JoinResult OnCreateParent(CoreIo& io, const ZkResult& r, const Pending& p);
  JoinResult OnRecoverList(CoreIo& io, const ZkResult& r);
  JoinResult OnRecoverOwner(CoreIo& io, const ZkResult& r, const Pending& p);
  void OnAbandonedCreate(CoreIo& io, const ZkResult& r, const Pending& p);
  void OnOrphanList(CoreIo& io, const ZkResult& r);
  void OnUnresumedOwner(CoreIo& io, const ZkResult& r, const Pending& p);

  const std::string latch_path_;
  const std::string id_;
  const std::function<std::string()> new_uuid_;

  JoinPhase phase_ = JoinPhase::kIdle;
  std::string uuid_;
  std::string own_node_;
  bool lost_create_ = false;     // a create's outcome is unknown (connection loss)
  bool owner_known_ = false;
  int64_t own_czxid_ = 0;
  std::vector<std::string> orphan_uuids_;  // from attempts or sessions that are gone
  int64_t unresumed_session_ = 0;  // the recorded session ZooKeeper refused to resume
  size_t parent_index_ = 0;
  std::optional<MonoTime> join_at_;
  int join_failures_ = 0;
  std::optional<MonoTime> stable_at_;  // failures forgiven if the node stands until then
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_JOINER_H_
