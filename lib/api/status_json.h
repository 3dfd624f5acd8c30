// The JSON documents latchd answers with, shared by the Unix socket and HTTP.
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_API_STATUS_JSON_H_
#define LATCHD_LIB_API_STATUS_JSON_H_

#include <string>

#include <nlohmann/json.hpp>

#include "lib/core/latch_core.h"

namespace latchd {

// What `status` answers: id, role, epoch, leader{id,address,epoch}, lease_ms,
// zk{state,session_id,timeout_ms}, since (Unix ms of the last role change),
// participants. `wall_now_ms` and `now` are the same instant on the two clocks.
nlohmann::json StatusJson(const std::string& id, const CoreStatus& status, MonoTime now,
                          int64_t wall_now_ms);

// Atlas's /api/atlas/admin/status body: {"Status":"ACTIVE"} (no spaces).
std::string AtlasStatusBody(Role role);

// "0x..." as ZooKeeper prints session ids.
std::string SessionIdHex(int64_t session_id);

}  // namespace latchd

#endif  // LATCHD_LIB_API_STATUS_JSON_H_
