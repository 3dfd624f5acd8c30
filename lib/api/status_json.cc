#include "lib/api/status_json.h"

#include <charconv>

#include "lib/api/json_writer.h"

namespace latchd {

std::string StatusJson(std::string_view id, const CoreStatus& s, MonoTime now, int64_t wall_now_ms,
                       const StatusChange* change) {
  std::string out;
  out.reserve(320);
  AppendStatusJson(&out, id, s, now, wall_now_ms, change);
  return out;
}

void AppendStatusJson(std::string* out, std::string_view id, const CoreStatus& s, MonoTime now,
                      int64_t wall_now_ms, const StatusChange* change) {
  // Written from literal fragments (this runs for every `status` request);
  // the keys in sorted order, as nlohmann::json writes them (a unit test
  // compares the bytes).
  int64_t since_ms = s.since == MonoTime{} ? 0 : wall_now_ms - ToMillis(now - s.since);
  out->append("{\"epoch\":");
  AppendJsonInt(out, change ? change->epoch : s.epoch);
  out->append(",\"id\":");
  AppendJsonString(out, id);
  out->append(",\"leader\":");
  AppendLeaderJson(out, s.leader);
  out->append(",\"lease_ms\":");
  AppendJsonInt(out, s.lease_remaining ? ToMillis(*s.lease_remaining) : 0);
  out->append(",\"participants\":");
  AppendJsonInt(out, s.participants);
  if (change) {
    out->append(",\"previous_role\":");
    AppendJsonString(out, RoleName(change->from));
    out->append(",\"reason\":");
    AppendJsonString(out, change->reason);
  }
  out->append(",\"role\":\"");
  out->append(RoleName(change ? change->to : s.role));  // role names need no escaping
  out->append("\",\"since\":");
  AppendJsonInt(out, since_ms);
  out->append(",\"zk\":{\"session_id\":\"");
  if (s.session_id != 0) AppendSessionIdHex(out, s.session_id);
  out->append(s.connected ? "\",\"state\":\"CONNECTED\",\"timeout_ms\":"
                          : "\",\"state\":\"DISCONNECTED\",\"timeout_ms\":");
  AppendJsonInt(out, ToMillis(s.session_timeout));
  out->append("}}");
}

void AppendLeaderJson(std::string* out, const LeaderInfo& leader) {
  out->append("{\"address\":");
  AppendJsonStringOrNull(out, leader.address);
  out->append(",\"epoch\":");
  AppendJsonInt(out, leader.epoch);
  out->append(",\"id\":");
  AppendJsonStringOrNull(out, leader.id);
  out->push_back('}');
}

std::string LeaderJson(const LeaderInfo& leader) {
  std::string out;
  AppendLeaderJson(&out, leader);
  return out;
}

std::string AtlasStatusBody(Role role) {
  return std::string("{\"Status\":\"") + std::string(RoleName(role)) + "\"}";
}

}  // namespace latchd
