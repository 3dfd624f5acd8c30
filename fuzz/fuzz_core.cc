// Fuzzes the election core, LatchCore (lib/core/latch_core.h), the way the
// agent drives it, against the simulated ZooKeeper ensemble (tests/sim/sim_zk.h):
// the input seeds SimZk and chooses the steps — time passing (the core's
// timers run at NextDeadline, as the agent's timer does), partitions,
// connection resets, session expiry, ZooKeeper server kills and restarts,
// lagging followers, injected error answers and connection losses (applied
// or not), other participants joining and nodes vanishing (sometimes with
// the handover mark of a graceful step-down), stop, yield, ack, hook
// results, and watches or results nobody asked for.
//
// Invariants checked after every event, for any input:
//  * lease: the harness keeps its own lease end, by the rule of
//    docs/design.md (send time of the latest write answered by a server in
//    the current session + negotiated timeout x (1 - margin)); RoleAt(now)
//    and the announced role are claims only before it, and RoleAt at that
//    lease end (or anywhere, without a lease) is never a claim;
//  * roles: every RoleChangeAction starts at the previously announced role
//    and follows an allowed edge; RoleAt(now) is the announced role or, for
//    a lapsed claim, BECOMING_PASSIVE; StatusAt agrees with RoleAt;
//  * no claim after a stop, an expiry or a new session is handled;
//  * no busy loop: after a Tick handled at t, NextDeadline() is after t;
//  * SimZk's own checks: the run quiesces and stays under the request rate;
//  * no crash, no undefined behaviour, no leak (ASan/UBSan/LSan).
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "lib/core/latch_core.h"
#include "tests/sim/sim_zk.h"

namespace {

using namespace latchd;  // NOLINT: a test harness
using std::chrono::milliseconds;

constexpr int kMaxSteps = 2000;
constexpr int64_t kForeignSessionBase = 0x7000000000;

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


long long Ms(MonoTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

sim::SimZkOptions ZkOptions(FuzzedDataProvider& in) {
  sim::SimZkOptions o;
  o.seed = in.ConsumeIntegral<uint64_t>();
  o.servers = in.ConsumeIntegralInRange<int>(1, 3);
  o.on_failure = [](const std::string& what) { FUZZ_CHECK(false, "SimZk: " + what); };
  return o;
}

struct Sent {
  ZkRequest req;
  int64_t session;  // the session the core had when it sent the request
  MonoTime sent;
};

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& in) : in_(in), zk_(ZkOptions(in)), core_(MakeConfig(in)) {
    latch_path_ = LatchPath(core_.config().zk_root);
    margin_ = core_.config().lease_margin;
    if (in_.ConsumeBool()) {  // the latch path exists already
      for (const auto& p : PathPrefixes(latch_path_)) zk_.Create(p, "");
    }
    static const int kTimeouts[] = {4000, 2000, 10000, 20000, 600, 60000};
    sim::SimClientOptions client;
    client.name = "fz";
    client.session_timeout = milliseconds(kTimeouts[in_.ConsumeIntegralInRange<int>(0, 5)]);
    client.latency.jitter = milliseconds(in_.ConsumeIntegralInRange<int>(0, 40));
    client_ = zk_.AddClient(client, [this](const sim::ClientEvent& e) { OnZk(e); });
    zk_.Open(client_);
  }

