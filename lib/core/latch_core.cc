#include "lib/core/latch_core.h"

#include <algorithm>
#include <utility>

namespace latchd {
namespace {

ZkRequest Request(ZkRequestKind kind, std::string path) {
  ZkRequest r;
  r.kind = kind;
  r.path = std::move(path);
  return r;
}

bool IsUncertain(ZkCode code) {
  return code == ZkCode::kConnectionLoss || code == ZkCode::kOperationTimeout;
}

std::string Hex(int64_t v) {
  static const char* kDigits = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    int d = static_cast<int>((static_cast<uint64_t>(v) >> shift) & 0xf);
    if (d || started || shift == 0) {
      s.push_back(kDigits[d]);
      started = true;
    }
  }
  return s;
}

}  // namespace

LatchCore::LatchCore(LatchConfig config)
    : config_(std::move(config)),
      latch_path_(LatchPath(config_.zk_root)),
      asi_path_(ActiveServerInfoPath(config_.zk_root)) {}

std::vector<Action> LatchCore::Handle(const Event& event, MonoTime now) {
  now_ = std::max(now_, now);
  if (since_ == MonoTime{}) since_ = now_;  // the role has been PASSIVE since the first event
  out_.clear();
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
        else if constexpr (std::is_same_v<T, YieldEvent>) OnYield();
        else if constexpr (std::is_same_v<T, AckEvent>) OnAck(e);
        else if constexpr (std::is_same_v<T, HookDoneEvent>) OnHookDone(e);
      },
      event);
  // Whatever the event, a lapsed lease ends a claim now.
  if (IsClaim(role_) && !LeaseValid()) MaybeClaim();
  return std::move(out_);
}

std::optional<MonoTime> LatchCore::NextDeadline() const {
  std::optional<MonoTime> next;
  auto consider = [&next](MonoTime t) {
    if (!next || t < *next) next = t;
  };
  if (IsClaim(role_) && lease_end_) consider(*lease_end_);
  if (connected_ && phase_ == Phase::kJoined && !renew_in_flight_ && !own_node_.empty()) {
    consider(next_renew_);  // as SendRenew: nothing to renew without a node
  }
  if (join_at_) consider(*join_at_);
  if (stop_deadline_) consider(*stop_deadline_);
  if (activation_deadline_ && role_ == Role::kBecomingActive) consider(*activation_deadline_);
  if (needs_resync_ && connected_) consider(now_);
  return next;
}

Role LatchCore::RoleAt(MonoTime now) const {
  if (IsClaim(role_) && !LeaseValidAt(now)) return Role::kBecomingPassive;
  return role_;
}

CoreStatus LatchCore::StatusAt(MonoTime now) const {
  CoreStatus s;
  s.role = RoleAt(now);
  s.leader = leader_info_;
  s.epoch = (role_ == Role::kPassive) ? leader_info_.epoch : epoch_;
  s.connected = connected_;
  s.session_id = session_id_;
  s.session_timeout = timeout_;
  if (lease_end_) s.lease_remaining = std::max(Duration::zero(), *lease_end_ - now);
  s.since = since_;
  s.own_node = own_node_;
  s.participants = participants_;
  return s;
}

std::vector<Participant> LatchCore::Participants() const {
  std::vector<Participant> out;
  out.reserve(participant_nodes_.size());
  for (const auto& node : participant_nodes_) {
    auto it = participant_ids_.find(node);
    out.push_back(Participant{node, it == participant_ids_.end() ? std::string() : it->second});
  }
  return out;
}

Duration LatchCore::LeaseLength() const {
  return std::chrono::duration_cast<Duration>(timeout_ * (1.0 - config_.lease_margin));
}

Duration LatchCore::RenewInterval() const {
  return std::chrono::duration_cast<Duration>(timeout_ * config_.renew_fraction);
}

uint64_t LatchCore::Send(ZkRequest req, Purpose purpose, std::string node) {
  uint64_t id = next_request_id_++;
  req.id = id;
  pending_[id] = Pending{purpose, now_, session_id_, gen_, req.kind, std::move(node)};
  out_.push_back(SendAction{std::move(req)});
  return id;
}

void LatchCore::Log(LogAction::Level level, std::string message) {
  out_.push_back(LogAction{level, std::move(message)});
}

void LatchCore::SetRole(Role to, const std::string& reason) {
  if (to == role_) return;
  Role from = role_;
  role_ = to;
  since_ = now_;
  int64_t epoch = (to == Role::kPassive) ? leader_info_.epoch : epoch_;
  out_.push_back(RoleChangeAction{from, to, epoch, reason});
}

// ---- Session events ------------------------------------------------------

