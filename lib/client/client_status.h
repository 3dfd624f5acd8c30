// ClientStatus: one status line of the agent — what `status` answers, what
// `watch` pushes, what HTTP /status serves — and its one definition on the
// wire. The agent writes it with AppendStatusLine and clients read it with
// ParseStatusLine; both walk the same field table (client_status.cc), so a
// field is added in one place and a round-trip test covers all of them.
//
// Installed with the `latchd::client` CMake package; includes only
// lib/core/role.h, lib/util/status.h and the standard library.
//
// Thread-safety: pure functions on values.
// Errors: ParseStatusLine returns a one-line message; an {"error": ...} line
// gives an error carrying the agent's message.
#ifndef LATCHD_LIB_CLIENT_CLIENT_STATUS_H_
#define LATCHD_LIB_CLIENT_CLIENT_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/role.h"
#include "lib/util/status.h"

namespace latchd {

struct ClientStatus {
  Role role = Role::kPassive;
  int64_t epoch = 0;           // the current term as the agent knows it
  std::string leader_id;       // "" when the agent knows no leader (null on the wire)
  std::string leader_address;  // "" when the leader advertises none (null on the wire)
  int64_t leader_epoch = 0;
  int64_t lease_ms = 0;        // lease left when the agent answered; 0: none
  bool zk_connected = false;   // zk.state == "CONNECTED"
  std::string id;              // the agent's --id
  // Less often needed:
  std::string zk_session_id;   // "0x..." or ""
  int64_t zk_timeout_ms = 0;   // negotiated session timeout
  int64_t since_ms = 0;        // Unix ms of the agent's last role change
  int64_t participants = 0;    // latch participants in its last listing
  // The server this agent stands for (docs/design.md, "Server binding"):
  // healthy, why, since when (Unix ms; 0 if never changed), how many
  // connections hold the agent, and whether the agent leads with an
  // unhealthy server because no healthy candidate is waiting.
  bool server_healthy = true;
  std::string server_reason;
  int64_t server_since_ms = 0;
  int64_t server_holds = 0;
  bool server_waiting = false;
  // Watch lines of a change only: the role before it and why it changed
  // (both written iff previous_role is set).
  std::optional<Role> previous_role;
  std::string reason;
  // False only in the synthetic status RoleClient::Watch delivers when the
  // agent cannot be reached (then role is PASSIVE, zk_connected false,
  // everything else empty). Not on the wire.
  bool agent_reachable = true;
};

// Parses one status line (a JSON object with at least a valid "role").
Result<ClientStatus> ParseStatusLine(std::string_view line);

// Appends the line (no newline): compact JSON with the keys in sorted order;
// valid JSON whatever bytes the strings hold (invalid UTF-8 becomes U+FFFD).
void AppendStatusLine(std::string* out, const ClientStatus& s);

// The `leader` object of a status line, also the answer to `leader`:
// {"address":…,"epoch":…,"id":…}, an empty id or address as null.
void AppendLeaderObject(std::string* out, std::string_view id, std::string_view address,
                        int64_t epoch);

// The top-level keys a line of `s` carries, in order.
std::vector<std::string_view> StatusLineKeys(const ClientStatus& s);

}  // namespace latchd

#endif  // LATCHD_LIB_CLIENT_CLIENT_STATUS_H_
