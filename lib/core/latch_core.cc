#include "lib/core/latch_core.h"

#include <algorithm>
#include <utility>

#include "lib/util/session_id.h"

namespace latchd {

LatchCore::LatchCore(LatchConfig config)
    : config_(std::move(config)),
      latch_path_(LatchPath(config_.zk_root)),
      asi_path_(ActiveServerInfoPath(config_.zk_root)),
      lease_(config_.lease_margin, config_.renew_fraction),
      joiner_(latch_path_, config_.id, config_.new_uuid),
      view_(latch_path_, asi_path_),
      takeover_(asi_path_, config_.zk_root),
      gates_(config_.require_ack, config_.require_hook, config_.activation_timeout),
      publisher_(asi_path_, config_.advertise),
      step_down_(latch_path_, asi_path_, config_.stop_timeout),
      member_(MembersPath(config_.zk_root), MemberPath(config_.zk_root, config_.id)),
      candidacy_(config_.zk_root, config_.start_healthy) {}

std::vector<Action> LatchCore::Handle(const Event& event, MonoTime now) {
  io_.Begin(now);
  roles_.StartAt(io_.now());  // the role has been PASSIVE since the first event
  std::visit(
      [this](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, SessionUpEvent>) OnSessionUp(e);
        else if constexpr (std::is_same_v<T, SessionDownEvent>) OnSessionDown();
        else if constexpr (std::is_same_v<T, SessionExpiredEvent>) OnSessionExpired(e.reason);
        else if constexpr (std::is_same_v<T, ResultEvent>) OnResult(e.result);
        else if constexpr (std::is_same_v<T, WatchEvent>) OnWatch(e.watch);
        else if constexpr (std::is_same_v<T, TickEvent>) OnTick();
        else if constexpr (std::is_same_v<T, StopEvent>) OnStop();
        else if constexpr (std::is_same_v<T, YieldEvent>) {
          if (!step_down_.stopping() && !step_down_.yielding()) StepDownAndRejoin("yield requested", "yield");
        } else if constexpr (std::is_same_v<T, AckEvent>) OnAck(e);
        else if constexpr (std::is_same_v<T, HookDoneEvent>) OnHookDone(e);
        else if constexpr (std::is_same_v<T, CandidacyEvent>) OnCandidacy(e);
      },
      event);
  // Whatever the event, a lapsed lease ends a claim now.
  if (roles_.claiming() && !LeaseValid()) UpdateRole();
  ReportSessionNode();
  return io_.TakeActions();
}

std::optional<MonoTime> LatchCore::NextDeadline() const {
  std::optional<MonoTime> next;
  auto consider = [&next](MonoTime t) {
    if (!next || t < *next) next = t;
  };
  if (roles_.claiming() && lease_.end()) consider(*lease_.end());
  if (io_.connected() && Standing() && !renew_in_flight_ && !joiner_.own_node().empty()) {
    consider(next_renew_);  // as SendRenew: nothing to renew without a node
  }
  if (joiner_.join_at()) consider(*joiner_.join_at());
  if (step_down_.stop_deadline()) consider(*step_down_.stop_deadline());
  if (gates_.deadline() && roles_.role() == Role::kBecomingActive) consider(*gates_.deadline());
  if (member_.retry_at()) consider(*member_.retry_at());
  if (takeover_.lock_until()) consider(*takeover_.lock_until());
  if (needs_resync_ && io_.connected()) consider(io_.now());
  return next;
}

Role LatchCore::RoleAt(MonoTime now) const {
  if (roles_.claiming() && !lease_.ValidAt(now)) return Role::kBecomingPassive;
  return roles_.role();
}

CoreStatus LatchCore::StatusAt(MonoTime now) const {
  CoreStatus s;
  s.role = RoleAt(now);
  s.leader = view_.leader();
  s.epoch = RoleEpoch(roles_.role());
  s.connected = io_.connected();
  s.session_id = io_.session();
  s.session_timeout = lease_.timeout();
  s.lease_remaining = lease_.RemainingAt(now);
  s.since = roles_.since();
  s.own_node = joiner_.own_node();
  s.participants = view_.participants();
  s.healthy = candidacy_.healthy();
  s.waiting_for_candidate = leader_ && candidacy_.waiting();
  return s;
}

