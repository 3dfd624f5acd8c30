// latchctl's command line: a command word, its arguments, and flags that may
// appear anywhere (`--name=value`, `--name value`, `-name=value`; `--json` and
// `--help` take no value; `--` ends the flags).
// Thread-safety: pure functions.
// Errors: ParseArgs names the bad flag or value in one line; the caller prints
// it with the usage line and exits 2.
#ifndef LATCHD_AGENT_LATCHCTL_CLI_ARGS_H_
#define LATCHD_AGENT_LATCHCTL_CLI_ARGS_H_

#include <string>
#include <vector>

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

// The one-line usage ("usage: latchctl COMMAND [ARGS] [--socket=PATH] ...").
const char* UsageLine();
// The full --help text: every command and flag, exit codes.
const char* HelpText();

}  // namespace latchctl
}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHCTL_CLI_ARGS_H_
