// The election core's vocabulary: its configuration, the events it is fed,
// the actions it answers with, and the status it reports. Value types only;
// LatchCore (lib/core/latch_core.h) is the machine that uses them.
// Thread-safety: plain values.
#ifndef LATCHD_LIB_CORE_CORE_TYPES_H_
#define LATCHD_LIB_CORE_CORE_TYPES_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

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
  // The session timeout asked for (0: unknown). A negotiated timeout above it
  // means ZooKeeper raised it to its minimum, 2 x tickTime: then the lease
  // margin is raised to what docs/design.md's proof needs with that tick.
  Duration requested_session_timeout{};
  Duration stop_timeout = std::chrono::seconds(3);
  // Activation gates: after winning, stay BECOMING_ACTIVE until every enabled
  // gate passed for this BECOMING_ACTIVE entry, then publish and go ACTIVE. A
  // gate that fails or is not passed within activation_timeout gives
  // leadership up (delete the node, rejoin at the back). With both gates,
  // activation_timeout bounds the whole activation (the hook runner bounds the
  // hook on its own).
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
  // Server binding: whether the agent's server counts as healthy before the
  // first CandidacyEvent (false with --server_hold or probes: it must prove
  // itself first).
  bool start_healthy = true;
  std::string version;            // written into the member record
};

struct LeaderInfo {
  std::string id;       // empty if unknown
  std::string address;  // from active_server_info; empty if unknown
  int64_t epoch = 0;    // czxid of the leader's latch node; 0 if unknown
};

// What the core knows at one instant; RoleChangeAction carries the one of the
// instant of the change.
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
  bool healthy = true;           // the server counts as healthy (a candidate)
  bool waiting_for_candidate = false;  // leading with an unhealthy server, no healthy candidate
};

// One latch participant as of the last listing.
struct Participant {
  std::string node;  // latch node name
  std::string id;    // the participant's id (node data); "" until read
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
// The server's health as the agent core judges it (docs/design.md, "Server
// binding"); since_ms is the wall-clock time of the change, for the record.
struct CandidacyEvent { bool healthy = true; std::string reason; int64_t since_ms = 0; };
using Event = std::variant<SessionUpEvent, SessionDownEvent, SessionExpiredEvent, ResultEvent,
                           WatchEvent, TickEvent, StopEvent, YieldEvent, AckEvent, HookDoneEvent,
                           CandidacyEvent>;

// ---- Actions -------------------------------------------------------------
struct SendAction { ZkRequest request; };
// One step of the role diagram (lib/core/role_machine.h). `status` is the
// core's status at the instant of this step (its role is `to`), so that
// whoever announces the change needs to ask nothing more.
struct RoleChangeAction {
  Role from = Role::kPassive;
  Role to = Role::kPassive;
  int64_t epoch = 0;
  std::string reason;
  CoreStatus status;
};
struct LogAction { enum Level { kInfo, kWarning, kError } level = kInfo; std::string message; };
struct ReopenSessionAction { std::string reason; };  // close the dead handle, open a new session
// Graceful stop done: close the session, exit. handed_over: the own node went with the
// handover mark (a successor may be taking over on it right now; the agent closes the session
// a moment later, lib/agent/agent_core.h kCloseAfterHandover).
struct FinishedAction { bool handed_over = false; };
struct AckResultAction { bool ok = false; std::string message; };  // the answer to an AckEvent
struct ActivationFailedAction { int64_t epoch = 0; std::string reason; };  // leadership given up
// The session or the own latch node changed: what a restarted agent would
// need to take them back (the session record). node is "" when there is none.
struct SessionNodeAction { int64_t session_id = 0; std::string node; };
// A leader began a graceful step-down that lets the next one take over at
// once; `reason` is one of kHandoverReasons.
struct HandoverAction { std::string reason; };
inline constexpr const char* kHandoverReasons[] = {"stop", "yield", "activation_failed",
                                                   "server_unhealthy"};
using Action = std::variant<SendAction, RoleChangeAction, LogAction, ReopenSessionAction,
                            FinishedAction, AckResultAction, ActivationFailedAction,
                            SessionNodeAction, HandoverAction>;

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_CORE_TYPES_H_
