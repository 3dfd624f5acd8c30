#include "lib/api/status_json.h"

#include "lib/util/session_id.h"

namespace latchd {

void FillClientStatus(ClientStatus* out, std::string_view id, const CoreStatus& s, MonoTime now,
                      int64_t wall_now_ms) {
  out->role = s.role;
  out->epoch = s.epoch;
  out->id.assign(id);
  out->leader_id.assign(s.leader.id);
  out->leader_address.assign(s.leader.address);
  out->leader_epoch = s.leader.epoch;
  out->lease_ms = s.lease_remaining ? ToMillis(*s.lease_remaining) : 0;
  out->zk_connected = s.connected;
  out->zk_session_id.clear();
  if (s.session_id != 0) AppendSessionIdHex(&out->zk_session_id, s.session_id);
  out->zk_timeout_ms = ToMillis(s.session_timeout);
  out->since_ms = s.since == MonoTime{} ? 0 : wall_now_ms - ToMillis(now - s.since);
  out->participants = s.participants;
  out->server_healthy = s.healthy;
  out->server_waiting = s.waiting_for_candidate;
  out->server_reason.clear();  // the agent core knows the rest (ServerHealth)
  out->server_since_ms = 0;
  out->server_holds = 0;
  out->previous_role.reset();
  out->reason.clear();
  out->agent_reachable = true;
}

void FillChangeStatus(ClientStatus* out, std::string_view id, const RoleChangeAction& change,
                      MonoTime now, int64_t wall_now_ms) {
  FillClientStatus(out, id, change.status, now, wall_now_ms);
  out->role = change.to;
  out->epoch = change.epoch;
  out->previous_role = change.from;
  out->reason = change.reason;
}

std::string StatusJson(std::string_view id, const CoreStatus& s, MonoTime now, int64_t wall_now_ms) {
  ClientStatus cs;
  FillClientStatus(&cs, id, s, now, wall_now_ms);
  std::string out;
  AppendStatusLine(&out, cs);
  return out;
}

std::string LeaderJson(const LeaderInfo& leader) {
  std::string out;
  AppendLeaderObject(&out, leader.id, leader.address, leader.epoch);
  return out;
}

std::string AtlasStatusBody(Role role) {
  return std::string("{\"Status\":\"") + std::string(RoleName(role)) + "\"}";
}

}  // namespace latchd
