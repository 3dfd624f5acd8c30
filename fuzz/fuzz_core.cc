// Fuzzes the election core, LatchCore (lib/core/latch_core.h), the way the
// agent drives it: events decoded from the input, in increasing time.
//
// The harness is a small simulated ZooKeeper. Requests the core emits are
// answered (in any order) either as that ZooKeeper would — nodes, sequence
// numbers, owners, versions, NONODE/NODEEXISTS/BADVERSION — or with any code,
// data, stat or children the input chooses. Other events: session up (same or
// new session, negotiated timeout), connection loss, expiry (the session's
// ephemeral nodes go), watches (fired by the simulated ZooKeeper or made up),
// other participants joining and nodes vanishing (sometimes with the handover
// mark of a graceful step-down), ticks (sometimes exactly at
// NextDeadline, as the agent's timer does), stop, yield, ack, hook results.
//
// One rule keeps the simulated world honest: a ZooKeeper server answers
// (OK or a definite error) only requests of the live session while
// connected; requests of a dead session get CONNECTIONLOSS, SESSIONEXPIRED,
// CLOSING, INVALIDSTATE or OPERATIONTIMEOUT.
//
// Invariants checked after every event, for any input:
//  * lease: the harness keeps its own lease end, by the rule of
//    docs/design.md (send time of the latest write answered by a server in
//    the current session + negotiated timeout x (1 - margin)); RoleAt(now)
//    and the announced role are claims only before it, and RoleAt at that
//    lease end (or anywhere, without a lease) is never a claim;
//  * roles: every RoleChangeAction starts at the previously announced role
//    and follows an allowed edge (PASSIVE->BECOMING_ACTIVE->ACTIVE->
//    BECOMING_PASSIVE->PASSIVE, BECOMING_PASSIVE->BECOMING_ACTIVE,
//    BECOMING_ACTIVE->BECOMING_PASSIVE); RoleAt(now) is the announced role
//    or, for a lapsed claim, BECOMING_PASSIVE; StatusAt agrees with RoleAt;
//  * no claim after a stop, an expiry or a new session is handled;
//  * no busy loop: after a Tick handled at t, NextDeadline() is after t;
//  * no crash, no undefined behaviour, no leak (ASan/UBSan/LSan).
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "lib/core/latch_core.h"

namespace {

using namespace latchd;  // NOLINT: a test harness
using std::chrono::milliseconds;

constexpr int kMaxSteps = 2000;
constexpr int64_t kForeignSessionBase = 0x7000000000;

struct Sent {
  ZkRequest req;
  int64_t session;  // the session the core had when it sent the request
  MonoTime sent;
};

struct Node {
  int64_t owner;
  int64_t czxid;
  std::string data;
};

struct AsiNode {
  int64_t owner;
  int32_t version;
  std::string data;
};

bool AllowedEdge(Role from, Role to) {
  switch (from) {
    case Role::kPassive: return to == Role::kBecomingActive;
    case Role::kBecomingActive: return to == Role::kActive || to == Role::kBecomingPassive;
    case Role::kActive: return to == Role::kBecomingPassive;
    case Role::kBecomingPassive: return to == Role::kPassive || to == Role::kBecomingActive;
  }
  return false;
}

std::string RoleText(Role r) { return std::string(RoleName(r)); }

std::string Seq10(int64_t n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%010lld", static_cast<long long>(n % 10000000000LL));
  return buf;
}

long long Ms(MonoTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& in) : in_(in), core_(MakeConfig(in)) {
    latch_path_ = LatchPath(core_.config().zk_root);
    asi_path_ = ActiveServerInfoPath(core_.config().zk_root);
    margin_ = core_.config().lease_margin;
    // Which persistent nodes exist already (the latch path, or none of it).
    if (in_.ConsumeBool()) {
      for (const auto& p : PathPrefixes(latch_path_)) persistent_.insert(p);
    }
  }