void LatchCore::OnSessionUp(const SessionUpEvent& e) {
  connected_ = true;
  timeout_ = e.timeout;
  if (e.session_id != session_id_) {
    if (session_id_ != 0) LoseLeadership("new ZooKeeper session");
    if (lost_create_ && !uuid_.empty()) orphan_uuids_.push_back(uuid_);
    session_id_ = e.session_id;
    lease_end_.reset();
    ResetNode();
    Log(LogAction::kInfo, "ZooKeeper session " + Hex(session_id_) + " established, timeout " +
                              std::to_string(ToMillis(timeout_)) + " ms");
    if (phase_ == Phase::kStopping) {
      out_.push_back(FinishedAction{});
      phase_ = Phase::kStopped;
      return;
    }
    if (!orphan_uuids_.empty()) Send(Request(ZkRequestKind::kGetChildren, latch_path_), Purpose::kOrphanList);
    if (e.session_id == config_.resume_session && !config_.resume_node.empty()) {
      // A restarted agent got its session back: its node (and the epoch) may
      // still be there. The listing and the owner check decide, as always.
      config_.resume_session = 0;
      ++gen_;
      own_node_ = config_.resume_node;
      phase_ = Phase::kJoined;
      Log(LogAction::kInfo, "resumed ZooKeeper session " + Hex(session_id_) + " with latch node " +
                                own_node_);
      SendRenew();
      SendList();
      return;
    }
    if (config_.resume_session != 0 && !config_.resume_node.empty()) {
      // The resume was refused: the recorded node may still be there (the
      // session not yet expired where the node is seen). Delete it, but only
      // if it is still that session's.
      Log(LogAction::kInfo, "could not resume session " + Hex(config_.resume_session) +
                                "; removing its latch node " + config_.resume_node +
                                " if it is still there");
      unresumed_session_ = config_.resume_session;
      Send(Request(ZkRequestKind::kGetData, latch_path_ + "/" + config_.resume_node),
           Purpose::kUnresumedOwner, config_.resume_node);
    }
    config_.resume_session = 0;
    config_.resume_node.clear();
    StartJoin();
    return;
  }
  Log(LogAction::kInfo, "ZooKeeper session " + Hex(session_id_) + " reconnected");
  Resync();
}

void LatchCore::OnSessionDown() {
  if (!connected_) return;
  connected_ = false;
  list_in_flight_ = renew_in_flight_ = false;
  Log(LogAction::kWarning, "ZooKeeper connection lost; lease ends in " +
                               std::to_string(lease_end_ ? ToMillis(*lease_end_ - now_) : 0) + " ms");
}

void LatchCore::OnSessionExpired(const std::string& reason) {
  connected_ = false;
  LoseLeadership(reason);
  if (lost_create_ && !uuid_.empty()) orphan_uuids_.push_back(uuid_);
  ResetNode();
  lease_end_.reset();
  pending_.clear();
  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped) {
    if (phase_ != Phase::kStopped) out_.push_back(FinishedAction{});
    phase_ = Phase::kStopped;
    return;
  }
  phase_ = Phase::kIdle;
  out_.push_back(ReopenSessionAction{reason});
}

// Brings the phase back in step after a reconnect within the same session.
void LatchCore::Resync() {
  needs_resync_ = false;
  if (!connected_) return;
  if (!orphan_uuids_.empty()) {
    Send(Request(ZkRequestKind::kGetChildren, latch_path_), Purpose::kOrphanList);
  }
  switch (phase_) {
    case Phase::kIdle:
      if (!join_at_) StartJoin();
      break;
    case Phase::kEnsuringParents:
      StartJoin();
      break;
    case Phase::kCreating:
    case Phase::kRecovering:
      if (lost_create_) {
        phase_ = Phase::kRecovering;
        Send(Request(ZkRequestKind::kGetChildren, latch_path_), Purpose::kRecoverList);
      } else if (!InFlight(Purpose::kCreateNode)) {
        StartJoin();
      }
      break;
    case Phase::kJoined:
      SendRenew();
      SendList();
      break;
    case Phase::kYielding:
    case Phase::kStopping:
      SendStepDownDeletes();
      break;
    case Phase::kStopped:
      break;
  }
}

void LatchCore::NoteConnectionLoss() { needs_resync_ = true; }

bool LatchCore::InFlight(Purpose purpose) const {
  for (const auto& [id, p] : pending_) {
    if (p.purpose == purpose && p.gen == gen_ && p.session == session_id_) return true;
  }
  return false;
}

// A create of an abandoned attempt: whatever it made must not stay behind.
void LatchCore::OnAbandonedCreate(const ZkResult& r, const Pending& p) {
  if (r.code == ZkCode::kOk) {
    Log(LogAction::kInfo, "deleting latch node " + std::string(BaseName(r.created_path)) +
                              " of an abandoned join attempt");
    Send(Request(ZkRequestKind::kDelete, r.created_path), Purpose::kDeleteStray, r.created_path);
  } else if (IsUncertain(r.code)) {
    orphan_uuids_.push_back(p.node);
  }
}

// ---- Joining -------------------------------------------------------------

void LatchCore::ResetNode() {
  ++gen_;
  own_node_.clear();
  watched_pred_.clear();
  lost_create_ = false;
  owner_known_ = false;
  handover_from_.clear();
  list_in_flight_ = renew_in_flight_ = publish_in_flight_ = false;
  join_at_.reset();
  participants_ = 0;
  participant_nodes_.clear();
}

void LatchCore::StartJoin() {
  join_at_.reset();
  handover_from_.clear();
  if (!connected_ || stopping_) {
    phase_ = Phase::kIdle;
    return;
  }
  ++gen_;
  uuid_ = config_.new_uuid();
  own_node_.clear();
  watched_pred_.clear();
  lost_create_ = false;
  owner_known_ = false;
  phase_ = Phase::kCreating;
  ZkRequest req = Request(ZkRequestKind::kCreate, latch_path_ + "/" + LatchNodePrefix(uuid_));
  req.data = config_.id;
  req.mode = CreateMode::kEphemeralSequential;
  Send(std::move(req), Purpose::kCreateNode, uuid_);
}

// Rejoins after trouble. Repeated trouble backs off (no reset storms).
void LatchCore::ScheduleRejoin(const std::string& reason) {
  Log(LogAction::kInfo, "rejoining the latch: " + reason);
  ResetNode();
  phase_ = Phase::kIdle;
  ++join_failures_;
  if (join_failures_ <= 2) {
    StartJoin();
    return;
  }
  int shift = std::min(join_failures_ - 3, 5);
  join_at_ = now_ + std::chrono::milliseconds(50 << shift);
}

