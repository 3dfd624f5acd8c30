// `latchctl find-active`: Apache Atlas client-style discovery of the ACTIVE
// server. For up to `retries` rounds, ask every server's
// GET <url>/api/atlas/admin/status in the order given; the first to answer
// 200 {"Status":"ACTIVE"} wins. Rounds are `retry_interval_ms` apart.
// Thread-safety: runs on the calling thread; writes to stdout/stderr.
#ifndef LATCHD_AGENT_LATCHCTL_FIND_ACTIVE_H_
#define LATCHD_AGENT_LATCHCTL_FIND_ACTIVE_H_

#include "agent/latchctl/cli_args.h"

namespace latchd {
namespace latchctl {

// Prints the winner's URL (or, with --json, {"active":URL|null,"answers":{...}})
// and returns the exit code: 0 found, 1 none ACTIVE after all rounds (stderr
// names what each server answered last), 2 bad --servers.
int FindActive(const CliOptions& options);

}  // namespace latchctl
}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHCTL_FIND_ACTIVE_H_
