#include "lib/core/member_info.h"

#include <nlohmann/json.hpp>

namespace latchd {

std::string MemberJson(const MemberInfo& m) {
  return nlohmann::json{{"address", m.address},
                        {"health_since", m.health_since_ms},
                        {"healthy", m.healthy},
                        {"id", m.id},
                        {"lease_ms", m.lease_ms},
                        {"reason", m.reason},
                        {"uuid", m.uuid},
                        {"version", m.version}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<MemberInfo> ParseMemberJson(std::string_view data) {
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("not a JSON object");
  auto str = [&](const char* key, std::string* out) -> bool {
    auto it = j.find(key);
    if (it == j.end()) return true;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* key, int64_t* out) -> bool {
    auto it = j.find(key);
    if (it == j.end()) return true;
    if (!it->is_number_integer()) return false;
    *out = it->get<int64_t>();
    return true;
  };
  MemberInfo m;
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty()) {
    return Status::Error("no \"id\" string");
  }
  m.id = id->get<std::string>();
  if (auto h = j.find("healthy"); h != j.end()) {
    if (!h->is_boolean()) return Status::Error("\"healthy\" is not a boolean");
    m.healthy = h->get<bool>();
  }
  if (!str("uuid", &m.uuid) || !str("reason", &m.reason) || !str("address", &m.address) ||
      !str("version", &m.version)) {
    return Status::Error("a string field holds something else");
  }
  if (!num("lease_ms", &m.lease_ms) || !num("health_since", &m.health_since_ms) || m.lease_ms < 0) {
    return Status::Error("a number field holds something else");
  }
  return m;
}

}  // namespace latchd