void LatchCore::OnCreateNode(const ZkResult& r, const Pending& p) {
  switch (r.code) {
    case ZkCode::kOk: {
      std::optional<LatchNode> created = ParseLatchNode(BaseName(r.created_path));
      if (!created || created->uuid != uuid_) {
        // ZooKeeper always answers with the created path; anything else is a
        // broken client or server. A node may exist anyway: treat it as an orphan.
        Log(LogAction::kError, "latch node create answered with the unexpected path \"" +
                                   r.created_path + "\"; rejoining");
        orphan_uuids_.push_back(uuid_);
        Send(Request(ZkRequestKind::kGetChildren, latch_path_), Purpose::kOrphanList);
        ScheduleRejoin("unexpected create answer");
        break;
      }
      own_node_ = created->name;
      lost_create_ = false;
      phase_ = Phase::kJoined;
      next_renew_ = now_ + RenewInterval();
      // Created in this session, answered with its stat: the owner and the
      // epoch are known, so leading needs no owner read, only the claim check.
      owner_known_ = r.stat.ephemeral_owner == session_id_ && r.stat.czxid != 0;
      own_czxid_ = r.stat.czxid;
      Log(LogAction::kInfo, "joined the latch as " + own_node_);
      SendList();
      if (owner_known_) WatchOwnNode();
      break;
    }
    case ZkCode::kNoNode:
      phase_ = Phase::kEnsuringParents;
      parent_index_ = 0;
      Send(Request(ZkRequestKind::kCreate, PathPrefixes(latch_path_)[0]), Purpose::kCreateParent);
      break;
    case ZkCode::kConnectionLoss:
    case ZkCode::kOperationTimeout:
      // The node may or may not exist: find it by its uuid once reconnected (CURATOR-498).
      lost_create_ = true;
      NoteConnectionLoss();
      break;
    case ZkCode::kNoAuth:
      Log(LogAction::kError, "NOAUTH creating a latch node under " + latch_path_ +
                                 ": check --zk_acl and --zk_auth_file");
      ScheduleRejoin("create refused");
      break;
    default:
      if (IsServerAnswer(r.code)) ScheduleRejoin(std::string("create failed: ") + std::string(ZkCodeName(r.code)));
      break;  // session trouble: the session events drive what happens next
  }
}

void LatchCore::OnCreateParent(const ZkResult& r, const Pending& p) {
  if (r.code == ZkCode::kOk || r.code == ZkCode::kNodeExists) {
    auto prefixes = PathPrefixes(latch_path_);
    if (++parent_index_ < prefixes.size()) {
      Send(Request(ZkRequestKind::kCreate, prefixes[parent_index_]), Purpose::kCreateParent);
    } else {
      StartJoin();
    }
    return;
  }
  if (IsUncertain(r.code)) {
    NoteConnectionLoss();
    return;
  }
  if (r.code == ZkCode::kNoAuth) {
    Log(LogAction::kError, "NOAUTH creating " + p.node + ": check --zk_acl and --zk_auth_file");
  }
  if (IsServerAnswer(r.code)) ScheduleRejoin("could not create the latch path");
}

void LatchCore::OnRecoverList(const ZkResult& r) {
  if (IsUncertain(r.code)) {
    NoteConnectionLoss();
    return;
  }
  if (r.code != ZkCode::kOk) {
    StartJoin();
    return;
  }
  for (const auto& child : r.children) {
    auto node = ParseLatchNode(child);
    if (node && node->uuid == uuid_) {
      ZkRequest req = Request(ZkRequestKind::kGetData, latch_path_ + "/" + child);
      Send(std::move(req), Purpose::kRecoverOwner, child);
      return;
    }
  }
  StartJoin();  // the lost create never landed
}

void LatchCore::OnRecoverOwner(const ZkResult& r, const Pending& p) {
  if (IsUncertain(r.code)) {
    NoteConnectionLoss();
    return;
  }
  if (r.code == ZkCode::kOk && r.stat.ephemeral_owner == session_id_) {
    own_node_ = p.node;
    lost_create_ = false;
    phase_ = Phase::kJoined;
    next_renew_ = now_;
    owner_known_ = true;
    own_czxid_ = r.stat.czxid;
    Log(LogAction::kInfo, "adopted latch node " + own_node_ + " after a lost create");
    SendRenew();
    SendList();
    WatchOwnNode();
    return;
  }
  if (r.code == ZkCode::kOk) {
    Log(LogAction::kWarning, "deleting latch node " + p.node + " of another session " +
                                 Hex(r.stat.ephemeral_owner) + " left by a lost create");
    Send(Request(ZkRequestKind::kDelete, latch_path_ + "/" + p.node), Purpose::kDeleteStray, p.node);
  }
  StartJoin();
}

// The node recorded for a session that could not be resumed.
void LatchCore::OnUnresumedOwner(const ZkResult& r, const Pending& p) {
  if (r.code != ZkCode::kOk) return;  // gone with its session (or unknown: the session does it)
  if (r.stat.ephemeral_owner != unresumed_session_) return;  // not that session's node
  Log(LogAction::kWarning, "deleting latch node " + p.node + " of session " +
                               Hex(r.stat.ephemeral_owner) + ", which could not be resumed");
  ZkRequest del = Request(ZkRequestKind::kDelete, latch_path_ + "/" + p.node);
  del.version = r.stat.version;
  Send(std::move(del), Purpose::kDeleteStray, p.node);
}