  void Run() {
    for (int step = 0; step < kMaxSteps && in_.remaining_bytes() > 0 && !finished_; ++step) {
      AdvanceTime();
      switch (in_.ConsumeIntegralInRange<int>(0, 18)) {
        case 0: SessionUp(); break;
        case 1: connected_ = false, Feed(SessionDownEvent{}); break;
        case 2: Expire(); break;
        case 3: case 4: case 5: case 6: case 7: AnswerOne(); break;
        case 8: Feed(TickEvent{}); break;
        case 9: TickAtDeadline(); break;
        case 10: Stop(); break;
        case 11: Feed(YieldEvent{}); break;
        case 12: Ack(); break;
        case 13: HookDone(); break;
        case 14: ForeignJoin(); break;
        case 15: DeleteNode(); break;
        case 16: case 17: Watch(); break;
        case 18: StrayResult(); break;
      }
    }
  }

 private:
  static LatchConfig MakeConfig(FuzzedDataProvider& in) {
    static const char* kRoots[] = {"/fz", "/apache_atlas", "/a/b/c"};
    static const double kMargins[] = {0.25, 0.15, 0.5, 0.9};
    LatchConfig c;
    c.id = "fz";
    c.advertise = in.ConsumeBool() ? "" : "http://fz:21000";
    c.zk_root = kRoots[in.ConsumeIntegralInRange<int>(0, 2)];
    c.lease_margin = kMargins[in.ConsumeIntegralInRange<int>(0, 3)];
    c.require_ack = in.ConsumeBool();
    c.require_hook = in.ConsumeBool();
    c.activation_timeout = milliseconds(in.ConsumeBool() ? 30000 : 700);
    auto counter = std::make_shared<uint32_t>(0);
    c.new_uuid = [counter] {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012x", ++*counter, 0x5eed);
      return std::string(buf);
    };
    return c;
  }

  // ---- Driving the core ------------------------------------------------------

  void Feed(const Event& e) {
    MonoTime t = now_;
    bool tick = std::holds_alternative<TickEvent>(e);
    std::vector<Action> actions = core_.Handle(e, t);
    if (Trace()) TraceStep(e, actions, t);
    for (const Action& a : actions) {
      if (const auto* s = std::get_if<SendAction>(&a)) {
        sent_.push_back(Sent{s->request, session_, t});
      } else if (const auto* rc = std::get_if<RoleChangeAction>(&a)) {
        FUZZ_CHECK(rc->from == announced_, "role change from " + RoleText(rc->from) +
                                               " but the last announced role is " +
                                               RoleText(announced_));
        FUZZ_CHECK(AllowedEdge(rc->from, rc->to),
                   "role change " + RoleText(rc->from) + " -> " + RoleText(rc->to) +
                       " is not an allowed edge (" + rc->reason + ")");
        announced_ = rc->to;
      } else if (std::holds_alternative<FinishedAction>(a)) {
        finished_ = true;
      } else if (std::holds_alternative<ReopenSessionAction>(a)) {
        KillSession();
      }
    }
    Check(t, tick);
  }

  // LATCHD_FUZZ_TRACE=1 prints every event and the actions it caused (to
  // read a reproducer: fuzz_core crash-file 2>&1 | less).
  static bool Trace() {
    static const bool on = std::getenv("LATCHD_FUZZ_TRACE") != nullptr;
    return on;
  }