void LatchCore::ReportSessionNode() {
  if (io_.session() == reported_session_ && joiner_.own_node() == reported_node_) return;
  reported_session_ = io_.session();
  reported_node_ = joiner_.own_node();
  io_.Emit(SessionNodeAction{reported_session_, reported_node_});
}

// ---- The role ----------------------------------------------------------------

void LatchCore::SetRole(Role to, const std::string& reason, std::optional<int64_t> epoch) {
  Role from = roles_.role();
  if (!roles_.Step(to, io_.now())) return;
  io_.Emit(RoleChangeAction{from, to, epoch.value_or(RoleEpoch(to)), reason, StatusAt(io_.now())});
}

// PASSIVE once leadership is known gone: the change carries the epoch of the
// term it ends, its status an unknown leader (until the next listing).
void LatchCore::EndTerm(const std::string& reason) {
  view_.ForgetLeader();
  candidacy_.StopWaiting();
  if (roles_.role() == Role::kBecomingPassive) SetRole(Role::kPassive, reason, epoch_);
}

// Moves the role toward what leadership, the lease, the gates and the publish
// allow — the diagram of lib/core/role_machine.h.
void LatchCore::UpdateRole() {
  if (!leader_ || step_down_.stopping()) return;
  if (!LeaseValid()) {
    if (roles_.claiming()) {
      SetRole(Role::kBecomingPassive, "lease lapsed: no answer from ZooKeeper for " +
                                          std::to_string(ToMillis(lease_.length())) + " ms");
    }
    publisher_.Unpublish();
    if (io_.connected()) SendRenew();
    return;
  }
  if (!roles_.claiming()) {
    SetRole(Role::kBecomingActive, roles_.role() == Role::kBecomingPassive
                                       ? "lease renewed, still first"
                                       : "own latch node is first");
    gates_.Enter(io_.now());
  }
  if (roles_.role() == Role::kBecomingActive && !gates_.passed()) return;
  gates_.Finish();
  if (!publisher_.published()) {
    if (!publisher_.in_flight()) publisher_.Send(io_, joiner_.OwnPath(), joiner_.own_node());
    return;
  }
  SetRole(Role::kActive, config_.advertise.empty() ? "leader" : "published active_server_info");
}

void LatchCore::StopClaiming(const std::string& reason) {
  if (roles_.claiming()) SetRole(Role::kBecomingPassive, reason);
}

void LatchCore::LoseLeadership(const std::string& reason) {
  bool was = leader_;
  leader_ = false;
  publisher_.Forget();
  StopClaiming(reason);
  if (was) return EndTerm(reason);
  if (roles_.role() == Role::kBecomingPassive) SetRole(Role::kPassive, reason);
}

// The own node was first in a synced listing and is owned by this session.
// With an advertise URL, ACTIVE comes only with the answer of the first
// publish of active_server_info, a guarded write sent after this: a node
// deleted (by anyone) before that write makes it fail, and the agent has
// received any deletion notification ordered before it.
void LatchCore::Claim(int64_t epoch) {
  if (leader_ || step_down_.stopping()) return;
  leader_ = true;
  joiner_.ClearFailures(io_.now());
  epoch_ = epoch;
  view_.LeadSelf(joiner_.own_node(), config_.id, epoch_);
  publisher_.Unpublish();
  io_.Log(LogAction::kInfo, "own latch node " + joiner_.own_node() + " is first: leader with epoch " +
                                std::to_string(epoch_));
  UpdateRole();
}

// ---- Session events ------------------------------------------------------

