// The Unix-socket line protocol: one request per line, one JSON object per
// response line. This file parses request lines; it never touches a socket.
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_API_PROTOCOL_H_
#define LATCHD_LIB_API_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/util/status.h"

namespace latchd {

enum class Command { kStatus, kWatch, kAck, kYield, kLeader, kParticipants, kHelp };
inline constexpr size_t kCommandCount = 7;  // the values of Command

struct ProtocolRequest {
  Command command = Command::kStatus;
  int64_t epoch = 0;  // for kAck
};

// Parses one line (without its newline). Leading/trailing blanks are ignored.
// Errors name what was wrong: unknown command, missing or bad argument,
// control characters.
Result<ProtocolRequest> ParseRequestLine(std::string_view line);

// The command's word as sent on the wire ("status", "ack", ...).
std::string_view CommandName(Command command);

// The `help` text: one line per command.
const char* ProtocolHelp();

// {"error":"<message>"}
std::string ErrorLine(std::string_view message);

}  // namespace latchd

#endif  // LATCHD_LIB_API_PROTOCOL_H_
