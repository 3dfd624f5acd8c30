// LatchCore: the election as a deterministic state machine (sans I/O).
//
// It is fed events with the current monotonic time and answers with actions:
// ZooKeeper requests to send, role changes to announce, log lines, and
// session control. It never reads a clock, sleeps, or touches a socket; the
// shell calls Handle(Tick, now) at NextDeadline() and whenever it wakes up.
//
// Promises (see docs/design.md for the reasoning):
//  * A claim (BECOMING_ACTIVE or ACTIVE) is made only while the lease holds:
//    lease end = send time of the latest write ZooKeeper answered in the
//    current session + negotiated session timeout x (1 - lease_margin).
//  * RoleAt(now) re-checks the lease: it never returns a claim at or after the
//    lease end, even if no Tick has been handled since.
//  * Role changes are announced one step at a time, in order, never skipping a
//    role: PASSIVE -> BECOMING_ACTIVE -> ACTIVE -> BECOMING_PASSIVE -> PASSIVE
//    (and BECOMING_PASSIVE -> BECOMING_ACTIVE when a lapsed lease is renewed
//    while the own node is still first: same epoch).
//  * Leadership is taken only from a listing of the latch that was sent right
//    behind a sync (and an owner read sent after it), and then only after a
//    check(own node) write, except in a graceful handover: when the node
//    before this agent's was first and its owner deleted it in its step-down
//    write, which names it in the data of <root>/leader_elector_path (the
//    handover mark).
//    ACTIVE comes only with the answer of a write sent after the claim (the
//    guarded publish of active_server_info; without an advertise URL a check
//    of the own node).
//  * Curator LeaderLatch wire compatibility: one EPHEMERAL_SEQUENTIAL node
//    <root>/leader_elector_path/_c_<uuid>-latch-<seq> with data = id; only the
//    predecessor is watched (data watch).
//
// Thread-safety: none; use from one thread (the agent's event loop).
// Errors: ZooKeeper failures arrive as events and are handled inside; the core
// reports what it did through Log actions and never fails a call.
#ifndef LATCHD_LIB_CORE_LATCH_CORE_H_
#define LATCHD_LIB_CORE_LATCH_CORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lib/core/latch_node.h"
#include "lib/core/role.h"
#include "lib/util/clock.h"
#include "lib/zk/zk_types.h"

namespace latchd {

struct LatchConfig {
  std::string id;                 // participant id (latch node data)
  std::string advertise;          // URL written to active_server_info; empty = publish nothing
  std::string zk_root = "/latchd";
  double lease_margin = 0.25;     // lease = session timeout x (1 - margin)
  double renew_fraction = 0.1;    // renew every session timeout x this
  Duration stop_timeout = std::chrono::seconds(3);
  // Activation gates: after winning, stay BECOMING_ACTIVE until every enabled
  // gate passed for this epoch, then publish and go ACTIVE. A gate that fails
  // or is not passed within activation_timeout gives leadership up (delete the
  // node, rejoin at the back). With both gates, activation_timeout bounds the
  // whole activation (the hook runner bounds the hook on its own).
  bool require_ack = false;       // an AckEvent for the epoch
  bool require_hook = false;      // a successful HookDoneEvent for BECOMING_ACTIVE of the epoch
  Duration activation_timeout = std::chrono::seconds(30);
  std::function<std::string()> new_uuid;  // 36-char lowercase UUIDs
  // After a restart: if the first session is this resumed one, the latch node
  // recorded for it is taken back (checked like any other) instead of joining anew.
  // If it is another one (ZooKeeper refused the resume), the recorded node is
  // deleted if it still exists and still belongs to resume_session: nobody
  // will ever use that session again, and its node would otherwise hold the
  // latch until ZooKeeper expires the session.
  int64_t resume_session = 0;
  std::string resume_node;
};

// ---- Events --------------------------------------------------------------
struct SessionUpEvent { int64_t session_id = 0; Duration timeout{}; };  // CONNECTED
struct SessionDownEvent {};                                             // CONNECTING
struct SessionExpiredEvent { std::string reason = "session expired"; };
struct ResultEvent { ZkResult result; };
struct WatchEvent { ZkWatchEvent watch; };
struct TickEvent {};
struct StopEvent {};   // graceful stop: step down, delete own nodes, finish
struct YieldEvent {};  // step down and rejoin at the back of the latch
struct AckEvent { int64_t epoch = 0; };  // the server finished activating for epoch
struct HookDoneEvent { Role role; int64_t epoch = 0; bool ok = true; std::string detail; };
using Event = std::variant<SessionUpEvent, SessionDownEvent, SessionExpiredEvent, ResultEvent,
                           WatchEvent, TickEvent, StopEvent, YieldEvent, AckEvent, HookDoneEvent>;

// ---- Actions -------------------------------------------------------------
struct SendAction { ZkRequest request; };
struct RoleChangeAction {
  Role from = Role::kPassive;
  Role to = Role::kPassive;
  int64_t epoch = 0;
  std::string reason;
};
struct LogAction { enum Level { kInfo, kWarning, kError } level; std::string message; };
struct ReopenSessionAction { std::string reason; };  // close the dead handle, open a new session
struct FinishedAction {};                            // graceful stop done: close session, exit
struct AckResultAction { bool ok; std::string message; };  // the answer to an AckEvent
struct ActivationFailedAction { int64_t epoch; std::string reason; };  // leadership given up
using Action = std::variant<SendAction, RoleChangeAction, LogAction, ReopenSessionAction,
                            FinishedAction, AckResultAction, ActivationFailedAction>;

struct LeaderInfo {
  std::string id;       // empty if unknown
  std::string address;  // from active_server_info; empty if unknown
  int64_t epoch = 0;    // czxid of the leader's latch node; 0 if unknown
};

struct CoreStatus {
  Role role = Role::kPassive;
  int64_t epoch = 0;             // the current term as this agent knows it
  LeaderInfo leader;
  bool connected = false;
  int64_t session_id = 0;
  Duration session_timeout{};
  std::optional<Duration> lease_remaining;  // nullopt: no lease
  MonoTime since{};              // time of the last role change
  std::string own_node;          // latch node name, empty if none
  int participants = 0;          // latch participants in the last listing
};

// One latch participant as of the last listing.
struct Participant {
  std::string node;  // latch node name
  std::string id;    // the participant's id (node data); "" until read
};

class LatchCore {
 public:
  explicit LatchCore(LatchConfig config);

