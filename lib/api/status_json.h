// The documents latchd answers with, from the core's status: the status line
// (through ClientStatus, lib/client/client_status.h, whose field table both
// the agent and its clients use), the leader object and Atlas's status body.
// Each is one compact JSON object with its keys in sorted order, valid JSON
// whatever bytes ZooKeeper data (leader ids and addresses) holds.
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_API_STATUS_JSON_H_
#define LATCHD_LIB_API_STATUS_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/client/client_status.h"
#include "lib/core/core_types.h"

namespace latchd {

// *out becomes what `status` answers: `s` as of `now`, whose wall-clock time
// is `wall_now_ms` (for `since`). Reuses the capacity of out's strings, so a
// caller that keeps one ClientStatus allocates nothing per answer.
void FillClientStatus(ClientStatus* out, std::string_view id, const CoreStatus& s, MonoTime now,
                      int64_t wall_now_ms);
// *out becomes the watch line of `change`: the status of its instant with the
// change's role and epoch, previous_role and reason.
void FillChangeStatus(ClientStatus* out, std::string_view id, const RoleChangeAction& change,
                      MonoTime now, int64_t wall_now_ms);

// The status line of `s` (tests, HTTP /status).
std::string StatusJson(std::string_view id, const CoreStatus& s, MonoTime now, int64_t wall_now_ms);

// The leader as `leader` answers: {"address":…,"epoch":…,"id":…}, unknown
// id and address as null.
std::string LeaderJson(const LeaderInfo& leader);

// Atlas's /api/atlas/admin/status body: {"Status":"ACTIVE"} (no spaces).
std::string AtlasStatusBody(Role role);

}  // namespace latchd

#endif  // LATCHD_LIB_API_STATUS_JSON_H_