// ZooKeeper clamps the timeout to [2, 20] x tickTime. One above the request
// was raised to 2 x tickTime: tickTime is T / 2, and the proof of
// docs/design.md needs margin > R/T + tickTime/(2T) + 2 rho — about 0.37
// rather than the default 0.25. Raise it (safety first) and say so once.
void LatchCore::CheckLeaseMargin(Duration negotiated) {
  if (config_.requested_session_timeout <= Duration::zero() ||
      negotiated <= config_.requested_session_timeout) {
    return;
  }
  double needed = lease_.RequiredMargin(negotiated / 2);
  if (lease_.margin() >= needed) return;
  lease_.RaiseMargin(needed);
  io_.Log(LogAction::kWarning,
          "ZooKeeper raised the session timeout from " + std::to_string(ToMillis(config_.requested_session_timeout)) +
              " ms to " + std::to_string(ToMillis(negotiated)) + " ms (2 x its tickTime): the lease margin is " +
              std::to_string(needed).substr(0, 4) + " instead of " +
              std::to_string(config_.lease_margin).substr(0, 4) +
              " (docs/design.md, the lease rule); ask for a session timeout of at least 4 x tickTime");
}

void LatchCore::OnSessionUp(const SessionUpEvent& e) {
  io_.SetConnected(true);
  lease_.SetTimeout(e.timeout);
  CheckLeaseMargin(e.timeout);
  takeover_.SetLeaseLength(lease_.length());
  if (e.session_id == io_.session()) {
    io_.Log(LogAction::kInfo, "ZooKeeper session " + SessionIdHex(io_.session()) + " reconnected");
    Resync();
    return;
  }
  if (io_.session() != 0) LoseLeadership("new ZooKeeper session");
  joiner_.OnSessionGone();
  io_.SetSession(e.session_id, true);
  lease_.Reset();
  ResetNode();
  member_.OnNewSession(e.session_id != config_.resume_session ? config_.resume_session : 0);
  io_.Log(LogAction::kInfo, "ZooKeeper session " + SessionIdHex(io_.session()) +
                                " established, timeout " + std::to_string(ToMillis(lease_.timeout())) + " ms");
  if (step_down_.OnSessionEnd(io_) && step_down_.stopping()) return;
  joiner_.DeleteOrphans(io_);
  if (e.session_id == config_.resume_session && !config_.resume_node.empty()) {
    // A restarted agent got its session back: its node (and the epoch) may
    // still be there. The listing and the owner check decide, as always.
    config_.resume_session = 0;
    io_.NextGen();
    joiner_.TakeBack(config_.resume_node);
    io_.Log(LogAction::kInfo, "resumed ZooKeeper session " + SessionIdHex(io_.session()) +
                                  " with latch node " + joiner_.own_node());
    member_.Want(io_, MemberNow());
    SendRenew();
    view_.SendList(io_, leader_);
    return;
  }
  if (config_.resume_session != 0 && !config_.resume_node.empty()) {
    // The resume was refused: the recorded node may still be there (the
    // session not yet expired where the node is seen). Delete it, but only
    // if it is still that session's.
    io_.Log(LogAction::kInfo, "could not resume session " + SessionIdHex(config_.resume_session) +
                                  "; removing its latch node " + config_.resume_node +
                                  " if it is still there");
    joiner_.DeleteUnresumed(io_, config_.resume_session, config_.resume_node);
  }
  config_.resume_session = 0;
  config_.resume_node.clear();
  member_.Want(io_, MemberNow());  // also while out of the latch: members are listed
  StartJoin();
}

void LatchCore::OnSessionDown() {
  if (!io_.connected()) return;
  io_.SetConnected(false);
  view_.OnDisconnect();
  takeover_.OnDisconnect();
  renew_in_flight_ = false;
  const auto& end = lease_.end();
  io_.Log(LogAction::kWarning, "ZooKeeper connection lost; lease ends in " +
                                   std::to_string(end ? ToMillis(*end - io_.now()) : 0) + " ms");
}

void LatchCore::OnSessionExpired(const std::string& reason) {
  io_.SetConnected(false);
  LoseLeadership(reason);
  joiner_.OnSessionGone();
  ResetNode();
  lease_.Reset();
  io_.ForgetAll();
  if (step_down_.OnSessionEnd(io_)) return;
  joiner_.Idle();
  io_.Emit(ReopenSessionAction{reason});
}