  // Feeds one event observed at `now` (monotonic, non-decreasing across calls).
  std::vector<Action> Handle(const Event& event, MonoTime now);
  // The earliest time at which Handle(TickEvent) has work to do; nullopt if none.
  std::optional<MonoTime> NextDeadline() const;

  // The role to report at `now`: a claim only while the lease holds.
  Role RoleAt(MonoTime now) const;
  // Everything but the participant list; cheap (no container copies), for
  // answering every status request.
  CoreStatus StatusAt(MonoTime now) const;
  // The participants of the last listing, in latch order.
  std::vector<Participant> Participants() const;
  const LatchConfig& config() const { return config_; }

 private:
  enum class Phase { kIdle, kCreating, kEnsuringParents, kRecovering, kJoined, kYielding,
                     kStopping, kStopped };
  enum class Purpose { kCreateNode, kCreateParent, kRecoverList, kRecoverOwner, kDeleteStray,
                       kOrphanList, kList, kWatchPred, kVerifyOwner, kRenew, kPublishCreate,
                       kPublishGet, kPublishSet, kPublishDelete, kPublishCheck, kLeaderGet,
                       kAddressGet, kStepDownDelete, kParticipantGet, kSync, kUnresumedOwner,
                       kClaimCheck, kHandoverMark, kStepDownMarked, kStepDownBoth, kWatchOwn };
  struct Pending {
    Purpose purpose;
    MonoTime sent;
    int64_t session;
    uint64_t gen;
    ZkRequestKind kind;
    std::string node;  // child name or path the request is about (kList: handover_from_)
    uint64_t sync_id = 0;  // kList: the sync sent right before it, if any
    uint64_t mark_id = 0;  // kList: the read of the handover mark before it, if any
  };

  // Events.
  void OnSessionUp(const SessionUpEvent& e);
  void OnSessionDown();
  void OnSessionExpired(const std::string& reason);
  void OnResult(const ZkResult& r);
  void OnWatch(const ZkWatchEvent& w);
  void OnTick();
  void OnStop();
  void OnYield();
  void OnAck(const AckEvent& e);
  void OnHookDone(const HookDoneEvent& e);
  void GiveUp(const std::string& reason);
  void StepDownAndRejoin(const std::string& reason);
  bool GatesPassed() const;
  void OnParticipantGet(const ZkResult& r, const Pending& p);

