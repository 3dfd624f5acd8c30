#include "lib/api/status_json.h"

#include <cstdio>

namespace latchd {

std::string SessionIdHex(int64_t session_id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(session_id));
  return buf;
}

nlohmann::json StatusJson(const std::string& id, const CoreStatus& s, MonoTime now,
                          int64_t wall_now_ms) {
  nlohmann::json leader = nlohmann::json::object();
  leader["id"] = s.leader.id.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.leader.id);
  leader["address"] =
      s.leader.address.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.leader.address);
  leader["epoch"] = s.leader.epoch;
  nlohmann::json zk = {
      {"state", s.connected ? "CONNECTED" : "DISCONNECTED"},
      {"session_id", s.session_id ? SessionIdHex(s.session_id) : ""},
      {"timeout_ms", ToMillis(s.session_timeout)},
  };
  int64_t since_ms = s.since == MonoTime{} ? 0 : wall_now_ms - ToMillis(now - s.since);
  return nlohmann::json{
      {"id", id},
      {"role", std::string(RoleName(s.role))},
      {"epoch", s.epoch},
      {"leader", leader},
      {"lease_ms", s.lease_remaining ? ToMillis(*s.lease_remaining) : 0},
      {"zk", zk},
      {"since", since_ms},
      {"participants", s.participants},
  };
}

std::string AtlasStatusBody(Role role) {
  return std::string("{\"Status\":\"") + std::string(RoleName(role)) + "\"}";
}

}  // namespace latchd