void LatchCore::OnOrphanList(const ZkResult& r) {
  if (r.code != ZkCode::kOk) return;
  for (const auto& child : r.children) {
    auto node = ParseLatchNode(child);
    if (!node || node->uuid.empty()) continue;
    if (std::find(orphan_uuids_.begin(), orphan_uuids_.end(), node->uuid) != orphan_uuids_.end()) {
      Log(LogAction::kWarning, "deleting orphan latch node " + child + " of an earlier session");
      Send(Request(ZkRequestKind::kDelete, latch_path_ + "/" + child), Purpose::kDeleteStray, child);
    }
  }
  orphan_uuids_.clear();
}

// ---- Ordering ------------------------------------------------------------

void LatchCore::SendList() {
  if (list_in_flight_ || !connected_) return;
  list_in_flight_ = true;
  uint64_t sync_id = 0, mark_id = 0;
  if (!leader_) {
    // This listing may make the agent leader: send a sync right before it.
    // ZooKeeper answers one session's requests in order, so the listing comes
    // from a server that has caught up with the ZooKeeper leader first: a
    // node deleted (by anyone) before the sync reached the leader is not in
    // it. This narrows what a lagging server can show; safety rests on the
    // claim check or the handover mark and on the guarded publish (ZooKeeper's
    // sync is not a quorum operation, ZOOKEEPER-1675).
    sync_id = Send(Request(ZkRequestKind::kSync, latch_path_), Purpose::kSync);
    if (!handover_from_.empty()) {
      // Second in line: whether the first node was handed over (OnList).
      mark_id = Send(Request(ZkRequestKind::kGetData, latch_path_), Purpose::kHandoverMark);
    }
  }
  uint64_t id =
      Send(Request(ZkRequestKind::kGetChildren, latch_path_), Purpose::kList, handover_from_);
  pending_[id].sync_id = sync_id;
  pending_[id].mark_id = mark_id;
}

void LatchCore::OnList(const ZkResult& r, const Pending& p) {
  list_in_flight_ = false;
  if (IsUncertain(r.code)) {
    NoteConnectionLoss();
    return;
  }
  if (r.code == ZkCode::kNoNode) {
    LoseLeadership("the latch path " + latch_path_ + " was deleted");
    ScheduleRejoin("latch path deleted");
    return;
  }
  if (r.code != ZkCode::kOk) return;
  std::vector<LatchNode> nodes = SortLatchNodes(r.children);
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
      Send(Request(ZkRequestKind::kGetData, latch_path_ + "/" + n.name), Purpose::kParticipantGet,
           n.name);
    }
  }
  participant_ids_ = std::move(ids);
  auto own = std::find_if(nodes.begin(), nodes.end(),
                          [this](const LatchNode& n) { return n.name == own_node_; });
  if (own == nodes.end()) {
    LoseLeadership("own latch node " + own_node_ + " is gone");
    ScheduleRejoin("own latch node gone");
    return;
  }
  // Who leads, for everyone's view of the leader.
  const LatchNode& first = nodes.front();
  if (first.name != leader_node_) {
    leader_node_ = first.name;
    if (first.name != own_node_) {
      leader_info_ = LeaderInfo{};
      Send(Request(ZkRequestKind::kGetData, latch_path_ + "/" + first.name), Purpose::kLeaderGet,
           first.name);
      ZkRequest asi = Request(ZkRequestKind::kGetData, asi_path_);
      asi.watch = true;
      Send(std::move(asi), Purpose::kAddressGet);
    }
  }
  if (own == nodes.begin()) {
    if (!leader_ && !InFlight(Purpose::kVerifyOwner) && !InFlight(Purpose::kClaimCheck)) {
      if (p.sync_id == 0 || p.sync_id != synced_) {
        // Not a synced listing (sent while leading) or its sync failed: it
        // may be from the past. Look again with a sync (a failed sync: at the
        // next renewal, so that an error cannot make a loop).
        if (p.sync_id == 0) SendList();
        return;
      }
      // A graceful handover: the node before this one was first, and its owner
      // deleted it in its step-down write, which also wrote its name to the
      // latch node (read after the sync, before this listing). That owner had
      // stopped claiming before it sent the write, and no other node can have
      // led since, so no check write is needed. Otherwise (a crash, a delete
      // by another client, a Curator participant) the claim waits for one.
      bool handed_over = !p.node.empty() && p.mark_id != 0 && p.mark_id == mark_id_ &&
                         mark_ == p.node;
      if (owner_known_ && handed_over) {
        Log(LogAction::kInfo, "latch node " + p.node + " was handed over");
        Claim(own_czxid_);
      } else if (owner_known_) {
        SendClaimCheck(own_czxid_);
      } else {
        ZkRequest verify = Request(ZkRequestKind::kGetData, OwnPath());
        verify.watch = true;  // learn at once if the own node is deleted
        Send(std::move(verify), Purpose::kVerifyOwner, own_node_);
      }
    }
    return;
  }
  if (leader_) LoseLeadership("own latch node is no longer first");
  const LatchNode& pred = *(own - 1);
  handover_from_ = own - nodes.begin() == 1 ? pred.name : std::string();
  if (pred.name != watched_pred_) {
    watched_pred_ = pred.name;
    ZkRequest watch = Request(ZkRequestKind::kGetData, latch_path_ + "/" + pred.name);
    watch.watch = true;
    Send(std::move(watch), Purpose::kWatchPred, pred.name);
  }
}

void LatchCore::OnWatchPred(const ZkResult& r, const Pending& p) {
  if (p.node != watched_pred_) return;
  if (r.code == ZkCode::kOk) {
    join_failures_ = 0;
    return;
  }
  watched_pred_.clear();
  if (IsUncertain(r.code)) {
    NoteConnectionLoss();
    return;
  }
  SendList();  // predecessor already gone: look again
}