// Brings the parts back in step after a reconnect within the same session.
void LatchCore::Resync() {
  needs_resync_ = false;
  if (!io_.connected()) return;
  joiner_.DeleteOrphans(io_);
  member_.Resync(io_);
  if (step_down_.deleting()) {
    step_down_.Send(io_, joiner_.own_node(), publisher_);
    return;
  }
  if (step_down_.phase() == StepDownPhase::kStopped) return;
  if (joiner_.joined()) {
    SendRenew();
    view_.SendList(io_, leader_);
    return;
  }
  if (joiner_.Resync(io_)) StartJoin();
}

// ---- Joining -------------------------------------------------------------

void LatchCore::ResetNode() {
  io_.NextGen();
  joiner_.Reset();
  view_.Reset();
  takeover_.Reset();
  renew_in_flight_ = false;
  publisher_.ForgetInFlight();
}

void LatchCore::StartJoin() {
  view_.ForgetPredecessor();
  if (!io_.connected() || step_down_.stopping() || !candidacy_.healthy()) {
    joiner_.Idle();
    if (io_.connected()) member_.Want(io_, MemberNow());  // out of the latch: no uuid
    return;
  }
  io_.NextGen();
  joiner_.Prepare();
  // The member record carries the new uuid before the node is created: a
  // successor that finds the node gone looks for its uuid there (lock-delay).
  member_.Want(io_, MemberNow());
  MaybeCreate();
}

void LatchCore::MaybeCreate() {
  if (joiner_.phase() != JoinPhase::kPreparing || member_.blocked()) return;
  const auto& written = member_.written();
  if (written && written->uuid == joiner_.uuid()) joiner_.Create(io_);
}

MemberInfo LatchCore::MemberNow() const {
  MemberInfo m;
  m.id = config_.id;
  bool out = joiner_.phase() == JoinPhase::kIdle && !candidacy_.healthy();
  m.uuid = out ? std::string() : joiner_.uuid();
  m.healthy = candidacy_.healthy();
  m.reason = candidacy_.reason();
  m.health_since_ms = candidacy_.since_ms();
  m.lease_ms = ToMillis(lease_.length());
  m.address = config_.advertise;
  m.version = config_.version;
  return m;
}

// Rejoins after trouble. Repeated trouble backs off (no reset storms).
void LatchCore::ScheduleRejoin(const std::string& reason) {
  io_.Log(LogAction::kInfo, "rejoining the latch: " + reason);
  ResetNode();
  if (joiner_.ScheduleRejoin(io_)) StartJoin();
}

void LatchCore::OnJoinResult(const JoinResult& j) {
  switch (j.step) {
    case JoinStep::kNone: return;
    case JoinStep::kCreated:
      next_renew_ = io_.now() + lease_.renew_interval();
      view_.SendList(io_, leader_);
      if (joiner_.owner_known()) takeover_.WatchOwnNode(io_, joiner_);
      return;
    case JoinStep::kAdopted:
      SendRenew();
      view_.SendList(io_, leader_);
      takeover_.WatchOwnNode(io_, joiner_);
      return;
    case JoinStep::kRestart: return StartJoin();
    case JoinStep::kRejoin: return ScheduleRejoin(j.reason);
    case JoinStep::kReconnect: return NoteConnectionLoss();
  }
}

// ---- Results ---------------------------------------------------------------

