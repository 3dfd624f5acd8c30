#include "lib/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "lib/api/http_routes.h"
#include "lib/api/protocol.h"

namespace latchd {
namespace {

size_t RoleIndex(Role role) { return static_cast<size_t>(role); }

std::string RoleLabel(Role role) { return std::string(RoleName(role)); }

// 1 ms .. 60 s, roughly 1-2.5-5 per decade.
prometheus::Histogram::BucketBoundaries ActivationBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0};
}

}  // namespace

Metrics::Metrics(std::string version) : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;

  prometheus::BuildGauge()
      .Name(kBuildInfoMetric)
      .Help("Always 1; the version label carries the latchd version.")
      .Register(r)
      .Add({{"version", std::move(version)}})
      .Set(1);

  auto& role = prometheus::BuildGauge()
                   .Name(kRoleMetric)
                   .Help("1 for the role this host holds (PASSIVE, BECOMING_ACTIVE, ACTIVE, "
                         "BECOMING_PASSIVE), 0 for the other three.")
                   .Register(r);
  for (Role x : kAllRoles) role_[RoleIndex(x)] = &role.Add({{"role", RoleLabel(x)}});

  leader_ = &prometheus::BuildGauge()
                 .Name(kLeaderMetric)
                 .Help("1 while this host is the ACTIVE leader (BECOMING_ACTIVE does not count), "
                       "else 0.")
                 .Register(r)
                 .Add({});

  auto& transitions = prometheus::BuildCounter()
                          .Name(kTransitionsMetric)
                          .Help("Role changes, by the role left (from) and the role entered (to).")
                          .Register(r);
  for (Role from : kAllRoles) {
    for (Role to : kAllRoles) {
      if (from == to) continue;
      transitions_[RoleIndex(from)][RoleIndex(to)] =
          &transitions.Add({{"from", RoleLabel(from)}, {"to", RoleLabel(to)}});
    }
  }

  epoch_ = &prometheus::BuildGauge()
                .Name(kEpochMetric)
                .Help("Epoch of the current or last leadership term seen by this host "
                      "(czxid of the leader's latch node); 0 before the first.")
                .Register(r)
                .Add({});

  zk_connected_ = &prometheus::BuildGauge()
                       .Name(kZkConnectedMetric)
                       .Help("1 while the ZooKeeper session is connected, else 0.")
                       .Register(r)
                       .Add({});

  session_expirations_ = &prometheus::BuildCounter()
                              .Name(kZkSessionExpirationsMetric)
                              .Help("ZooKeeper sessions of this agent that expired.")
                              .Register(r)
                              .Add({});

  reconnects_ = &prometheus::BuildCounter()
                     .Name(kZkReconnectsMetric)
                     .Help("Reconnects to ZooKeeper within the same session after a "
                           "connection loss.")
                     .Register(r)
                     .Add({});

  lease_remaining_ = &prometheus::BuildGauge()
                          .Name(kLeaseRemainingMetric)
                          .Help("Seconds left on the leadership lease at scrape time; 0 without "
                                "a valid lease.")
                          .Register(r)
                          .Add({});

  activation_ = &prometheus::BuildHistogram()
                     .Name(kActivationMetric)
                     .Help("Seconds from BECOMING_ACTIVE to ACTIVE.")
                     .Register(r)
                     .Add({}, ActivationBuckets());

  participants_ = &prometheus::BuildGauge()
                       .Name(kParticipantsMetric)
                       .Help("Participants (latch nodes) in the latest listing of the latch.")
                       .Register(r)
                       .Add({});

  socket_clients_ = &prometheus::BuildGauge()
                         .Name(kSocketClientsMetric)
                         .Help("Open Unix-socket client connections.")
                         .Register(r)
                         .Add({});

  requests_ = &prometheus::BuildCounter()
                   .Name(kRequestsMetric)
                   .Help("Requests answered, by interface (socket, http), command (socket "
                         "command or HTTP path; unknown ones are \"other\") and code (HTTP "
                         "status; 0 ok / 1 error for the socket).")
                   .Register(r);

  activation_timeouts_ = &prometheus::BuildCounter()
                              .Name(kActivationTimeoutsMetric)
                              .Help("Activations (BECOMING_ACTIVE to ACTIVE) that did not "
                                    "finish in time.")
                              .Register(r)
                              .Add({});

  auto& hooks = prometheus::BuildCounter()
                    .Name(kHookRunsMetric)
                    .Help("Role-change hook runs, by result (ok, failed).")
                    .Register(r);
  hook_ok_ = &hooks.Add({{"result", kHookOk}});
  hook_failed_ = &hooks.Add({{"result", kHookFailed}});

  server_healthy_ = &prometheus::BuildGauge()
                        .Name(kServerHealthyMetric)
                        .Help("1 while the server this agent stands for counts as healthy (held "
                              "connections and probes; 1 without a server binding), else 0.")
                        .Register(r)
                        .Add({});
  server_healthy_->Set(1);
  server_holds_ = &prometheus::BuildGauge()
                       .Name(kServerHoldsMetric)
                       .Help("Connections of the server that hold the agent (socket command hold).")
                       .Register(r)
                       .Add({});
  leader_waiting_ = &prometheus::BuildGauge()
                         .Name(kLeaderWaitingMetric)
                         .Help("1 while this agent leads with an unhealthy server because no "
                               "healthy candidate is waiting to take over, else 0.")
                         .Register(r)
                         .Add({});
  auto& probes = prometheus::BuildCounter()
                     .Name(kHealthProbesMetric)
                     .Help("Health probes of the server, by probe (http, exec) and result (ok, failed).")
                     .Register(r);
  const char* kinds[] = {"http", "exec"};
  for (int k = 0; k < 2; ++k) {
    probes_[k][0] = &probes.Add({{"probe", kinds[k]}, {"result", "ok"}});
    probes_[k][1] = &probes.Add({{"probe", kinds[k]}, {"result", "failed"}});
  }
  auto& handovers = prometheus::BuildCounter()
                        .Name(kHandoversMetric)
                        .Help("Graceful step-downs of this agent while it led, by reason.")
                        .Register(r);
  for (const char* reason : kHandoverReasons) handovers_[reason] = &handovers.Add({{"reason", reason}});
  handovers_["other"] = &handovers.Add({{"reason", "other"}});

  std::lock_guard<std::mutex> lock(role_mu_);
  SetRoleLocked(Role::kPassive);
}

