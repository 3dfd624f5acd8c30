// The HTTP endpoints (docs/http.md). kHttpRoutes is the one list of them:
// the `/` index, the metrics labels and the docs are derived from it or
// tested against it. A new endpoint is a row here, its handler in the agent
// core (lib/agent/http_routes.cc), and its line in docs/http.md.
// Thread-safety: constants and pure functions.
#ifndef LATCHD_LIB_API_HTTP_ROUTES_H_
#define LATCHD_LIB_API_HTTP_ROUTES_H_

#include <cstddef>
#include <string_view>

namespace latchd {

enum class HttpRoute { kAtlasStatus, kActive, kPassive, kLeader, kStatus, kHealthz, kMetrics, kIndex };

struct HttpRouteSpec {
  HttpRoute route;
  std::string_view path;  // exact match on the path (no query); also the metrics label
  std::string_view help;  // one line for the `/` index
};

// Every endpoint, in the order `/` lists them; kHttpRoutes[i].route ==
// HttpRoute(i) (checked at compile time).
inline constexpr HttpRouteSpec kHttpRoutes[] = {
    {HttpRoute::kAtlasStatus, "/api/atlas/admin/status",
     "Atlas's status: always 200, {\"Status\":\"<ROLE>\"}"},
    {HttpRoute::kActive, "/active", "200 only while ACTIVE (for load balancer checks), 503 otherwise"},
    {HttpRoute::kPassive, "/passive",
     "200 only while PASSIVE with a healthy ZooKeeper session, 503 otherwise"},
    {HttpRoute::kLeader, "/leader",
     "the leader's id, address and epoch as this agent sees it; 503 if unknown"},
    {HttpRoute::kStatus, "/status", "the same JSON as the socket's status command"},
    {HttpRoute::kHealthz, "/healthz", "200 while the agent's event loop runs (liveness, not role)"},
    {HttpRoute::kMetrics, "/metrics", "Prometheus metrics"},
    {HttpRoute::kIndex, "/", "this list"},
};
inline constexpr size_t kHttpRouteCount = sizeof(kHttpRoutes) / sizeof(kHttpRoutes[0]);

constexpr bool HttpRoutesInEnumOrder() {
  for (size_t i = 0; i < kHttpRouteCount; ++i) {
    if (static_cast<size_t>(kHttpRoutes[i].route) != i) return false;
  }
  return true;
}
static_assert(HttpRoutesInEnumOrder(), "kHttpRoutes[i] must describe HttpRoute(i)");

// The route serving `path`, or nullptr.
constexpr const HttpRouteSpec* FindHttpRoute(std::string_view path) {
  for (const HttpRouteSpec& spec : kHttpRoutes) {
    if (spec.path == path) return &spec;
  }
  return nullptr;
}

}  // namespace latchd

#endif  // LATCHD_LIB_API_HTTP_ROUTES_H_
