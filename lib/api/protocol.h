// The Unix-socket line protocol: one request per line, one JSON object per
// response line (docs/protocol.md). kCommands is the one list of commands:
// the parser, the `help` text, the metrics labels, latchctl's passthrough
// commands and the docs are derived from it or tested against it. A new
// command is a row here, its handler in the agent core
// (lib/agent/socket_commands.cc), and its section in docs/protocol.md.
// This file parses request lines; it never touches a socket.
// Thread-safety: pure functions and constants.
#ifndef LATCHD_LIB_API_PROTOCOL_H_
#define LATCHD_LIB_API_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/util/status.h"

namespace latchd {

enum class Command { kStatus, kWatch, kAck, kYield, kLeader, kParticipants, kHold, kPing, kHelp };

// What a command takes after its word.
enum class CommandArgs {
  kNone,   // nothing
  kEpoch,  // one positive integer
};

struct CommandSpec {
  Command command;
  std::string_view name;   // the word on the wire; also the metrics label
  CommandArgs args;
  std::string_view usage;  // the word and its arguments, e.g. "ack <epoch>"
  std::string_view help;   // what it does, one line
};

// Every command, in the order `help` lists them; kCommands[i].command ==
// Command(i) (checked at compile time).
inline constexpr CommandSpec kCommands[] = {
    {Command::kStatus, "status", CommandArgs::kNone, "status",
     "this agent's role, epoch, leader, lease and ZooKeeper session"},
    {Command::kWatch, "watch", CommandArgs::kNone, "watch", "status now, then a line per change"},
    {Command::kAck, "ack", CommandArgs::kEpoch, "ack <epoch>", "activation finished for that epoch"},
    {Command::kYield, "yield", CommandArgs::kNone, "yield", "step down and rejoin at the back"},
    {Command::kLeader, "leader", CommandArgs::kNone, "leader", "the leader as this agent sees it"},
    {Command::kParticipants, "participants", CommandArgs::kNone, "participants",
     "latch nodes in order"},
    {Command::kHold, "hold", CommandArgs::kNone, "hold",
     "bind the agent's candidacy to this connection (--server_hold): it stands while one is open"},
    {Command::kPing, "ping", CommandArgs::kNone, "ping",
     "keep a hold alive (--hold_timeout_ms); answers {\"ok\":true,\"pong\":true}"},
    {Command::kHelp, "help", CommandArgs::kNone, "help", "this text"},
};
inline constexpr size_t kCommandCount = sizeof(kCommands) / sizeof(kCommands[0]);

constexpr bool CommandsInEnumOrder() {
  for (size_t i = 0; i < kCommandCount; ++i) {
    if (static_cast<size_t>(kCommands[i].command) != i) return false;
  }
  return true;
}
static_assert(CommandsInEnumOrder(), "kCommands[i] must describe Command(i)");

inline const CommandSpec& SpecOf(Command command) { return kCommands[static_cast<size_t>(command)]; }
// The command's word as sent on the wire ("status", "ack", ...).
inline std::string_view CommandName(Command command) { return SpecOf(command).name; }

struct ProtocolRequest {
  Command command = Command::kStatus;
  int64_t epoch = 0;  // CommandArgs::kEpoch
};

// Parses one line (without its newline). Leading/trailing blanks are ignored.
// Errors name what was wrong: unknown command, missing or bad argument,
// control characters.
Result<ProtocolRequest> ParseRequestLine(std::string_view line);

// The `help` text: "<usage>: <help>" of every command, "; "-separated.
const std::string& ProtocolHelp();

// {"error":"<message>"}
std::string ErrorLine(std::string_view message);

}  // namespace latchd

#endif  // LATCHD_LIB_API_PROTOCOL_H_