void LatchCore::OnWatch(const ZkWatchEvent& w) {
  if (phase_ != Phase::kJoined) return;
  if (!own_node_.empty() && w.path == OwnPath()) {
    if (w.type == WatchEventType::kDeleted) {
      LoseLeadership("own latch node " + own_node_ + " was deleted");
      ScheduleRejoin("own latch node deleted");
    } else if (leader_) {
      ZkRequest again = Request(ZkRequestKind::kGetData, OwnPath());
      again.watch = true;
      Send(std::move(again), Purpose::kVerifyOwner, own_node_);
    }
    return;
  }
  if (w.path == asi_path_) {
    if (leader_ && !stopping_) {
      if (published_ && !publish_in_flight_) SendPublish();  // someone touched it: write it again
    } else {
      ZkRequest asi = Request(ZkRequestKind::kGetData, asi_path_);
      asi.watch = true;
      Send(std::move(asi), Purpose::kAddressGet);
      SendList();  // a new leader publishes it: learn who leads now
    }
    return;
  }
  if (!watched_pred_.empty() && w.path == latch_path_ + "/" + watched_pred_) {
    if (w.type == WatchEventType::kDataChanged) {
      ZkRequest again = Request(ZkRequestKind::kGetData, w.path);
      again.watch = true;
      Send(std::move(again), Purpose::kWatchPred, watched_pred_);
      return;
    }
    watched_pred_.clear();
    SendList();
  }
}

void LatchCore::OnLeaderGet(const ZkResult& r, const Pending& p) {
  if (r.code != ZkCode::kOk || p.node != leader_node_) return;
  leader_info_.id = r.data;
  leader_info_.epoch = r.stat.czxid;
}

void LatchCore::OnParticipantGet(const ZkResult& r, const Pending& p) {
  auto it = participant_ids_.find(p.node);
  if (it != participant_ids_.end() && r.code == ZkCode::kOk) it->second = r.data;
}

void LatchCore::OnAddressGet(const ZkResult& r) {
  if (leader_) return;
  if (r.code == ZkCode::kOk) leader_info_.address = r.data;
  if (r.code == ZkCode::kNoNode) leader_info_.address.clear();
}

// ---- Leadership and the lease ----------------------------------------------

// The answers on the way to leadership: true if `r` lets the step go on.
bool LatchCore::LeadershipStepOk(const ZkResult& r) {
  if (IsUncertain(r.code)) {
    NoteConnectionLoss();
    return false;
  }
  if (r.code == ZkCode::kNoNode) {
    LoseLeadership("own latch node is gone");
    ScheduleRejoin("own latch node gone before taking leadership");
    return false;
  }
  return r.code == ZkCode::kOk && !leader_;
}

void LatchCore::OnVerifyOwner(const ZkResult& r) {
  if (!LeadershipStepOk(r)) return;
  if (r.stat.ephemeral_owner != session_id_) {
    // CURATOR-696: a node of a dead session must never confer leadership.
    Log(LogAction::kWarning, "own latch node " + own_node_ + " belongs to session " +
                                 Hex(r.stat.ephemeral_owner) + ", not " + Hex(session_id_) +
                                 "; deleting it and rejoining");
    Send(Request(ZkRequestKind::kDelete, OwnPath()), Purpose::kDeleteStray, own_node_);
    ScheduleRejoin("own node owned by another session");
    return;
  }
  SendClaimCheck(r.stat.czxid);
}

// The listing was synced, but the node may still have been deleted since
// (by another client, the notification not yet here). The write is ordered
// after everything before it, and a node that still exists and was first is
// still first; it also gives a lagging server of a deposed leader one commit
// more to tell that leader.
void LatchCore::SendClaimCheck(int64_t czxid) {
  if (InFlight(Purpose::kClaimCheck)) return;
  claim_epoch_ = czxid;
  Send(Request(ZkRequestKind::kCheck, OwnPath()), Purpose::kClaimCheck, own_node_);
}

void LatchCore::OnClaimCheck(const ZkResult& r) {
  if (!LeadershipStepOk(r)) return;
  Claim(claim_epoch_);
}

// A data watch on the own node (its data never changes): learn at once if it
// is deleted.
void LatchCore::WatchOwnNode() {
  ZkRequest watch = Request(ZkRequestKind::kGetData, OwnPath());
  watch.watch = true;
  Send(std::move(watch), Purpose::kWatchOwn, own_node_);
}

// The answer that set the watch on the own node: NONODE means the node is
// already gone and no watch was set, so act as on its deletion.
void LatchCore::OnWatchOwn(const ZkResult& r, const Pending& p) {
  if (r.code != ZkCode::kNoNode || phase_ != Phase::kJoined || p.node != own_node_) return;
  LoseLeadership("own latch node " + own_node_ + " was deleted");
  ScheduleRejoin("own latch node deleted");
}

// The own node was first in a synced listing and is owned by this session.
// With an advertise URL, ACTIVE comes only with the answer of the first
// publish of active_server_info, a guarded write sent after this: a node
// deleted (by anyone) before that write makes it fail, and the agent has
// received any deletion notification ordered before it.
void LatchCore::Claim(int64_t czxid) {
  if (leader_ || stopping_) return;
  leader_ = true;
  handover_from_.clear();
  join_failures_ = 0;
  epoch_ = czxid;
  leader_node_ = own_node_;
  leader_info_ = LeaderInfo{config_.id, "", epoch_};
  published_ = false;
  Log(LogAction::kInfo, "own latch node " + own_node_ + " is first: leader with epoch " +
                            std::to_string(epoch_));
  MaybeClaim();
}

void LatchCore::SendRenew() {
  if (renew_in_flight_ || !connected_ || phase_ != Phase::kJoined || own_node_.empty()) return;
  renew_in_flight_ = true;
  next_renew_ = now_ + RenewInterval();
  Send(Request(ZkRequestKind::kCheck, OwnPath()), Purpose::kRenew, own_node_);
}

