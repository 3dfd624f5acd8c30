// Metrics: every Prometheus metric latchd exports, declared in one place.
//
// The agent owns one Metrics, feeds it what happens (role changes, session
// events, requests, hook runs) and serves Serialize() on GET /metrics from its
// own HTTP server. docs/metrics.md documents each metric and example alerts.
//
// Promises:
//  * Every series that can be known up front exists from construction on with
//    value 0 (counters for all role transitions, both hook results, all four
//    role series), so rate()/increase() see the first event and absent()
//    only fires when the agent is down. The one exception is
//    latchd_requests_total: its series (and so its HELP/TYPE lines) appear
//    with the first request of each label set.
//  * latchd_role has exactly one series at 1 (the current role; PASSIVE
//    until SetRole/OnRoleChange says otherwise) and the other three at 0, in
//    every Serialize() output, also while another thread changes the role.
//  * latchd_leader is 1 only while the role is ACTIVE; BECOMING_ACTIVE does
//    not count, so `sum(latchd_leader)` is the number of serving leaders.
//  * Label cardinality is bounded: socket commands outside kCommands
//    (lib/api/protocol.h) and HTTP paths outside kHttpRoutes
//    (lib/api/http_routes.h) are folded into command="other" (and unknown
//    interfaces into interface="other").
//  * Serialize() returns the Prometheus text exposition format, version 0.0.4
//    (Content-Type "text/plain; version=0.0.4; charset=utf-8"), with a
//    "# HELP" and a "# TYPE" line for every metric family.
//
// Thread-safety: all methods may be called concurrently from any thread
// (prometheus-cpp metrics are thread-safe; role updates and Serialize() share a
// mutex so a scrape never sees a half-applied role change).
// Errors: none; no method fails or throws.
#ifndef LATCHD_LIB_METRICS_METRICS_H_
#define LATCHD_LIB_METRICS_METRICS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lib/core/core_types.h"
#include "lib/core/role.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace latchd {

// ---- Metric names (what a Prometheus user queries) -------------------------
// Gauge 1, label version.
inline constexpr char kBuildInfoMetric[] = "latchd_build_info";
// Gauge 0/1, label role (RoleName values).
inline constexpr char kRoleMetric[] = "latchd_role";
// Gauge 0/1: 1 while the role is ACTIVE.
inline constexpr char kLeaderMetric[] = "latchd_leader";
// Counter, labels from, to (RoleName values).
inline constexpr char kTransitionsMetric[] = "latchd_transitions_total";
// Gauge: epoch of the current or last term (czxid of the leader's node).
inline constexpr char kEpochMetric[] = "latchd_epoch";
// Gauge 0/1: the ZooKeeper session is connected.
inline constexpr char kZkConnectedMetric[] = "latchd_zk_connected";
// Counter: ZooKeeper sessions that expired.
inline constexpr char kZkSessionExpirationsMetric[] = "latchd_zk_session_expirations_total";
// Counter: reconnects within the same session after a connection loss.
inline constexpr char kZkReconnectsMetric[] = "latchd_zk_reconnects_total";
// Gauge: seconds left on the lease (0 without one).
inline constexpr char kLeaseRemainingMetric[] = "latchd_lease_remaining_seconds";
// Histogram: seconds from BECOMING_ACTIVE to ACTIVE.
inline constexpr char kActivationMetric[] = "latchd_activation_seconds";
// Gauge: latch nodes (participants) in the last listing.
inline constexpr char kParticipantsMetric[] = "latchd_participants";
// Gauge: open Unix-socket client connections.
inline constexpr char kSocketClientsMetric[] = "latchd_socket_clients";
// Counter, labels interface, command, code.
inline constexpr char kRequestsMetric[] = "latchd_requests_total";
// Counter: activations that did not finish in time.
inline constexpr char kActivationTimeoutsMetric[] = "latchd_activation_timeouts_total";
// Counter, label result ("ok" / "failed").
inline constexpr char kHookRunsMetric[] = "latchd_hook_runs_total";
// Gauge 0/1: the server this agent stands for counts as healthy.
inline constexpr char kServerHealthyMetric[] = "latchd_server_healthy";
// Gauge: connections that hold the agent (socket command `hold`).
inline constexpr char kServerHoldsMetric[] = "latchd_server_holds";
// Counter, labels probe ("http" / "exec"), result ("ok" / "failed").
inline constexpr char kHealthProbesMetric[] = "latchd_health_probes_total";
// Counter, label reason (kHandoverReasons): graceful step-downs of a leader.
inline constexpr char kHandoversMetric[] = "latchd_handovers_total";
// Gauge 0/1: leading with an unhealthy server because no healthy candidate waits.
inline constexpr char kLeaderWaitingMetric[] = "latchd_leader_waiting_for_candidate";

// ---- Label values ----------------------------------------------------------
inline constexpr char kInterfaceSocket[] = "socket";
inline constexpr char kInterfaceHttp[] = "http";
// The command label of requests whose HTTP path or socket command is unknown.
inline constexpr char kOtherCommand[] = "other";
inline constexpr char kHookOk[] = "ok";
inline constexpr char kHookFailed[] = "failed";