void LatchCore::OnResult(const ZkResult& r) {
  std::optional<Pending> taken = io_.Take(r.id);
  if (!taken) return;
  const Pending& p = *taken;
  // The lease rule: a write answered in the current session proves the session
  // was alive at the leader after the send time.
  if (IsWrite(p.kind) && IsServerAnswer(r.code) && p.session == io_.session() && io_.session() != 0) {
    lease_.OnWriteAnswered(p.sent);
  }
  if (p.session != io_.session()) return;
  const bool current = p.gen == io_.gen();
  switch (p.purpose) {
    case Purpose::kStepDownDelete:
    case Purpose::kStepDownBoth:
    case Purpose::kStepDownMarked: {
      bool reconnect = false;
      if (step_down_.OnResult(io_, r, p, joiner_.own_node(), &reconnect)) {
        publisher_.Unpublish();
        if (step_down_.phase() == StepDownPhase::kNone) {  // a yield: rejoin at the back
          // Handed over to another participant (the last listing had one): the rejoin's
          // writes (member record, create) wait a moment so that they are not ordered in
          // front of the successor's sync and publish.
          bool successor = step_down_.handed_over() && view_.participants() > 1;
          ResetNode();
          if (successor) {
            joiner_.JoinAt(io_.now() + kRejoinAfterHandover);
          } else {
            StartJoin();  // (or stay out while the server is unhealthy)
          }
        }
      }
      if (reconnect) NoteConnectionLoss();
      return;
    }
    case Purpose::kPublishCreate:
    case Purpose::kPublishGet:
    case Purpose::kPublishSet:
    case Purpose::kPublishDelete:
    case Purpose::kPublishCheck:
      return OnPublishStep(publisher_.OnResult(
          io_, r, p, /*current=*/leader_ && current && !step_down_.stopping(),
          /*stepping_down=*/step_down_.stopping() || step_down_.deleting(), joiner_.OwnPath(),
          joiner_.own_node(), latch_path_));
    case Purpose::kParticipantGet:
      view_.OnReadResult(r, p, leader_);
      // An unhealthy leader waiting for the next node's id to read its record.
      if (leader_ && !candidacy_.healthy() && !step_down_.active()) {
        candidacy_.CheckSuccessor(io_, view_, joiner_.own_node());
      }
      return;
    case Purpose::kLeaderGet:
    case Purpose::kAddressGet:
    case Purpose::kSync:
    case Purpose::kHandoverMark:
      return view_.OnReadResult(r, p, leader_);
    case Purpose::kOrphanList:
    case Purpose::kUnresumedOwner:
    case Purpose::kDeleteStray:
      joiner_.OnResult(io_, r, p, current);
      return;
    case Purpose::kMemberParent:
    case Purpose::kMemberCreate:
    case Purpose::kMemberGet:
    case Purpose::kMemberSet:
    case Purpose::kMemberWatch:
    case Purpose::kMemberDeleteStale: {
      bool reconnect = false;
      if (member_.OnResult(io_, r, p, &reconnect)) MaybeCreate();
      if (reconnect) NoteConnectionLoss();
      return;
    }
    case Purpose::kCandidateGet:
      if (leader_ && current && !step_down_.active() && candidacy_.OnCandidateRecord(io_, r, p)) {
        StepDownAndRejoin("server unhealthy (" + candidacy_.reason() + "): handing over to " + p.node,
                          "server_unhealthy");
      }
      return;
    default:
      break;
  }
  if (!current) {  // about an own-node attempt that was abandoned
    if (p.purpose == Purpose::kCreateNode) joiner_.OnResult(io_, r, p, false);
    return;
  }
  switch (p.purpose) {
    case Purpose::kCreateNode:
    case Purpose::kCreateParent:
    case Purpose::kRecoverList:
    case Purpose::kRecoverOwner:
      return OnJoinResult(joiner_.OnResult(io_, r, p, true));
    case Purpose::kList:
      return OnListResult(r, p);
    case Purpose::kWatchPred: {
      bool reconnect = false;
      if (view_.OnWatchPred(io_, r, p, leader_, &reconnect)) joiner_.ClearFailures(io_.now());
      if (reconnect) NoteConnectionLoss();
      return;
    }
    case Purpose::kWatchOwn:
      if (!Standing()) return;
      [[fallthrough]];
    case Purpose::kVerifyOwner:
    case Purpose::kClaimCheck:
    case Purpose::kLockDelayAsi:
    case Purpose::kLockDelayRecord:
      return OnTakeoverStep(takeover_.OnResult(io_, r, p, joiner_, leader_));
    case Purpose::kRenew:
      return OnRenew(r);
    default:
      return;
  }
}

