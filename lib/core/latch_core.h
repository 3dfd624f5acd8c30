// LatchCore: the election as a deterministic state machine (sans I/O).
//
// It is fed events with the current monotonic time and answers with actions:
// ZooKeeper requests to send, role changes to announce, log lines, and
// session control. It never reads a clock, sleeps, or touches a socket; the
// shell calls Handle(Tick, now) at NextDeadline() and whenever it wakes up.
//
// It is made of parts, each a small machine of its own (docs/design.md,
// "Code organisation"): the Joiner (the own latch node), the LatchView (the
// order of the latch and who leads), the Takeover (owner check, claim check),
// the Lease, the ActivationGates, the Publisher (active_server_info), the
// StepDown (stop, yield), the MemberRecord, the Candidacy (the server
// binding) and the RoleMachine (the role diagram). LatchCore
// routes events and answers to them and decides the role in one place,
// UpdateRole().
//
// Promises (see docs/design.md for the reasoning):
//  * A claim (BECOMING_ACTIVE or ACTIVE) is made only while the lease holds:
//    lease end = send time of the latest write ZooKeeper answered in the
//    current session + negotiated session timeout x (1 - lease_margin).
//  * RoleAt(now) re-checks the lease: it never returns a claim at or after the
//    lease end, even if no Tick has been handled since.
//  * Role changes are announced one step at a time, in order, never skipping a
//    role (lib/core/role_machine.h has the diagram); each carries the status
//    of its instant.
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
#include <optional>
#include <string>
#include <vector>

#include "lib/core/activation.h"
#include "lib/core/candidacy.h"
#include "lib/core/core_io.h"
#include "lib/core/core_types.h"
#include "lib/core/joiner.h"
#include "lib/core/latch_node.h"
#include "lib/core/latch_view.h"
#include "lib/core/member_record.h"
#include "lib/core/lease.h"
#include "lib/core/publisher.h"
#include "lib/core/role_machine.h"
#include "lib/core/step_down.h"
#include "lib/core/takeover.h"

namespace latchd {

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
  std::vector<Participant> Participants() const { return view_.Participants(); }
  const LatchConfig& config() const { return config_; }

 private:
  // Events.
  void OnSessionUp(const SessionUpEvent& e);
  void OnSessionDown();
  void OnSessionExpired(const std::string& reason);
  void OnResult(const ZkResult& r);
  void OnWatch(const ZkWatchEvent& w);
  void OnTick();
  void OnStop();
  void OnAck(const AckEvent& e);
  void OnHookDone(const HookDoneEvent& e);
  void OnCandidacy(const CandidacyEvent& e);

  // What the parts' answers mean for the whole.
  void OnJoinResult(const JoinResult& j);
  void OnListResult(const ZkResult& r, const Pending& p);
  void OnTakeoverStep(const TakeoverStep& s);
  void CheckLeaseMargin(Duration negotiated);
  void OnPublishStep(const PublishStep& s);

  // The role, following leadership, the lease, the gates and the publish.
  void UpdateRole();
  // One step of the role diagram; `epoch` overrides the epoch of the change.
  void SetRole(Role to, const std::string& reason, std::optional<int64_t> epoch = std::nullopt);
  void EndTerm(const std::string& reason);
  void StopClaiming(const std::string& reason);
  void LoseLeadership(const std::string& reason);
  void Claim(int64_t epoch);

  // Steps across parts.
  void StartJoin();
  void ScheduleRejoin(const std::string& reason);
  void ResetNode();
  void Resync();
  void Joined();
  void SendRenew();
  void OnRenew(const ZkResult& r);
  void GiveUp(const std::string& reason);
  // Steps down gracefully and joins again at the back (if still a candidate);
  // `handover` is the HandoverAction reason when this agent led.
  void StepDownAndRejoin(const std::string& reason, const char* handover);
  // Creates the prepared latch node once the member record carries its uuid.
  void MaybeCreate();
  // What this agent's member record should say now.
  MemberInfo MemberNow() const;
  void NoteConnectionLoss() { needs_resync_ = true; }
  void ReportSessionNode();

  // In the latch and not stepping down.
  bool Standing() const { return joiner_.joined() && !step_down_.active(); }
  bool LeaseValid() const { return lease_.ValidAt(io_.now()); }
  int64_t RoleEpoch(Role role) const { return role == Role::kPassive ? view_.leader().epoch : epoch_; }

  LatchConfig config_;
  const std::string latch_path_;
  const std::string asi_path_;
  CoreIo io_;

  // The parts.
  Lease lease_;
  RoleMachine roles_;
  Joiner joiner_;
  LatchView view_;
  Takeover takeover_;
  ActivationGates gates_;
  Publisher publisher_;
  StepDown step_down_;
  MemberRecord member_;
  Candidacy candidacy_;

  bool needs_resync_ = false;
  // Lease renewal: a check(own node) every renew interval.
  bool renew_in_flight_ = false;
  MonoTime next_renew_{};
  // Leadership: own node verified first and owned by this session.
  bool leader_ = false;
  int64_t epoch_ = 0;  // own term (valid while leader_ or stepping down)
  // Last reported (session, own node), for SessionNodeAction.
  int64_t reported_session_ = 0;
  std::string reported_node_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_LATCH_CORE_H_