void LatchCore::OnRenew(const ZkResult& r) {
  renew_in_flight_ = false;
  if (r.code == ZkCode::kNoNode) {
    LoseLeadership("own latch node is gone (lease renewal)");
    ScheduleRejoin("own latch node gone");
    return;
  }
  if (r.code == ZkCode::kOk) MaybeClaim();
}

// Moves the role toward what leadership and the lease allow.
void LatchCore::MaybeClaim() {
  if (!leader_ || stopping_) return;
  if (!LeaseValid()) {
    if (IsClaim(role_)) {
      SetRole(Role::kBecomingPassive, "lease lapsed: no answer from ZooKeeper for " +
                                          std::to_string(ToMillis(LeaseLength())) + " ms");
    }
    published_ = false;
    if (connected_) SendRenew();
    return;
  }
  if (role_ != Role::kBecomingActive && role_ != Role::kActive) {
    SetRole(Role::kBecomingActive, role_ == Role::kBecomingPassive ? "lease renewed, still first"
                                                                   : "own latch node is first");
    acked_ = hook_ok_ = false;
    activation_deadline_.reset();
    if (config_.require_ack || config_.require_hook) {
      activation_deadline_ = now_ + config_.activation_timeout;
    }
  }
  if (role_ == Role::kBecomingActive && !GatesPassed()) return;
  activation_deadline_.reset();
  if (!published_) {
    if (!publish_in_flight_) SendPublish();
    return;
  }
  SetRole(Role::kActive, config_.advertise.empty() ? "leader" : "published active_server_info");
}

bool LatchCore::GatesPassed() const {
  return (!config_.require_ack || acked_) && (!config_.require_hook || hook_ok_);
}

void LatchCore::OnAck(const AckEvent& e) {
  auto reply = [this](bool ok, std::string message) {
    out_.push_back(AckResultAction{ok, std::move(message)});
  };
  if (leader_ && e.epoch == epoch_ && role_ == Role::kActive) {
    return reply(true, "already ACTIVE in epoch " + std::to_string(epoch_));
  }
  if (!leader_ || role_ != Role::kBecomingActive) {
    return reply(false, std::string("not BECOMING_ACTIVE (role ") + std::string(RoleName(role_)) + ")");
  }
  if (e.epoch != epoch_) {
    return reply(false, "epoch " + std::to_string(e.epoch) + " is not the current term " +
                            std::to_string(epoch_));
  }
  acked_ = true;
  reply(true, config_.require_ack ? "acknowledged epoch " + std::to_string(epoch_)
                                  : "acknowledged (no ack is required)");
  MaybeClaim();
}

void LatchCore::OnHookDone(const HookDoneEvent& e) {
  if (e.role != Role::kBecomingActive || !leader_ || role_ != Role::kBecomingActive ||
      e.epoch != epoch_ || !config_.require_hook) {
    return;
  }
  if (!e.ok) return GiveUp("on_transition hook failed: " + e.detail);
  hook_ok_ = true;
  MaybeClaim();
}

// Activation failed: give leadership up and go to the back of the latch.
void LatchCore::GiveUp(const std::string& reason) {
  out_.push_back(ActivationFailedAction{epoch_, reason});
  Log(LogAction::kWarning, "giving up leadership of epoch " + std::to_string(epoch_) + ": " + reason);
  activation_deadline_.reset();
  StepDownAndRejoin(reason);
}

void LatchCore::SendPublish() {
  publish_in_flight_ = true;
  if (config_.advertise.empty()) {
    // Nothing to publish, but ACTIVE still waits for a write sent after the
    // claim (Claim()).
    Send(Request(ZkRequestKind::kCheck, OwnPath()), Purpose::kPublishCheck, own_node_);
    return;
  }
  ZkRequest req = Request(ZkRequestKind::kCreate, asi_path_);
  req.data = config_.advertise;
  req.mode = CreateMode::kEphemeral;
  req.guard = OwnPath();  // a leader whose node is gone must not publish
  Send(std::move(req), Purpose::kPublishCreate, own_node_);
}

