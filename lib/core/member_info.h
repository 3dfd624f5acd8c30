// MemberInfo: what each agent publishes about itself in its member record,
// <root>/members/<id> (ephemeral, owned by its session, beside the latch so
// the latch itself stays Curator-compatible). docs/design.md, "Members".
//
// Other agents read it to decide a handover to a healthy candidate (the
// server binding), to wait out a takeover that is not a handover (the
// lock-delay), and operators to list the election (`latchctl list`).
// The data is JSON, one compact object with sorted keys.
//
// Thread-safety: pure functions on values.
// Errors: ParseMemberJson refuses anything that is not an object with a
// string "id" and returns why (the record was written by someone else: it is
// logged and never trusted).
#ifndef LATCHD_LIB_CORE_MEMBER_INFO_H_
#define LATCHD_LIB_CORE_MEMBER_INFO_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/util/status.h"

namespace latchd {

struct MemberInfo {
  std::string id;
  // The uuid of the latch node this agent stands with ("" while it stands
  // with none). Written before the node is created, and rewritten only after
  // the agent stopped claiming with it.
  std::string uuid;
  bool healthy = true;        // its server's health (docs/design.md, "Server binding")
  std::string reason;         // why it is (un)healthy
  int64_t health_since_ms = 0;  // Unix ms of the last health change
  int64_t lease_ms = 0;       // its lease length: the longest it may claim after its last write
  std::string address;        // its --advertise URL
  std::string version;        // latchd's version

  bool operator==(const MemberInfo&) const = default;
};

std::string MemberJson(const MemberInfo& m);
Result<MemberInfo> ParseMemberJson(std::string_view data);

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_MEMBER_INFO_H_
