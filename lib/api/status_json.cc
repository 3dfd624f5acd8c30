#include "lib/api/status_json.h"

#include <charconv>

#include "lib/api/json_writer.h"

namespace latchd {
namespace {

void WriteLeader(JsonWriter& w, const LeaderInfo& leader) {
  w.BeginObject();
  w.Key("address").StringOrNull(leader.address);
  w.Key("epoch").Int(leader.epoch);
  w.Key("id").StringOrNull(leader.id);
  w.EndObject();
}

}  // namespace

void AppendSessionIdHex(std::string* out, int64_t session_id) {
  char buf[20] = {'0', 'x'};
  auto [end, ec] =
      std::to_chars(buf + 2, buf + sizeof buf, static_cast<unsigned long long>(session_id), 16);
  out->append(buf, end);
}

std::string SessionIdHex(int64_t session_id) {
  std::string out;
  AppendSessionIdHex(&out, session_id);
  return out;
}

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
  auto string_or_null = [out](std::string_view v) {
    if (v.empty()) {
      out->append("null");
    } else {
      AppendJsonString(out, v);
    }
  };
  int64_t since_ms = s.since == MonoTime{} ? 0 : wall_now_ms - ToMillis(now - s.since);
  out->append("{\"epoch\":");
  AppendJsonInt(out, change ? change->epoch : s.epoch);
  out->append(",\"id\":");
  AppendJsonString(out, id);
  out->append(",\"leader\":{\"address\":");
  string_or_null(s.leader.address);
  out->append(",\"epoch\":");
  AppendJsonInt(out, s.leader.epoch);
  out->append(",\"id\":");
  string_or_null(s.leader.id);
  out->append("},\"lease_ms\":");
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

std::string LeaderJson(const LeaderInfo& leader) {
  std::string out;
  JsonWriter w(&out);
  WriteLeader(w, leader);
  return out;
}

std::string AtlasStatusBody(Role role) {
  return std::string("{\"Status\":\"") + std::string(RoleName(role)) + "\"}";
}

}  // namespace latchd