  void TraceStep(const Event& e, const std::vector<Action>& actions, MonoTime t) {
    static const char* kEvents[] = {"SessionUp", "SessionDown", "SessionExpired", "Result",
                                    "Watch",     "Tick",        "Stop",           "Yield",
                                    "Ack",       "HookDone"};
    static const char* kKinds[] = {"create", "delete", "getData", "getChildren", "check", "setData"};
    std::string line = "t=" + std::to_string(Ms(t)) + " " + kEvents[e.index()];
    if (const auto* up = std::get_if<SessionUpEvent>(&e)) {
      line += " session=" + std::to_string(up->session_id) + " timeout=" +
              std::to_string(std::chrono::duration_cast<milliseconds>(up->timeout).count()) + "ms";
    } else if (const auto* r = std::get_if<ResultEvent>(&e)) {
      line += " id=" + std::to_string(r->result.id) + " " + std::string(ZkCodeName(r->result.code));
      if (!r->result.children.empty()) line += " children=" + std::to_string(r->result.children.size());
    } else if (const auto* w = std::get_if<WatchEvent>(&e)) {
      line += " type=" + std::to_string(static_cast<int>(w->watch.type)) + " " + w->watch.path;
    } else if (const auto* a = std::get_if<AckEvent>(&e)) {
      line += " epoch=" + std::to_string(a->epoch);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    for (const Action& a : actions) {
      if (const auto* s = std::get_if<SendAction>(&a)) {
        std::fprintf(stderr, "    send #%llu %s %s\n", static_cast<unsigned long long>(s->request.id),
                     kKinds[static_cast<int>(s->request.kind)], s->request.path.c_str());
      } else if (const auto* rc = std::get_if<RoleChangeAction>(&a)) {
        std::fprintf(stderr, "    role %s -> %s epoch %lld (%s)\n", RoleText(rc->from).c_str(),
                     RoleText(rc->to).c_str(), static_cast<long long>(rc->epoch), rc->reason.c_str());
      } else if (const auto* l = std::get_if<LogAction>(&a)) {
        std::fprintf(stderr, "    log %s\n", l->message.c_str());
      } else if (std::holds_alternative<FinishedAction>(a)) {
        std::fprintf(stderr, "    finished\n");
      } else if (std::holds_alternative<ReopenSessionAction>(a)) {
        std::fprintf(stderr, "    reopen session\n");
      } else if (const auto* ar = std::get_if<AckResultAction>(&a)) {
        std::fprintf(stderr, "    ack %s: %s\n", ar->ok ? "ok" : "refused", ar->message.c_str());
      } else if (const auto* af = std::get_if<ActivationFailedAction>(&a)) {
        std::fprintf(stderr, "    activation failed: %s\n", af->reason.c_str());
      }
    }
    std::optional<MonoTime> next = core_.NextDeadline();
    std::fprintf(stderr, "    -> role %s, next deadline %s\n", RoleText(core_.RoleAt(t)).c_str(),
                 next ? std::to_string(Ms(*next)).c_str() : "none");
  }

  void Check(MonoTime t, bool after_tick) {
    const bool lease_ok = lease_end_ && t < *lease_end_;
    const std::string when = " at t=" + std::to_string(Ms(t)) + "ms (model lease end " +
                             (lease_end_ ? std::to_string(Ms(*lease_end_)) + "ms" : "none") + ")";
    Role at = core_.RoleAt(t);
    FUZZ_CHECK(!IsClaim(at) || lease_ok, "RoleAt is " + RoleText(at) + when);
    FUZZ_CHECK(!IsClaim(announced_) || lease_ok, "announced role is " + RoleText(announced_) + when);
    if (lease_end_) {
      Role end = core_.RoleAt(*lease_end_);
      FUZZ_CHECK(!IsClaim(end), "RoleAt(lease end) is " + RoleText(end) + when);
    } else {
      Role later = core_.RoleAt(t + std::chrono::hours(1));
      FUZZ_CHECK(!IsClaim(later), "a claim without any lease" + when);
    }
    FUZZ_CHECK(at == announced_ || (IsClaim(announced_) && at == Role::kBecomingPassive),
               "RoleAt " + RoleText(at) + " but announced " + RoleText(announced_) + when);
    FUZZ_CHECK(core_.StatusAt(t).role == at, "StatusAt disagrees with RoleAt" + when);
    if (no_claim_) FUZZ_CHECK(!IsClaim(announced_), "a claim after stop/expiry/new session" + when);
    if (after_tick && !finished_) {  // once finished, the agent feeds nothing more
      std::optional<MonoTime> next = core_.NextDeadline();
      if (next && *next <= t) {
        std::string what = "NextDeadline " + std::to_string(Ms(*next)) +
                           "ms is not after the tick just handled" + when;
        // CORE-1: joined with an empty node name (a create answered OK
        // without a path): the renewal deadline stays in the past.
        if (core_.StatusAt(t).own_node.empty()) FUZZ_KNOWN("CORE-1", false, what);
        else FUZZ_CHECK(false, what);
      }
    }
  }

  void AdvanceTime() {
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: break;
      case 1: now_ += milliseconds(in_.ConsumeIntegralInRange<int>(0, 20)); break;
      case 2: now_ += milliseconds(in_.ConsumeIntegralInRange<int>(0, 1000)); break;
      case 3: now_ += milliseconds(in_.ConsumeIntegralInRange<int>(0, 30000)); break;
    }
  }