void LatchCore::OnListResult(const ZkResult& r, const Pending& p) {
  ListOutcome list = view_.OnList(io_, r, p, joiner_.own_node());
  switch (list.kind) {
    case ListOutcome::kNone:
      return;
    case ListOutcome::kReconnect:
      return NoteConnectionLoss();
    case ListOutcome::kPathGone:
      LoseLeadership("the latch path " + latch_path_ + " was deleted");
      return ScheduleRejoin("latch path deleted");
    case ListOutcome::kOwnGone:
      LoseLeadership("own latch node " + joiner_.own_node() + " is gone");
      return ScheduleRejoin("own latch node gone");
    case ListOutcome::kFirst:
      if (!leader_) return OnTakeoverStep(takeover_.OnFirst(io_, list, joiner_, view_));
      if (!candidacy_.healthy()) {
        bool was_waiting = candidacy_.waiting();
        candidacy_.CheckSuccessor(io_, view_, joiner_.own_node());
        if (candidacy_.waiting() && !was_waiting) {
          io_.Log(LogAction::kWarning, "server unhealthy (" + candidacy_.reason() +
                                           ") but no healthy candidate is waiting: keeping leadership");
        }
      }
      return;
    case ListOutcome::kNotFirst:
      if (leader_) LoseLeadership("own latch node is no longer first");
      view_.WatchPredecessor(io_);
      return;
  }
}

void LatchCore::OnTakeoverStep(const TakeoverStep& s) {
  switch (s.kind) {
    case TakeoverStep::kNone: return;
    case TakeoverStep::kReconnect: return NoteConnectionLoss();
    case TakeoverStep::kLost:
      LoseLeadership(s.reason);
      return ScheduleRejoin(s.rejoin_reason);
    case TakeoverStep::kRejoin: return ScheduleRejoin(s.rejoin_reason);
    case TakeoverStep::kClaim: return Claim(s.epoch);
  }
}

void LatchCore::OnPublishStep(const PublishStep& s) {
  switch (s.kind) {
    case PublishStep::kNone: return;
    case PublishStep::kReconnect: return NoteConnectionLoss();
    case PublishStep::kLost:
      LoseLeadership(s.reason);
      return ScheduleRejoin("own latch node gone");
    case PublishStep::kPublished:
      view_.SetOwnAddress(config_.advertise);
      return UpdateRole();
  }
}

void LatchCore::OnWatch(const ZkWatchEvent& w) {
  if (w.path == member_.path()) return member_.OnWatch(io_, w);
  if (!Standing()) return;
  if (!joiner_.own_node().empty() && w.path == joiner_.OwnPath()) {
    return OnTakeoverStep(takeover_.OnOwnWatch(io_, w, joiner_, leader_));
  }
  if (TakeoverStep s; !leader_ && takeover_.OnLockWatch(io_, w, joiner_, &s)) return OnTakeoverStep(s);
  if (w.path == asi_path_) {
    if (leader_ && !step_down_.stopping()) {
      publisher_.OnWatch(io_, joiner_.OwnPath(), joiner_.own_node());  // someone touched it
    } else {
      view_.OnAddressWatch(io_);
    }
    return;
  }
  view_.OnPredecessorWatch(io_, w, leader_);
}

// ---- The lease -------------------------------------------------------------

void LatchCore::SendRenew() {
  if (renew_in_flight_ || !io_.connected() || !Standing() || joiner_.own_node().empty()) return;
  renew_in_flight_ = true;
  next_renew_ = io_.now() + lease_.renew_interval();
  io_.Send(MakeRequest(ZkRequestKind::kCheck, joiner_.OwnPath()), Purpose::kRenew,
           joiner_.own_node());
}

void LatchCore::OnRenew(const ZkResult& r) {
  renew_in_flight_ = false;
  if (r.code == ZkCode::kNoNode) {
    LoseLeadership("own latch node is gone (lease renewal)");
    ScheduleRejoin("own latch node gone");
    return;
  }
  if (r.code == ZkCode::kOk) UpdateRole();
}

// ---- Time ------------------------------------------------------------------

void LatchCore::OnTick() {
  if (step_down_.OnTick(io_)) return;
  if (gates_.Expired(io_.now()) && roles_.role() == Role::kBecomingActive) {
    GiveUp("activation not finished within " + std::to_string(ToMillis(gates_.timeout())) +
           " ms (no ack or hook result)");
  }
  if (joiner_.join_at() && io_.now() >= *joiner_.join_at()) StartJoin();
  if (!leader_ && Standing()) OnTakeoverStep(takeover_.OnTick(io_, joiner_));
  if (member_.retry_at() && io_.now() >= *member_.retry_at()) {
    member_.Resync(io_);
    MaybeCreate();
  }
  if (needs_resync_ && io_.connected()) Resync();
  if (io_.connected() && Standing() && io_.now() >= next_renew_) {
    SendRenew();
    view_.OnRenewalTick(io_, leader_);
  }
  UpdateRole();
}

