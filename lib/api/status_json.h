// The JSON documents latchd answers with, shared by the Unix socket and HTTP.
// Each is one compact JSON object with its keys in sorted order, valid JSON
// whatever bytes ZooKeeper data (leader ids and addresses) holds: invalid
// UTF-8 is written as U+FFFD (see lib/api/json_writer.h).
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_API_STATUS_JSON_H_
#define LATCHD_LIB_API_STATUS_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/core/latch_core.h"
#include "lib/util/session_id.h"

namespace latchd {

// The change a watch line reports on top of the status.
struct StatusChange {
  Role from = Role::kPassive;
  Role to = Role::kPassive;
  int64_t epoch = 0;
  std::string_view reason;
};

// What `status` answers: id, role, epoch, leader{id,address,epoch}, lease_ms,
// zk{state,session_id,timeout_ms}, since (Unix ms of the last role change),
// participants (a count). `wall_now_ms` and `now` are the same instant on the
// two clocks. With `change`, a watch line: role and epoch are the change's,
// plus previous_role and reason.
std::string StatusJson(std::string_view id, const CoreStatus& status, MonoTime now,
                       int64_t wall_now_ms, const StatusChange* change = nullptr);
// The same, appended to *out (for a caller that reuses one buffer).
void AppendStatusJson(std::string* out, std::string_view id, const CoreStatus& status,
                      MonoTime now, int64_t wall_now_ms, const StatusChange* change = nullptr);

// The leader as `leader` answers: {"address":…,"epoch":…,"id":…}, unknown
// id and address as null.
std::string LeaderJson(const LeaderInfo& leader);
void AppendLeaderJson(std::string* out, const LeaderInfo& leader);

// Atlas's /api/atlas/admin/status body: {"Status":"ACTIVE"} (no spaces).
std::string AtlasStatusBody(Role role);

}  // namespace latchd

#endif  // LATCHD_LIB_API_STATUS_JSON_H_
