// latchd's command-line flags (gflags). ParseAgentFlags parses argv (and any
// --flagfile), refuses unknown flags, and validates every value.
// Errors: one line naming the flag; the caller exits with status 2.
// Thread-safety: gflags' registry is process-global; call these from main
// before starting threads.
#ifndef LATCHD_AGENT_LATCHD_FLAGS_H_
#define LATCHD_AGENT_LATCHD_FLAGS_H_

#include <string>
#include <vector>

#include "lib/api/agent_config.h"

namespace latchd {

// `notes` (may be null) receives lines worth logging once logging is set up,
// e.g. which flags --atlas_properties filled in.
// Help does not return: --help (and --helpshort) print AgentHelpText(false),
// --helpfull AgentHelpText(true), on stdout and exit 0; gflags' other help
// flags (--version exits 0; --helpxml, --helpon, --helpmatch, --helppackage
// exit 1) are gflags' own. Unknown flags are still refused first.
Result<AgentConfig> ParseAgentFlags(int* argc, char*** argv,
                                    std::vector<std::string>* notes = nullptr);

// The help text: gflags' usage message (gflags::SetUsageMessage), latchd's
// own flags (those defined in flags.cc, by name), then with `full` every other
// flag grouped by the file (of glog, gflags) that defines it, or without it
// just --flagfile and --v. Each flag reads "--name=TYPE (default D)" (and the
// current value where a parsed flag changed it), then its description.
std::string AgentHelpText(bool full);

// Checks that every "--name[=value]" in argv (and in flag files it names) is
// a defined flag. Exposed for latchctl, which uses the same rule.
Status CheckKnownFlags(int argc, char** argv);

}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHD_FLAGS_H_
