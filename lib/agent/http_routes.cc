// The handlers of the HTTP endpoints: one per row of kHttpRoutes
// (lib/api/http_routes.h), in that order.
#include "lib/agent/agent_core.h"
#include "lib/api/status_json.h"

namespace latchd {
namespace {

const char* kText = "text/plain; charset=utf-8";
const char* kJson = "application/json";

}  // namespace

// In kHttpRoutes order (agent_core_test.cc checks every path's answer).
const std::array<AgentCore::RouteHandler, kHttpRouteCount> AgentCore::kRouteHandlers = {
    &AgentCore::GetAtlasStatus, &AgentCore::GetActive,  &AgentCore::GetPassive,
    &AgentCore::GetLeader,      &AgentCore::GetStatus,  &AgentCore::GetHealthz,
    &AgentCore::GetMetrics,     &AgentCore::GetIndex,
};

HttpResponse AgentCore::HandleHttp(const HttpRequest& request, Instant now) {
  now_.mono = std::max(now_.mono, now.mono);
  now_.wall_ms = now.wall_ms;
  const HttpRouteSpec* route = FindHttpRoute(request.path);
  HttpResponse response{404, kText, "not found; GET / lists the endpoints\n"};
  if (route != nullptr) {
    response = (this->*kRouteHandlers[static_cast<size_t>(route->route)])(core_->StatusAt(now_.mono));
  }
  metrics_.OnRequest(kInterfaceHttp, request.path, response.status);
  return response;
}

HttpResponse AgentCore::GetAtlasStatus(const CoreStatus& s) {
  return {200, kJson, AtlasStatusBody(s.role)};
}

HttpResponse AgentCore::GetActive(const CoreStatus& s) {
  return {s.role == Role::kActive ? 200 : 503, kText, std::string(RoleName(s.role)) + "\n"};
}

HttpResponse AgentCore::GetPassive(const CoreStatus& s) {
  bool healthy = s.connected && s.lease_remaining && s.lease_remaining->count() > 0;
  return {s.role == Role::kPassive && healthy ? 200 : 503, kText,
          std::string(RoleName(s.role)) + (healthy ? "" : " (ZooKeeper session not healthy)") + "\n"};
}

HttpResponse AgentCore::GetLeader(const CoreStatus& s) {
  return {s.leader.id.empty() ? 503 : 200, kJson, LeaderJson(s.leader) + "\n"};
}

HttpResponse AgentCore::GetStatus(const CoreStatus& s) {
  // The same line as the socket's `status`, server object included.
  std::string body;
  FillClientStatus(&scratch_, config_.latch.id, s, now_.mono, now_.wall_ms);
  FillServer(&scratch_);
  AppendStatusLine(&body, scratch_);
  body += '\n';
  return {200, kJson, std::move(body)};
}

HttpResponse AgentCore::GetHealthz(const CoreStatus& s) { return {200, kText, "ok\n"}; }

HttpResponse AgentCore::GetMetrics(const CoreStatus& s) {
  metrics_.SetLeaseRemaining(
      s.lease_remaining ? std::chrono::duration<double>(*s.lease_remaining).count() : 0.0);
  metrics_.SetParticipants(s.participants);
  metrics_.SetSocketClients(conns_.size());
  return {200, kMetricsContentType, metrics_.Serialize()};
}

HttpResponse AgentCore::GetIndex(const CoreStatus& s) {
  std::string body;
  for (const HttpRouteSpec& r : kHttpRoutes) {
    body.append(r.path).append("  ").append(r.help).append("\n");
  }
  return {200, kText, body};
}

}  // namespace latchd