void LatchCore::OnPublish(const ZkResult& r, const Pending& p) {
  bool current = leader_ && p.gen == gen_ && !stopping_;
  if (!current) {
    // A publish that landed after leadership was lost must not stay behind.
    // A stop or yield sent its delete after the create (the step-down multi
    // removes both, in order); otherwise remove it like every other write of
    // the address: only while the node it was published for still exists, so
    // that a successor's address can never be the one deleted.
    bool stepping_down = stopping_ || phase_ == Phase::kStopping || phase_ == Phase::kYielding;
    if (p.purpose == Purpose::kPublishCreate && r.code == ZkCode::kOk && connected_ &&
        !stepping_down && !p.node.empty()) {
      ZkRequest del = Request(ZkRequestKind::kDelete, asi_path_);
      del.version = r.stat.version;
      del.guard = latch_path_ + "/" + p.node;
      Send(std::move(del), Purpose::kDeleteStray, asi_path_);
    }
    return;
  }
  if (IsUncertain(r.code)) {
    publish_in_flight_ = false;
    NoteConnectionLoss();
    return;
  }
  if (r.guard_failed || (p.purpose == Purpose::kPublishCheck && r.code == ZkCode::kNoNode)) {
    // Every publish write is conditioned on the own node: it is gone, so this
    // agent no longer leads and must not touch the new leader's address.
    LoseLeadership("own latch node " + own_node_ + " is gone (publishing active_server_info)");
    ScheduleRejoin("own latch node gone");
    return;
  }
  auto done = [this](int32_t version) {
    publish_in_flight_ = false;
    published_ = true;
    asi_version_ = version;
    leader_info_.address = config_.advertise;
    MaybeClaim();
  };
  switch (p.purpose) {
    case Purpose::kPublishCreate:
      if (r.code == ZkCode::kOk) return done(r.stat.version);
      if (r.code == ZkCode::kNodeExists) {
        Send(Request(ZkRequestKind::kGetData, asi_path_), Purpose::kPublishGet);
        return;
      }
      break;
    case Purpose::kPublishGet:
      if (r.code == ZkCode::kNoNode) return SendPublish();
      if (r.code == ZkCode::kOk && r.stat.ephemeral_owner == session_id_) {
        if (r.data == config_.advertise) return done(r.stat.version);
        ZkRequest set = Request(ZkRequestKind::kSetData, asi_path_);
        set.data = config_.advertise;
        set.version = r.stat.version;
        set.guard = OwnPath();
        Send(std::move(set), Purpose::kPublishSet);
        return;
      }
      if (r.code == ZkCode::kOk) {
        Log(LogAction::kInfo, "replacing stale active_server_info \"" + r.data + "\" of session " +
                                  Hex(r.stat.ephemeral_owner));
        ZkRequest del = Request(ZkRequestKind::kDelete, asi_path_);
        del.version = r.stat.version;
        del.guard = OwnPath();
        Send(std::move(del), Purpose::kPublishDelete);
        return;
      }
      break;
    case Purpose::kPublishSet:
      if (r.code == ZkCode::kOk) return done(r.stat.version);
      return SendPublish();
    case Purpose::kPublishDelete:
      return SendPublish();
    case Purpose::kPublishCheck:
      if (r.code == ZkCode::kOk) return done(-1);
      break;
    default:
      break;
  }
  publish_in_flight_ = false;
  Log(LogAction::kError, "could not publish " + asi_path_ + ": " + std::string(ZkCodeName(r.code)) +
                             (r.code == ZkCode::kNoAuth ? " (check --zk_acl and --zk_auth_file)" : ""));
}

void LatchCore::StopClaiming(const std::string& reason) {
  if (IsClaim(role_)) SetRole(Role::kBecomingPassive, reason);
}

void LatchCore::LoseLeadership(const std::string& reason) {
  bool was = leader_;
  leader_ = false;
  published_ = false;
  publish_in_flight_ = false;
  StopClaiming(reason);
  if (role_ == Role::kBecomingPassive) SetRole(Role::kPassive, reason);
  if (was) {
    leader_node_.clear();
    leader_info_ = LeaderInfo{};
  }
}

// ---- Time ------------------------------------------------------------------

void LatchCore::OnTick() {
  if (stop_deadline_ && now_ >= *stop_deadline_) {
    stop_deadline_.reset();
    Log(LogAction::kWarning, "graceful stop timed out; closing the session");
    phase_ = Phase::kStopped;
    out_.push_back(FinishedAction{});
    return;
  }
  if (activation_deadline_ && now_ >= *activation_deadline_ && role_ == Role::kBecomingActive) {
    GiveUp("activation not finished within " + std::to_string(ToMillis(config_.activation_timeout)) +
           " ms (no ack or hook result)");
  }
  if (join_at_ && now_ >= *join_at_) StartJoin();
  if (needs_resync_ && connected_) Resync();
  if (connected_ && phase_ == Phase::kJoined && now_ >= next_renew_) {
    SendRenew();
    // Only the predecessor is watched, so an agent further back learns of a
    // new leader (and the participants) from this periodic listing.
    SendList();
    if (!leader_ && leader_info_.address.empty() && !leader_node_.empty()) {
      ZkRequest asi = Request(ZkRequestKind::kGetData, asi_path_);
      asi.watch = true;
      Send(std::move(asi), Purpose::kAddressGet);
    }
  }
  MaybeClaim();
}

// ---- Results ---------------------------------------------------------------

void LatchCore::OnResult(const ZkResult& r) {
  auto it = pending_.find(r.id);
  if (it == pending_.end()) return;
  Pending p = it->second;
  pending_.erase(it);
  // The lease rule: a write answered in the current session proves the session
  // was alive at the leader after the send time.
  if (IsWrite(p.kind) && IsServerAnswer(r.code) && p.session == session_id_ && session_id_ != 0) {
    MonoTime end = p.sent + LeaseLength();
    if (!lease_end_ || end > *lease_end_) lease_end_ = end;
  }
  if (p.session != session_id_) return;
  switch (p.purpose) {
    case Purpose::kStepDownDelete:
    case Purpose::kStepDownBoth:
    case Purpose::kStepDownMarked:
      return OnStepDownDelete(r, p);
    case Purpose::kPublishCreate:
    case Purpose::kPublishGet:
    case Purpose::kPublishSet:
    case Purpose::kPublishDelete:
    case Purpose::kPublishCheck:
      return OnPublish(r, p);
    case Purpose::kLeaderGet:
      return OnLeaderGet(r, p);
    case Purpose::kAddressGet:
      return OnAddressGet(r);
    case Purpose::kOrphanList:
      return OnOrphanList(r);
    case Purpose::kUnresumedOwner:
      return OnUnresumedOwner(r, p);
    case Purpose::kDeleteStray:
      return;
    case Purpose::kSync:
      if (r.code == ZkCode::kOk) synced_ = r.id;
      return;
    case Purpose::kHandoverMark:
      if (r.code == ZkCode::kOk) {
        mark_id_ = r.id;
        mark_ = r.data;
      }
      return;
    case Purpose::kParticipantGet:
      return OnParticipantGet(r, p);
    default:
      break;
  }
  if (p.gen != gen_) {  // about an own-node attempt that was abandoned
    if (p.purpose == Purpose::kCreateNode) OnAbandonedCreate(r, p);
    return;
  }
  switch (p.purpose) {
    case Purpose::kCreateNode: return OnCreateNode(r, p);
    case Purpose::kCreateParent: return OnCreateParent(r, p);
    case Purpose::kRecoverList: return OnRecoverList(r);
    case Purpose::kRecoverOwner: return OnRecoverOwner(r, p);
    case Purpose::kList: return OnList(r, p);
    case Purpose::kWatchPred: return OnWatchPred(r, p);
    case Purpose::kVerifyOwner: return OnVerifyOwner(r);
    case Purpose::kClaimCheck: return OnClaimCheck(r);
    case Purpose::kWatchOwn: return OnWatchOwn(r, p);
    case Purpose::kRenew: return OnRenew(r);
    default: return;
  }
}