  void TickAtDeadline() {
    std::optional<MonoTime> next = core_.NextDeadline();
    if (next && *next > now_) now_ = *next;
    Feed(TickEvent{});
  }

  // ---- Sessions ----------------------------------------------------------------

  void SessionUp() {
    bool fresh = session_ == 0 || session_dead_ || in_.ConsumeIntegralInRange<int>(0, 15) == 0;
    if (fresh) {
      // A new session while the old one was not known dead: the old one's
      // nodes stay until they are deleted (it has not expired on the server yet).
      if (session_ != 0 && !session_dead_) KillSession(/*remove_nodes=*/false);
      session_ = next_session_++;
      session_dead_ = false;
      static const int kTimeouts[] = {4000, 2000, 10000, 20000, 40000, 600, 60000};
      timeout_ = milliseconds(kTimeouts[in_.ConsumeIntegralInRange<int>(0, 6)]);
      lease_end_.reset();
    }
    connected_ = true;
    Feed(SessionUpEvent{session_, timeout_});
    if (fresh) {
      no_claim_ = stopped_;
      FUZZ_CHECK(!IsClaim(announced_), "a claim right after a new session");
    }
  }

  // The live session is gone: its ephemeral nodes and watches with it.
  void KillSession(bool remove_nodes = true) {
    connected_ = false;
    if (session_dead_ || session_ == 0) return;
    session_dead_ = true;
    lease_end_.reset();
    watched_.clear();
    queued_watches_.clear();
    if (!remove_nodes) return;
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      it = it->second.owner == session_ ? nodes_.erase(it) : std::next(it);
    }
    if (asi_ && asi_->owner == session_) asi_.reset();
  }

  void Expire() {
    if (session_ == 0) return;
    KillSession();
    Feed(SessionExpiredEvent{});
    FUZZ_CHECK(!IsClaim(announced_), "a claim after the session expired");
  }

  void Stop() {
    stopped_ = true;
    Feed(StopEvent{});
    no_claim_ = true;
    FUZZ_CHECK(!IsClaim(announced_), "a claim after stop");
  }

  // ---- Answers -----------------------------------------------------------------

  void AnswerOne() {
    if (sent_.empty()) return;
    size_t i = in_.ConsumeIntegralInRange<size_t>(0, sent_.size() - 1);
    Sent s = sent_[i];
    sent_.erase(sent_.begin() + static_cast<long>(i));
    if (answered_.size() < 256) answered_.push_back(s.req.id);
    bool live = !session_dead_ && s.session == session_;
    bool server = live && connected_;
    ZkResult r = server ? ServerAnswer(s.req) : DeadAnswer();
    r.id = s.req.id;
    // A create whose outcome is unknown to the client may have landed anyway
    // (CURATOR-498): the node exists, owned by the live session.
    if (live && (r.code == ZkCode::kConnectionLoss || r.code == ZkCode::kOperationTimeout) &&
        s.req.kind == ZkRequestKind::kCreate && s.req.mode == CreateMode::kEphemeralSequential &&
        persistent_.count(latch_path_) && in_.ConsumeBool()) {
      nodes_[std::string(BaseName(s.req.path)) + Seq10(next_seq_++)] =
          Node{session_, next_zxid_++, s.req.data};
    }
    if (server && IsWrite(s.req.kind) && IsServerAnswer(r.code)) {
      MonoTime end = s.sent + std::chrono::duration_cast<Duration>(timeout_ * (1.0 - margin_));
      if (!lease_end_ || end > *lease_end_) lease_end_ = end;
    }
    Feed(ResultEvent{std::move(r)});
  }

  ZkResult DeadAnswer() {
    static const ZkCode kCodes[] = {ZkCode::kConnectionLoss, ZkCode::kSessionExpired,
                                    ZkCode::kClosing, ZkCode::kInvalidState,
                                    ZkCode::kOperationTimeout};
    ZkResult r;
    r.code = kCodes[in_.ConsumeIntegralInRange<int>(0, 4)];
    return r;
  }

  // What a ZooKeeper server would answer, or (sometimes) anything it can say.
  ZkResult ServerAnswer(const ZkRequest& q) {
    int mode = in_.ConsumeIntegralInRange<int>(0, 15);
    if (mode >= 11) return ArbitraryAnswer(mode == 15);
    ZkResult r;
    r.code = ZkCode::kOk;
    std::string base(BaseName(q.path));
    bool latch_child = q.path.size() > latch_path_.size() + 1 &&
                       q.path.compare(0, latch_path_.size() + 1, latch_path_ + "/") == 0 &&
                       q.path.find('/', latch_path_.size() + 1) == std::string::npos;
    switch (q.kind) {
      case ZkRequestKind::kCreate: {
        std::string parent = q.path.substr(0, q.path.rfind('/'));
        if (!parent.empty() && !persistent_.count(parent)) {
          r.code = ZkCode::kNoNode;
        } else if (q.mode == CreateMode::kEphemeralSequential && latch_child) {
          std::string name = base + Seq10(next_seq_++);
          nodes_[name] = Node{session_, next_zxid_, q.data};
          r.created_path = latch_path_ + "/" + name;
          r.stat.czxid = next_zxid_++;
          r.stat.ephemeral_owner = session_;
          FireWatch(latch_path_, WatchEventType::kChildrenChanged);
        } else if (q.path == asi_path_) {
          if (asi_) {
            r.code = ZkCode::kNodeExists;
          } else {
            asi_ = AsiNode{session_, 0, q.data};
            r.created_path = q.path;
            r.stat.czxid = next_zxid_++;
            r.stat.ephemeral_owner = session_;
            FireWatch(asi_path_, WatchEventType::kCreated);
          }
        } else if (persistent_.count(q.path) || nodes_.count(base)) {
          r.code = ZkCode::kNodeExists;
        } else {
          persistent_.insert(q.path);
          r.created_path = q.path;
        }
        break;
      }
      case ZkRequestKind::kDelete:
        if (q.path == asi_path_) {
          if (!asi_) {
            r.code = ZkCode::kNoNode;
          } else if (q.version != -1 && q.version != asi_->version) {
            r.code = ZkCode::kBadVersion;
          } else {
            asi_.reset();
            FireWatch(asi_path_, WatchEventType::kDeleted);
          }
        } else if (latch_child && nodes_.erase(base)) {
          FireWatch(q.path, WatchEventType::kDeleted);
        } else {
          r.code = ZkCode::kNoNode;
        }
        if (r.code == ZkCode::kOk && q.mark_path == latch_path_) mark_ = q.mark_data;
        break;
      case ZkRequestKind::kGetData:
        if (q.path == latch_path_ && persistent_.count(latch_path_)) {
          r.data = mark_;  // the handover mark
        } else if (q.path == asi_path_ && asi_) {
          r.data = asi_->data;
          r.stat.version = asi_->version;
          r.stat.ephemeral_owner = asi_->owner;
        } else if (latch_child && nodes_.count(base)) {
          const Node& n = nodes_[base];
          r.data = n.data;
          r.stat.czxid = n.czxid;
          r.stat.ephemeral_owner = n.owner;
        } else {
          r.code = ZkCode::kNoNode;
        }
        if (q.watch && (r.code == ZkCode::kOk || q.path == asi_path_)) watched_.insert(q.path);
        break;
      case ZkRequestKind::kGetChildren:
        if (q.path != latch_path_ || !persistent_.count(latch_path_)) {
          r.code = ZkCode::kNoNode;
          break;
        }
        for (const auto& [name, n] : nodes_) r.children.push_back(name);
        if (in_.ConsumeIntegralInRange<int>(0, 7) == 0) r.children.push_back(in_.ConsumeRandomLengthString(48));
        if (!r.children.empty()) {
          std::rotate(r.children.begin(),
                      r.children.begin() + in_.ConsumeIntegralInRange<size_t>(0, r.children.size() - 1),
                      r.children.end());
        }
        break;
      case ZkRequestKind::kCheck:
        if (!(latch_child && nodes_.count(base))) r.code = ZkCode::kNoNode;
        break;
      case ZkRequestKind::kSync:  // one server: always up to date
        break;
      case ZkRequestKind::kSetData:
        if (q.path != asi_path_ || !asi_) {
          r.code = ZkCode::kNoNode;
        } else if (q.version != -1 && q.version != asi_->version) {
          r.code = ZkCode::kBadVersion;
        } else {
          asi_->data = q.data;
          r.stat.version = ++asi_->version;
          r.stat.ephemeral_owner = asi_->owner;
          FireWatch(asi_path_, WatchEventType::kDataChanged);
        }
        break;
    }
    return r;
  }

  ZkResult ArbitraryAnswer(bool wild) {
    static const ZkCode kCodes[] = {ZkCode::kOk, ZkCode::kNoNode, ZkCode::kNodeExists,
                                    ZkCode::kBadVersion, ZkCode::kNotEmpty, ZkCode::kNoAuth,
                                    ZkCode::kBadArguments, ZkCode::kConnectionLoss,
                                    ZkCode::kOperationTimeout, ZkCode::kOther};
    ZkResult r;
    r.code = kCodes[in_.ConsumeIntegralInRange<int>(0, 9)];
    if (!wild) return r;
    r.data = in_.ConsumeRandomLengthString(32);
    r.stat.czxid = in_.ConsumeIntegral<int64_t>();
    r.stat.ephemeral_owner = in_.ConsumeBool() ? session_ : in_.ConsumeIntegral<int64_t>();
    r.stat.version = in_.ConsumeIntegral<int32_t>();
    r.created_path = latch_path_ + "/" + in_.ConsumeRandomLengthString(48);
    int n = in_.ConsumeIntegralInRange<int>(0, 4);
    for (int i = 0; i < n; ++i) r.children.push_back(in_.ConsumeRandomLengthString(48));
    return r;
  }

  // A result nobody asked for (an unknown or already answered id).
  // (Never the id of a request still waiting: that would be an answer the
  // harness did not account for.)
  void StrayResult() {
    ZkResult r = ArbitraryAnswer(true);
    r.id = answered_.empty() || in_.ConsumeBool()
               ? (in_.ConsumeBool() ? 0 : uint64_t{1} << 62)
               : answered_[in_.ConsumeIntegralInRange<size_t>(0, answered_.size() - 1)];
    Feed(ResultEvent{std::move(r)});
  }

  // ---- Other participants and watches ---------------------------------------------

  void ForeignJoin() {
    char uuid[40];
    std::snprintf(uuid, sizeof(uuid), "f0000000-0000-4000-8000-%012llx",
                  static_cast<unsigned long long>(next_seq_));
    std::string name = LatchNodePrefix(uuid) + Seq10(next_seq_++);
    nodes_[name] = Node{kForeignSessionBase + in_.ConsumeIntegralInRange<int>(0, 3), next_zxid_++,
                        "other" + std::to_string(in_.ConsumeIntegralInRange<int>(0, 3))};
    FireWatch(latch_path_, WatchEventType::kChildrenChanged);
  }

  // A node vanishes: another participant leaves or expires, or an operator
  // deletes one (the core's own node included).
  void DeleteNode() {
    int what = in_.ConsumeIntegralInRange<int>(0, 5);
    if (what == 5) {
      if (asi_) {
        asi_.reset();
        FireWatch(asi_path_, WatchEventType::kDeleted);
      }
      return;
    }
    if (what == 4) {  // an operator deletes the whole latch (CURATOR-724)
      for (const auto& [name, n] : nodes_) FireWatch(latch_path_ + "/" + name, WatchEventType::kDeleted);
      nodes_.clear();
      persistent_.erase(latch_path_);
      mark_.clear();
      return;
    }
    if (nodes_.empty()) return;
    auto it = nodes_.begin();
    std::advance(it, in_.ConsumeIntegralInRange<size_t>(0, nodes_.size() - 1));
    std::string path = latch_path_ + "/" + it->first;
    // Sometimes another participant's graceful step-down, which leaves the
    // handover mark with the delete.
    if (it->second.owner != session_ && in_.ConsumeBool()) mark_ = it->first;
    nodes_.erase(it);
    FireWatch(path, WatchEventType::kDeleted);
  }

  void FireWatch(const std::string& path, WatchEventType type) {
    if (watched_.erase(path)) queued_watches_.push_back(ZkWatchEvent{type, path});
  }

  void Watch() {
    if (!queued_watches_.empty() && in_.ConsumeIntegralInRange<int>(0, 3) != 0) {
      if (!connected_) return;  // delivered once reconnected
      ZkWatchEvent w = queued_watches_.front();
      queued_watches_.erase(queued_watches_.begin());
      Feed(WatchEvent{w});
      return;
    }
    // A made-up watch on some relevant path.
    static const WatchEventType kTypes[] = {WatchEventType::kCreated, WatchEventType::kDeleted,
                                            WatchEventType::kDataChanged,
                                            WatchEventType::kChildrenChanged,
                                            WatchEventType::kNotWatching};
    ZkWatchEvent w;
    w.type = kTypes[in_.ConsumeIntegralInRange<int>(0, 4)];
    int which = in_.ConsumeIntegralInRange<int>(0, 3);
    if (which == 0 || nodes_.empty()) {
      w.path = which == 1 ? latch_path_ : asi_path_;
    } else if (which == 3) {
      w.path = in_.ConsumeRandomLengthString(48);
    } else {
      auto it = nodes_.begin();
      std::advance(it, in_.ConsumeIntegralInRange<size_t>(0, nodes_.size() - 1));
      w.path = latch_path_ + "/" + it->first;
    }
    Feed(WatchEvent{w});
  }

  // ---- Activation gates ------------------------------------------------------------

  void Ack() {
    int64_t epoch = in_.ConsumeBool() ? core_.StatusAt(now_).epoch : in_.ConsumeIntegral<int64_t>();
    Feed(AckEvent{epoch});
  }

  void HookDone() {
    HookDoneEvent e;
    e.role = in_.ConsumeIntegralInRange<int>(0, 3) != 0
                 ? Role::kBecomingActive
                 : kAllRoles[in_.ConsumeIntegralInRange<int>(0, 3)];
    e.epoch = in_.ConsumeBool() ? core_.StatusAt(now_).epoch : in_.ConsumeIntegral<int64_t>();
    e.ok = in_.ConsumeIntegralInRange<int>(0, 3) != 0;
    e.detail = "fuzz";
    Feed(e);
  }

  FuzzedDataProvider& in_;
  LatchCore core_;
  std::string latch_path_;
  std::string asi_path_;
  double margin_ = 0.25;

  MonoTime now_{std::chrono::seconds(1000)};
  int64_t session_ = 0;  // the last session announced to the core
  bool session_dead_ = false;
  bool connected_ = false;
  int64_t next_session_ = 0x100000001;
  Duration timeout_ = milliseconds(4000);
  std::optional<MonoTime> lease_end_;  // the model's lease
  std::vector<Sent> sent_;
  std::vector<uint64_t> answered_;  // ids already answered (for stray results)

  std::set<std::string> persistent_;
  std::map<std::string, Node> nodes_;  // latch children by name
  std::string mark_;                   // data of the latch node: the handover mark
  std::optional<AsiNode> asi_;
  int64_t next_seq_ = 0;
  int64_t next_zxid_ = 0x100000000;
  std::set<std::string> watched_;
  std::vector<ZkWatchEvent> queued_watches_;

  Role announced_ = Role::kPassive;
  bool stopped_ = false;
  bool no_claim_ = false;
  bool finished_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Harness h(in);
  h.Run();
  return 0;
}
