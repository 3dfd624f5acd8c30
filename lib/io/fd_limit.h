// The process's open-file limit (RLIMIT_NOFILE). systemd starts services with
// a soft limit of 1024 unless the unit says otherwise; latchd raises the soft
// limit to the hard one at start, so that its HTTP server (which takes at
// most half of the soft limit, see http_server.h) and socket clients fit.
//
// Thread-safety: call at start, before other threads open descriptors.
// Errors: RaiseFdLimitToHard returns a Status naming the failing call.
#ifndef LATCHD_LIB_IO_FD_LIMIT_H_
#define LATCHD_LIB_IO_FD_LIMIT_H_

#include <cstdint>
#include <string>

#include "lib/util/status.h"

namespace latchd {

struct FdLimitChange {
  static constexpr uint64_t kUnlimited = UINT64_MAX;
  uint64_t before = 0;  // the soft limit found
  uint64_t after = 0;   // the soft limit now (== hard unless that failed)
  uint64_t hard = 0;
};

// Sets the soft limit to the hard limit (no change if it is there already).
Result<FdLimitChange> RaiseFdLimitToHard();

// RaiseFdLimitToHard and one log line saying what it did (INFO), or why not
// (WARNING). Never fails: the agent runs on with the limit it has.
void RaiseFdLimitToHardAndLog();

// "1024", or "unlimited".
std::string FdLimitText(uint64_t limit);

}  // namespace latchd

#endif  // LATCHD_LIB_IO_FD_LIMIT_H_