// ---- Stop and yield ----------------------------------------------------------

void LatchCore::SendStepDownDeletes() {
  step_down_pending_ = 0;
  if (own_node_.empty()) {
    // Without an own node nothing of ours is deleted here: the address was
    // published guarded on the node, and one left behind goes with the session
    // (a stop closes it) or is replaced by the next leader.
    return;
  }
  // One write. It also names the node in the latch node's data (the handover
  // mark): the successor, seeing its predecessor deleted that way, knows its
  // owner stopped claiming before and takes over without a check write.
  if (!config_.advertise.empty() && (published_ || publish_in_flight_)) {
    // multi {delete(own node), delete(active_server_info), set(mark)}: the
    // successor, woken by the node's deletion, finds the address gone too,
    // and the address goes only while the node shows that no one else leads.
    ZkRequest del = Request(ZkRequestKind::kDelete, asi_path_);
    del.version = published_ ? asi_version_ : -1;
    del.guard = OwnPath();
    del.guard_delete = true;
    del.mark_path = latch_path_;
    del.mark_data = own_node_;
    Send(std::move(del), Purpose::kStepDownBoth, own_node_);
  } else {
    SendMarkedDelete();
  }
  ++step_down_pending_;
}

// multi {delete(own node), set(mark)}.
void LatchCore::SendMarkedDelete() {
  ZkRequest del = Request(ZkRequestKind::kDelete, OwnPath());
  del.mark_path = latch_path_;
  del.mark_data = own_node_;
  Send(std::move(del), Purpose::kStepDownMarked, own_node_);
}

void LatchCore::OnStepDownDelete(const ZkResult& r, const Pending& p) {
  if (phase_ != Phase::kStopping && phase_ != Phase::kYielding) return;
  if (IsUncertain(r.code) && phase_ == Phase::kYielding) {
    NoteConnectionLoss();
    return;
  }
  bool failed = IsServerAnswer(r.code) && r.code != ZkCode::kOk && !own_node_.empty();
  if (failed && p.purpose == Purpose::kStepDownBoth && !r.guard_failed) {
    // The address was not ours to delete any more (or already gone), or the
    // mark could not be written: the node and the mark, then.
    SendMarkedDelete();
    return;
  }
  if (failed && p.purpose == Purpose::kStepDownMarked && r.code != ZkCode::kNoNode) {
    // The mark could not be written (the latch node's ACL): the node alone.
    Send(Request(ZkRequestKind::kDelete, OwnPath()), Purpose::kStepDownDelete, own_node_);
    return;
  }
  if (--step_down_pending_ > 0) return;
  published_ = false;
  if (phase_ == Phase::kStopping) {
    Log(LogAction::kInfo, "left the latch; closing the session");
    phase_ = Phase::kStopped;
    stop_deadline_.reset();
    out_.push_back(FinishedAction{});
    return;
  }
  Log(LogAction::kInfo, "yielded; rejoining at the back of the latch");
  ResetNode();
  StartJoin();
}

void LatchCore::OnStop() {
  if (stopping_) return;
  stopping_ = true;
  // First stop claiming (nothing after this line can report a claim), then
  // delete the nodes so the successor sees the way clear.
  StopClaiming("stopping");
  if (role_ == Role::kBecomingPassive) SetRole(Role::kPassive, "stopping");
  bool had_nodes = !own_node_.empty() || published_;
  leader_ = false;
  phase_ = Phase::kStopping;
  stop_deadline_ = now_ + config_.stop_timeout;
  if (!connected_ || !had_nodes) {
    phase_ = Phase::kStopped;
    stop_deadline_.reset();
    out_.push_back(FinishedAction{});
    return;
  }
  SendStepDownDeletes();
}

void LatchCore::OnYield() {
  if (stopping_ || phase_ == Phase::kYielding) return;
  StepDownAndRejoin("yield requested");
}

void LatchCore::StepDownAndRejoin(const std::string& reason) {
  StopClaiming(reason);
  if (role_ == Role::kBecomingPassive) SetRole(Role::kPassive, reason);
  leader_ = false;
  leader_node_.clear();
  leader_info_ = LeaderInfo{};
  ++gen_;
  if (!connected_ || own_node_.empty()) {
    // Not connected: the node cannot be deleted now, but the session may live
    // on (a reconnect within it). Delete it by its uuid after the reconnect,
    // or it would hold its place (maybe first) while this agent rejoins.
    std::optional<LatchNode> node = ParseLatchNode(own_node_);
    if (node && !node->uuid.empty()) orphan_uuids_.push_back(node->uuid);
    ScheduleRejoin(reason);
    return;
  }
  phase_ = Phase::kYielding;
  SendStepDownDeletes();
}

}  // namespace latchd
