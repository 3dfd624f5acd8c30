// latchd's command-line flags (gflags). ParseAgentFlags parses argv (and any
// --flagfile), refuses unknown flags, and validates every value.
// Errors: one line naming the flag; the caller exits with status 2.
#ifndef LATCHD_AGENT_LATCHD_FLAGS_H_
#define LATCHD_AGENT_LATCHD_FLAGS_H_

#include <string>
#include <vector>

#include "lib/api/agent_config.h"

namespace latchd {

// `notes` (may be null) receives lines worth logging once logging is set up,
// e.g. which flags --atlas_properties filled in.
Result<AgentConfig> ParseAgentFlags(int* argc, char*** argv,
                                    std::vector<std::string>* notes = nullptr);

// Checks that every "--name[=value]" in argv (and in flag files it names) is
// a defined flag. Exposed for latchctl, which uses the same rule.
Status CheckKnownFlags(int argc, char** argv);

}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHD_FLAGS_H_