// ---- Activation ------------------------------------------------------------

void LatchCore::OnAck(const AckEvent& e) {
  AckResultAction answer = gates_.OnAck(e.epoch, leader_, roles_.role(), epoch_);
  bool was_activating = roles_.role() == Role::kBecomingActive;
  io_.Emit(answer);
  if (answer.ok && was_activating) UpdateRole();
}

void LatchCore::OnHookDone(const HookDoneEvent& e) {
  if (!gates_.OnHookDone(e, leader_, roles_.role(), epoch_)) return;
  if (!e.ok) return GiveUp("on_transition hook failed: " + e.detail);
  UpdateRole();
}

// Activation failed: give leadership up and go to the back of the latch.
void LatchCore::GiveUp(const std::string& reason) {
  io_.Emit(ActivationFailedAction{epoch_, reason});
  io_.Log(LogAction::kWarning, "giving up leadership of epoch " + std::to_string(epoch_) + ": " +
                                   reason);
  gates_.Finish();
  StepDownAndRejoin(reason, "activation_failed");
}

void LatchCore::OnCandidacy(const CandidacyEvent& e) {
  bool changed = candidacy_.Set(e.healthy, e.reason, e.since_ms);
  if (io_.connected()) member_.Want(io_, MemberNow());
  if (!changed) return;
  if (e.healthy) {
    io_.Log(LogAction::kInfo, "server healthy (" + e.reason + "): standing for election");
    if (!leader_ && joiner_.phase() == JoinPhase::kIdle && !joiner_.join_at() && !step_down_.active()) {
      StartJoin();
    }
    return;
  }
  if (leader_) {
    // Hand over only to a healthy candidate: look at the latch now.
    io_.Log(LogAction::kWarning, "server unhealthy (" + e.reason + "): looking for a healthy candidate");
    view_.SendList(io_, /*leading=*/true);
    return;
  }
  if (step_down_.active()) return;
  io_.Log(LogAction::kWarning, "server unhealthy (" + e.reason + "): leaving the latch");
  StepDownAndRejoin("server unhealthy: " + e.reason, nullptr);
}

// ---- Stop and yield ----------------------------------------------------------

void LatchCore::OnStop() {
  if (step_down_.stopping()) return;
  if (leader_) io_.Emit(HandoverAction{"stop"});
  // First stop claiming (nothing after this line can report a claim), then
  // delete the nodes so the successor sees the way clear.
  StopClaiming("stopping");
  if (roles_.role() == Role::kBecomingPassive) SetRole(Role::kPassive, "stopping");
  bool had_nodes = !joiner_.own_node().empty() || publisher_.published();
  leader_ = false;
  if (step_down_.BeginStop(io_, had_nodes)) return;
  step_down_.Send(io_, joiner_.own_node(), publisher_);
}

void LatchCore::StepDownAndRejoin(const std::string& reason, const char* handover) {
  if (leader_ && handover != nullptr) io_.Emit(HandoverAction{handover});
  StopClaiming(reason);
  bool was = leader_;
  leader_ = false;
  if (was) {
    EndTerm(reason);
  } else {
    view_.ForgetLeader();
    if (roles_.role() == Role::kBecomingPassive) SetRole(Role::kPassive, reason);
  }
  io_.NextGen();
  if (!io_.connected() || joiner_.own_node().empty()) {
    // Not connected: the node cannot be deleted now, but the session may live
    // on (a reconnect within it). Delete it by its uuid after the reconnect,
    // or it would hold its place (maybe first) while this agent rejoins.
    joiner_.Abandon();
    ScheduleRejoin(reason);
    return;
  }
  step_down_.BeginYield(io_, joiner_.own_node(), publisher_, was);
}

}  // namespace latchd