  void Run() {
    for (int step = 0; step < kMaxSteps && in_.remaining_bytes() > 0 && !finished_; ++step) {
      switch (in_.ConsumeIntegralInRange<int>(0, 15)) {
        case 0: case 1: case 2: AdvanceTime(); break;
        case 3: zk_.SetPartitioned(client_, !zk_.partitioned(client_)); break;
        case 4: zk_.ResetConnection(client_); break;
        case 5: zk_.Expire(zk_.session(client_)); break;
        case 6: Server(); break;
        case 7: Fault(); break;
        case 8: Stop(); break;
        case 9: Feed(YieldEvent{}); break;
        case 10: Ack(); break;
        case 11: HookDone(); break;
        case 12: ForeignJoin(); break;
        case 13: DeleteNode(); break;
        case 14: MadeUpWatch(); break;
        case 15: StrayResult(); break;
      }
      if (zk_.failure()) return;
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
    if (finished_) return;
    MonoTime t = zk_.now();
    bool tick = std::holds_alternative<TickEvent>(e);
    std::vector<Action> actions = core_.Handle(e, t);
    if (Trace()) TraceStep(e, actions, t);
    for (const Action& a : actions) {
      if (const auto* s = std::get_if<SendAction>(&a)) {
        sent_[s->request.id] = Sent{s->request, session_, t};
        zk_.Submit(client_, s->request);
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
        zk_.Close(client_);
      } else if (std::holds_alternative<ReopenSessionAction>(a)) {
        lease_end_.reset();
        zk_.Open(client_);
      }
    }
    Check(t, tick);
  }

  void OnZk(const sim::ClientEvent& e) {
    if (const auto* s = std::get_if<sim::SessionChange>(&e)) {
      if (s->event == ZkSessionEvent::kConnected) {
        const bool fresh = s->info.session_id != session_;
        if (fresh) {
          session_ = s->info.session_id;
          timeout_ = s->info.negotiated_timeout;
          lease_end_.reset();
        }
        Feed(SessionUpEvent{s->info.session_id, s->info.negotiated_timeout});
        if (fresh) {
          no_claim_ = stopped_;
          FUZZ_CHECK(!IsClaim(announced_), "a claim right after a new session");
        }
      } else if (s->event == ZkSessionEvent::kConnecting) {
        Feed(SessionDownEvent{});
      } else {
        lease_end_.reset();
        Feed(SessionExpiredEvent{});
        FUZZ_CHECK(!IsClaim(announced_), "a claim after the session expired");
      }
    } else if (const auto* r = std::get_if<ZkResult>(&e)) {
      auto it = sent_.find(r->id);
      if (it != sent_.end()) {
        const Sent& s = it->second;
        if (s.session == session_ && IsWrite(s.req.kind) && IsServerAnswer(r->code)) {
          MonoTime end = s.sent + std::chrono::duration_cast<Duration>(timeout_ * (1.0 - margin_));
          if (!lease_end_ || end > *lease_end_) lease_end_ = end;
        }
        if (answered_.size() < 256) answered_.push_back(r->id);
        sent_.erase(it);
      }
      Feed(ResultEvent{*r});
    } else if (const auto* w = std::get_if<ZkWatchEvent>(&e)) {
      Feed(WatchEvent{*w});
    }
  }

  sim::SimZk::Host Timers() {
    sim::SimZk::Host host;
    host.next_deadline = [this]() -> std::optional<MonoTime> {
      return finished_ ? std::nullopt : core_.NextDeadline();
    };
    host.fire = [this](MonoTime) { Feed(TickEvent{}); };
    return host;
  }

  void AdvanceTime() {
    static const int kSpans[] = {5, 50, 1000, 30000};
    Duration d = milliseconds(in_.ConsumeIntegralInRange<int>(0, kSpans[in_.ConsumeIntegralInRange<int>(0, 3)]));
    zk_.Run(zk_.now() + d, Timers());
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

  void Stop() {
    stopped_ = true;
    Feed(StopEvent{});
    no_claim_ = true;
    FUZZ_CHECK(!IsClaim(announced_), "a claim after stop");
  }

  // ---- The ensemble --------------------------------------------------------------

  void Server() {
    const int s = in_.ConsumeIntegralInRange<int>(0, zk_.options().servers - 1);
    switch (in_.ConsumeIntegralInRange<int>(0, 2)) {
      case 0: zk_.KillServer(s); break;
      case 1: zk_.RestartServer(s); break;
      case 2: zk_.SetCommitLag(s, milliseconds(in_.ConsumeIntegralInRange<int>(0, 5000))); break;
    }
  }

  void Fault() {
    static const ZkCode kCodes[] = {ZkCode::kNoAuth,     ZkCode::kInvalidAcl, ZkCode::kBadVersion,
                                    ZkCode::kNoNode,     ZkCode::kNodeExists, ZkCode::kSessionMoved,
                                    ZkCode::kNotEmpty,   ZkCode::kOther};
    sim::FaultRule rule;
    int kind = in_.ConsumeIntegralInRange<int>(0, 2);
    rule.kind = kind == 0 ? sim::FaultKind::kAnswer
                          : kind == 1 ? sim::FaultKind::kLossApplied : sim::FaultKind::kLossNotApplied;
    rule.code = kCodes[in_.ConsumeIntegralInRange<int>(0, 7)];
    if (in_.ConsumeBool()) rule.request = static_cast<ZkRequestKind>(in_.ConsumeIntegralInRange<int>(0, 6));
    if (in_.ConsumeBool()) rule.path_prefix = in_.ConsumeBool() ? latch_path_ : ActiveServerInfoPath(core_.config().zk_root);
    rule.remaining = in_.ConsumeIntegralInRange<int>(1, 4);
    zk_.AddFault(rule);
  }

  // ---- Other participants and watches ---------------------------------------------

  void ForeignJoin() {
    char uuid[40];
    std::snprintf(uuid, sizeof(uuid), "f0000000-0000-4000-8000-%012llx",
                  static_cast<unsigned long long>(++foreign_));
    const sim::SimNode* parent = zk_.Get(latch_path_);
    if (parent == nullptr) return;
    char seq[16];
    std::snprintf(seq, sizeof seq, "%010d", parent->cversion);
    zk_.Create(latch_path_ + "/" + LatchNodePrefix(uuid) + seq,
               "other" + std::to_string(in_.ConsumeIntegralInRange<int>(0, 3)),
               kForeignSessionBase + in_.ConsumeIntegralInRange<int>(0, 3));
  }

  // A node vanishes: another participant leaves or expires, or an operator
  // deletes one (the core's own node included), the address, or the whole latch.
  void DeleteNode() {
    int what = in_.ConsumeIntegralInRange<int>(0, 5);
    if (what == 5) {
      zk_.Delete(ActiveServerInfoPath(core_.config().zk_root));
      return;
    }
    if (what == 4) {  // an operator deletes the whole latch (CURATOR-724)
      zk_.Delete(latch_path_);
      return;
    }
    std::vector<std::string> children = zk_.Children(latch_path_);
    if (children.empty()) return;
    std::string name = children[in_.ConsumeIntegralInRange<size_t>(0, children.size() - 1)];
    zk_.Delete(latch_path_ + "/" + name);
    // Sometimes another participant's graceful step-down, which leaves the
    // handover mark with the delete.
    if (in_.ConsumeBool()) zk_.SetData(latch_path_, name);
  }

  void MadeUpWatch() {
    static const WatchEventType kTypes[] = {WatchEventType::kCreated, WatchEventType::kDeleted,
                                            WatchEventType::kDataChanged,
                                            WatchEventType::kChildrenChanged,
                                            WatchEventType::kNotWatching};
    ZkWatchEvent w;
    w.type = kTypes[in_.ConsumeIntegralInRange<int>(0, 4)];
    std::vector<std::string> children = zk_.Children(latch_path_);
    int which = in_.ConsumeIntegralInRange<int>(0, 3);
    if (which == 0 || children.empty()) {
      w.path = which == 1 ? latch_path_ : ActiveServerInfoPath(core_.config().zk_root);
    } else if (which == 3) {
      w.path = in_.ConsumeRandomLengthString(48);
    } else {
      w.path = latch_path_ + "/" + children[in_.ConsumeIntegralInRange<size_t>(0, children.size() - 1)];
    }
    Feed(WatchEvent{w});
  }

  // A result nobody asked for (an unknown or already answered id; never the
  // id of a request still waiting).
  void StrayResult() {
    static const ZkCode kCodes[] = {ZkCode::kOk, ZkCode::kNoNode, ZkCode::kNodeExists,
                                    ZkCode::kBadVersion, ZkCode::kNoAuth, ZkCode::kConnectionLoss};
    ZkResult r;
    r.code = kCodes[in_.ConsumeIntegralInRange<int>(0, 5)];
    r.data = in_.ConsumeRandomLengthString(32);
    r.stat.czxid = in_.ConsumeIntegral<int64_t>();
    r.stat.ephemeral_owner = in_.ConsumeBool() ? session_ : in_.ConsumeIntegral<int64_t>();
    r.created_path = latch_path_ + "/" + in_.ConsumeRandomLengthString(48);
    r.id = answered_.empty() || in_.ConsumeBool()
               ? (in_.ConsumeBool() ? 0 : uint64_t{1} << 62)
               : answered_[in_.ConsumeIntegralInRange<size_t>(0, answered_.size() - 1)];
    Feed(ResultEvent{std::move(r)});
  }

  // ---- Activation gates ------------------------------------------------------------

  void Ack() {
    int64_t epoch = in_.ConsumeBool() ? core_.StatusAt(zk_.now()).epoch : in_.ConsumeIntegral<int64_t>();
    Feed(AckEvent{epoch});
  }

  void HookDone() {
    HookDoneEvent e;
    e.role = in_.ConsumeIntegralInRange<int>(0, 3) != 0
                 ? Role::kBecomingActive
                 : kAllRoles[in_.ConsumeIntegralInRange<int>(0, 3)];
    e.epoch = in_.ConsumeBool() ? core_.StatusAt(zk_.now()).epoch : in_.ConsumeIntegral<int64_t>();
    e.ok = in_.ConsumeIntegralInRange<int>(0, 3) != 0;
    e.detail = "fuzz";
    Feed(e);
  }

  FuzzedDataProvider& in_;
  sim::SimZk zk_;
  LatchCore core_;
  int client_ = 0;
  std::string latch_path_;
  double margin_ = 0.25;

  int64_t session_ = 0;  // the last session announced to the core
  Duration timeout_ = milliseconds(4000);
  std::optional<MonoTime> lease_end_;  // the model's lease
  std::map<uint64_t, Sent> sent_;
  std::vector<uint64_t> answered_;  // ids already answered (for stray results)
  uint64_t foreign_ = 0;

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