  // Result handlers by purpose.
  void OnCreateNode(const ZkResult& r, const Pending& p);
  void OnCreateParent(const ZkResult& r, const Pending& p);
  void OnRecoverList(const ZkResult& r);
  void OnRecoverOwner(const ZkResult& r, const Pending& p);
  void OnOrphanList(const ZkResult& r);
  void OnUnresumedOwner(const ZkResult& r, const Pending& p);
  void OnList(const ZkResult& r, const Pending& p);
  void OnWatchPred(const ZkResult& r, const Pending& p);
  void OnVerifyOwner(const ZkResult& r);
  void OnWatchOwn(const ZkResult& r, const Pending& p);
  void OnClaimCheck(const ZkResult& r);
  void SendClaimCheck(int64_t czxid);
  void Claim(int64_t czxid);
  void WatchOwnNode();
  bool LeadershipStepOk(const ZkResult& r);
  void OnRenew(const ZkResult& r);
  void OnPublish(const ZkResult& r, const Pending& p);
  void OnLeaderGet(const ZkResult& r, const Pending& p);
  void OnAddressGet(const ZkResult& r);
  void OnStepDownDelete(const ZkResult& r, const Pending& p);

  // Steps.
  void StartJoin();
  void ScheduleRejoin(const std::string& reason);
  void Resync();
  void SendList();
  void SendRenew();
  void SendPublish();
  void SendStepDownDeletes();
  void SendMarkedDelete();
  void MaybeClaim();
  void LoseLeadership(const std::string& reason);
  void StopClaiming(const std::string& reason);
  void ResetNode();
  void SetRole(Role to, const std::string& reason);
  void NoteConnectionLoss();
  bool InFlight(Purpose purpose) const;
  void OnAbandonedCreate(const ZkResult& r, const Pending& p);

  uint64_t Send(ZkRequest req, Purpose purpose, std::string node = {});
  void Log(LogAction::Level level, std::string message);
  bool LeaseValid() const { return LeaseValidAt(now_); }
  bool LeaseValidAt(MonoTime t) const { return lease_end_ && t < *lease_end_; }
  Duration LeaseLength() const;
  Duration RenewInterval() const;
  std::string OwnPath() const { return latch_path_ + "/" + own_node_; }

  LatchConfig config_;
  std::string latch_path_;
  std::string asi_path_;

  MonoTime now_{};
  std::vector<Action> out_;
  uint64_t next_request_id_ = 1;
  std::map<uint64_t, Pending> pending_;

  // Session.
  bool connected_ = false;
  int64_t session_id_ = 0;
  Duration timeout_{};
  std::optional<MonoTime> lease_end_;
  bool needs_resync_ = false;

  // Latch node.
  Phase phase_ = Phase::kIdle;
  uint64_t gen_ = 0;             // bumps whenever the own-node attempt changes
  std::string uuid_;
  std::string own_node_;
  bool lost_create_ = false;     // a create's outcome is unknown (connection loss)
  // The own node's ephemeralOwner is known to be this session (it was created
  // or adopted in it), so no owner read is needed before the claim.
  bool owner_known_ = false;
  int64_t own_czxid_ = 0;        // the own node's czxid, when owner_known_
  std::vector<std::string> orphan_uuids_;  // from sessions that are gone
  int64_t unresumed_session_ = 0;  // the recorded session ZooKeeper refused to resume
  size_t parent_index_ = 0;
  std::string watched_pred_;
  bool list_in_flight_ = false;
  uint64_t synced_ = 0;          // id of the last sync answered OK (ids are never reused)
  // The predecessor, when it was first in the last listing that showed this
  // agent second; and the last read of the handover mark (request id, data).
  std::string handover_from_;
  uint64_t mark_id_ = 0;
  std::string mark_;
  bool renew_in_flight_ = false;
  MonoTime next_renew_{};
  std::optional<MonoTime> join_at_;
  int join_failures_ = 0;
  int participants_ = 0;
  std::vector<std::string> participant_nodes_;

  // Leadership and role.
  bool leader_ = false;          // own node verified first and owned by this session
  bool published_ = false;
  bool publish_in_flight_ = false;
  int32_t asi_version_ = -1;
  Role role_ = Role::kPassive;
  MonoTime since_{};
  int64_t epoch_ = 0;            // own term (valid while leader_ or stepping down)
  int64_t claim_epoch_ = 0;      // the own node's czxid, until the claim check
  std::string leader_node_;
  LeaderInfo leader_info_;

  // Activation gates, per BECOMING_ACTIVE entry.
  bool acked_ = false;
  bool hook_ok_ = false;
  std::optional<MonoTime> activation_deadline_;
  std::map<std::string, std::string> participant_ids_;  // node name -> id

  // Stop / yield.
  bool stopping_ = false;
  std::optional<MonoTime> stop_deadline_;
  int step_down_pending_ = 0;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_LATCH_CORE_H_
