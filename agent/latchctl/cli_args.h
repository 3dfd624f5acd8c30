// latchctl's command line: a command word, its arguments, and flags that may
// appear anywhere (`--name=value`, `--name value`, `-name=value`; `--json` and
// `--help` take no value; `--` ends the flags).
// Thread-safety: pure functions.
// Errors: ParseArgs names the bad flag or value in one line; the caller prints
// it with the usage line and exits 2.
#ifndef LATCHD_AGENT_LATCHCTL_CLI_ARGS_H_
#define LATCHD_AGENT_LATCHCTL_CLI_ARGS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/api/protocol.h"
#include "lib/util/status.h"

namespace latchd {
namespace latchctl {

// Exit codes (documented in docs/latchctl.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // agent unreachable/refused, not ACTIVE, none ACTIVE
inline constexpr int kExitUsage = 2;

struct CliOptions {
  std::string command;             // "" when only flags were given
  std::vector<std::string> args;   // positional arguments after the command
  std::string socket;              // --socket, else $LATCHD_SOCKET, else the default
  bool json = false;               // --json
  int timeout_ms = 2000;           // --timeout_ms
  bool help = false;               // --help / -h
  // find-active only:
  std::vector<std::string> servers;  // --servers, split at ','
  bool servers_given = false;
  int retries = 4;                   // --retries: rounds over all servers
  int retry_interval_ms = 5000;      // --retry_interval_ms: pause between rounds
  bool find_active_flags_given = false;
};

Result<CliOptions> ParseArgs(int argc, char** argv);

// latchctl's commands, in `help` order: the usage line, the help text and the
// dispatch in main.cc come from this table.
struct CliCommand {
  const char* name;
  size_t nargs;         // positional arguments after the command
  const char* args;     // how they are shown, e.g. " EPOCH"; "" without
  const char* help;     // lines of help, '\n'-separated, without indentation
  // The agent's socket command it sends, if any (lib/api/protocol.h). Every
  // socket command is either sent by one of these or in kNotInLatchctl.
  std::optional<Command> sends;
};
extern const CliCommand kCliCommands[];
extern const size_t kCliCommandCount;
// Socket commands latchctl does not offer, with why.
struct NotInLatchctl {
  Command command;
  const char* why;
};
extern const NotInLatchctl kNotInLatchctl[];
extern const size_t kNotInLatchctlCount;
// The row of `name`, or nullptr.
const CliCommand* FindCliCommand(std::string_view name);

// The one-line usage ("usage: latchctl {status|...} [--socket=PATH] ...").
const std::string& UsageLine();
// The full --help text: every command and flag, exit codes.
const std::string& HelpText();

}  // namespace latchctl
}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHCTL_CLI_ARGS_H_
