#include "lib/io/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include <glog/logging.h>

namespace latchd {
namespace {

uint64_t FromRlim(rlim_t v) {
  return v == RLIM_INFINITY ? FdLimitChange::kUnlimited : static_cast<uint64_t>(v);
}

}  // namespace

std::string FdLimitText(uint64_t limit) {
  return limit == FdLimitChange::kUnlimited ? "unlimited" : std::to_string(limit);
}

Result<FdLimitChange> RaiseFdLimitToHard() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return Status::Error(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  FdLimitChange change;
  change.before = FromRlim(lim.rlim_cur);
  change.hard = FromRlim(lim.rlim_max);
  if (lim.rlim_cur != lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      return Status::Error("setrlimit(RLIMIT_NOFILE, " + FdLimitText(change.hard) +
                           "): " + std::strerror(errno));
    }
  }
  change.after = change.hard;
  return change;
}

void RaiseFdLimitToHardAndLog() {
  Result<FdLimitChange> change = RaiseFdLimitToHard();
  if (!change.ok()) {
    LOG(WARNING) << "cannot raise the open-file limit: " << change.status().message();
    return;
  }
  if (change->before == change->after) {
    LOG(INFO) << "RLIMIT_NOFILE soft limit " << FdLimitText(change->after)
              << " (already the hard limit)";
  } else {
    LOG(INFO) << "RLIMIT_NOFILE soft limit raised from " << FdLimitText(change->before)
              << " to the hard limit " << FdLimitText(change->after);
  }
}

}  // namespace latchd
