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

std::string SessionIdHex(int64_t session_id) {
  char buf[20] = {'0', 'x'};
  auto [end, ec] =
      std::to_chars(buf + 2, buf + sizeof buf, static_cast<unsigned long long>(session_id), 16);
  return std::string(buf, end);
}

std::string StatusJson(std::string_view id, const CoreStatus& s, MonoTime now, int64_t wall_now_ms,
                       const StatusChange* change) {
  int64_t since_ms = s.since == MonoTime{} ? 0 : wall_now_ms - ToMillis(now - s.since);
  std::string out;
  out.reserve(320);
  JsonWriter w(&out);
  w.BeginObject();  // keys in sorted order, as nlohmann::json writes them
  w.Key("epoch").Int(change ? change->epoch : s.epoch);
  w.Key("id").String(id);
  w.Key("leader");
  WriteLeader(w, s.leader);
  w.Key("lease_ms").Int(s.lease_remaining ? ToMillis(*s.lease_remaining) : 0);
  w.Key("participants").Int(s.participants);
  if (change) {
    w.Key("previous_role").String(RoleName(change->from));
    w.Key("reason").String(change->reason);
  }
  w.Key("role").String(RoleName(change ? change->to : s.role));
  w.Key("since").Int(since_ms);
  w.Key("zk").BeginObject();
  w.Key("session_id").String(s.session_id ? SessionIdHex(s.session_id) : "");
  w.Key("state").String(s.connected ? "CONNECTED" : "DISCONNECTED");
  w.Key("timeout_ms").Int(ToMillis(s.session_timeout));
  w.EndObject();
  w.EndObject();
  return out;
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