Metrics::~Metrics() = default;

void Metrics::SetRoleLocked(Role role) {
  for (Role x : kAllRoles) role_[RoleIndex(x)]->Set(x == role ? 1 : 0);
  leader_->Set(role == Role::kActive ? 1 : 0);
}

void Metrics::OnRoleChange(Role from, Role to) {
  std::lock_guard<std::mutex> lock(role_mu_);
  if (from != to) transitions_[RoleIndex(from)][RoleIndex(to)]->Increment();
  SetRoleLocked(to);
}

void Metrics::SetRole(Role role) {
  std::lock_guard<std::mutex> lock(role_mu_);
  SetRoleLocked(role);
}

void Metrics::SetEpoch(int64_t epoch) { epoch_->Set(static_cast<double>(epoch)); }

void Metrics::SetZkConnected(bool connected) { zk_connected_->Set(connected ? 1 : 0); }

void Metrics::OnSessionExpired() { session_expirations_->Increment(); }

void Metrics::OnReconnect() { reconnects_->Increment(); }

void Metrics::SetLeaseRemaining(double seconds) {
  lease_remaining_->Set(std::max(seconds, 0.0));
}

void Metrics::ObserveActivation(double seconds) { activation_->Observe(seconds); }

void Metrics::SetParticipants(int n) { participants_->Set(n); }

void Metrics::SetSocketClients(size_t n) { socket_clients_->Set(static_cast<double>(n)); }

void Metrics::OnRequest(std::string_view interface, std::string_view command, int code) {
  RequestCounter(interface, command, code).Increment();
}

prometheus::Counter& Metrics::RequestCounter(std::string_view interface, std::string_view command,
                                             int code) {
  std::string iface;
  std::string cmd;
  if (interface == kInterfaceSocket) {
    iface = kInterfaceSocket;
    bool known = false;
    for (const CommandSpec& spec : kCommands) known |= spec.name == command;
    cmd = known ? std::string(command) : kOtherCommand;
  } else if (interface == kInterfaceHttp) {
    iface = kInterfaceHttp;
    cmd = FindHttpRoute(command) ? std::string(command) : kOtherCommand;
  } else {
    iface = kOtherCommand;
    cmd = kOtherCommand;
  }
  // Family::Add is thread-safe and returns the existing series for known
  // labels, but builds and hashes a label map each time: remember the series
  // (the label values are bounded, so the cache is too).
  std::string key = iface + '\x1f' + cmd + '\x1f' + std::to_string(code);
  std::lock_guard<std::mutex> lock(requests_mu_);
  auto it = request_series_.find(key);
  if (it != request_series_.end()) return *it->second;
  prometheus::Counter* counter =
      &requests_->Add({{"interface", iface}, {"command", cmd}, {"code", std::to_string(code)}});
  request_series_.emplace(std::move(key), counter);
  return *counter;
}

void Metrics::OnActivationTimeout() { activation_timeouts_->Increment(); }

void Metrics::OnHookRun(bool ok) { (ok ? hook_ok_ : hook_failed_)->Increment(); }

void Metrics::SetServer(bool healthy, size_t holds, bool leader_waiting) {
  server_healthy_->Set(healthy ? 1 : 0);
  server_holds_->Set(static_cast<double>(holds));
  leader_waiting_->Set(leader_waiting ? 1 : 0);
}

void Metrics::OnProbe(std::string_view probe, bool ok) {
  probes_[probe == "exec" ? 1 : 0][ok ? 0 : 1]->Increment();
}

void Metrics::OnHandover(std::string_view reason) {
  auto it = handovers_.find(std::string(reason));
  (it != handovers_.end() ? it->second : handovers_.at("other"))->Increment();
}

std::string Metrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families;
  {
    std::lock_guard<std::mutex> lock(role_mu_);
    families = registry_->Collect();
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace latchd