// The Content-Type to serve Serialize() with.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

class Metrics {
 public:
  // Registers every metric; latchd_build_info{version=<version>} = 1. The role
  // starts as PASSIVE, gauges at 0.
  explicit Metrics(std::string version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Role bookkeeping: latchd_role{role} is 1 for `to` and 0 for the other
  // three; latchd_leader is 1 iff `to` is ACTIVE;
  // latchd_transitions_total{from,to} is incremented. A call with from == to
  // only sets the role (it is not a transition).
  void OnRoleChange(Role from, Role to);
  // Sets the initial role without counting a transition.
  void SetRole(Role role);

  // latchd_epoch. Exact up to 2^53 (a zxid's epoch part below 2^21).
  void SetEpoch(int64_t epoch);
  // latchd_zk_connected 1/0.
  void SetZkConnected(bool connected);
  // latchd_zk_session_expirations_total += 1.
  void OnSessionExpired();
  // latchd_zk_reconnects_total += 1: a CONNECTED after a connection loss
  // within the same session (not the first connect of a new session).
  void OnReconnect();
  // latchd_lease_remaining_seconds; negative values are stored as 0. The
  // agent calls this right before Serialize() on every scrape, so the value
  // is current as of the scrape (and 0 when there is no valid lease).
  void SetLeaseRemaining(double seconds);
  // latchd_activation_seconds: one observation per BECOMING_ACTIVE -> ACTIVE,
  // the time between them. Buckets from 1 ms to 60 s.
  void ObserveActivation(double seconds);
  // latchd_participants: latch nodes in the latest listing.
  void SetParticipants(int n);
  // latchd_socket_clients: open Unix-socket connections.
  void SetSocketClients(size_t n);
  // latchd_requests_total{interface,command,code} += 1.
  //   interface: kInterfaceSocket or kInterfaceHttp; anything else is
  //              counted as interface="other", command="other".
  //   command:   socket: the command word of kCommands; http: the path of
  //              kHttpRoutes. Anything else becomes kOtherCommand.
  //   code:      http: the response status; socket: 0 ok, 1 error.
  void OnRequest(std::string_view interface, std::string_view command, int code);
  // The series OnRequest(interface, command, code) increments, created on
  // first use. It stays valid as long as this Metrics; a caller on a hot path
  // keeps it instead of looking it up for every request.
  prometheus::Counter& RequestCounter(std::string_view interface, std::string_view command,
                                      int code);
  // latchd_activation_timeouts_total += 1.
  void OnActivationTimeout();
  // latchd_hook_runs_total{result="ok"|"failed"} += 1.
  void OnHookRun(bool ok);
  // The server binding: latchd_server_healthy, latchd_server_holds,
  // latchd_leader_waiting_for_candidate.
  void SetServer(bool healthy, size_t holds, bool leader_waiting);
  // latchd_health_probes_total{probe,result} += 1; probe is "http" or "exec".
  void OnProbe(std::string_view probe, bool ok);
  // latchd_handovers_total{reason} += 1 (a reason outside kHandoverReasons: "other").
  void OnHandover(std::string_view reason);

  // Everything in the Prometheus text exposition format 0.0.4, serialized
  // with prometheus::TextSerializer. Serve with kMetricsContentType.
  std::string Serialize() const;

 private:
  static constexpr size_t kRoles = 4;
  // Sets the role gauges; role_mu_ must be held.
  void SetRoleLocked(Role role);

  std::shared_ptr<prometheus::Registry> registry_;
  // Guards the role gauges as a group against Serialize().
  mutable std::mutex role_mu_;

  std::array<prometheus::Gauge*, kRoles> role_{};
  prometheus::Gauge* leader_ = nullptr;
  std::array<std::array<prometheus::Counter*, kRoles>, kRoles> transitions_{};
  prometheus::Gauge* epoch_ = nullptr;
  prometheus::Gauge* zk_connected_ = nullptr;
  prometheus::Counter* session_expirations_ = nullptr;
  prometheus::Counter* reconnects_ = nullptr;
  prometheus::Gauge* lease_remaining_ = nullptr;
  prometheus::Histogram* activation_ = nullptr;
  prometheus::Gauge* participants_ = nullptr;
  prometheus::Gauge* socket_clients_ = nullptr;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  std::mutex requests_mu_;
  std::unordered_map<std::string, prometheus::Counter*> request_series_;  // guarded by requests_mu_
  prometheus::Counter* activation_timeouts_ = nullptr;
  prometheus::Counter* hook_ok_ = nullptr;
  prometheus::Counter* hook_failed_ = nullptr;
  prometheus::Gauge* server_healthy_ = nullptr;
  prometheus::Gauge* server_holds_ = nullptr;
  prometheus::Gauge* leader_waiting_ = nullptr;
  std::array<std::array<prometheus::Counter*, 2>, 2> probes_{};  // [http, exec][ok, failed]
  std::unordered_map<std::string, prometheus::Counter*> handovers_;  // by reason, made up front
};

}  // namespace latchd

#endif  // LATCHD_LIB_METRICS_METRICS_H_
