// Runs the --on_transition program once per role change, one at a time and
// in the order the changes happened, on a thread of its own (never on the
// election's thread). Each run gets the new role, the previous role, the
// epoch, the leader id and address as arguments and as LATCHD_* environment
// variables, and at most `timeout` to finish; then its process group is killed.
//
// Thread-safety: Enqueue may be called from any thread. `done` is called on
// the runner's thread; hand its work to your own loop.
// Errors: a program that cannot be started, exits non-zero, dies from a
// signal or times out is reported through `done` with ok=false and a detail.
#ifndef LATCHD_LIB_IO_HOOK_RUNNER_H_
#define LATCHD_LIB_IO_HOOK_RUNNER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "lib/core/core_types.h"
#include "lib/util/clock.h"

namespace latchd {

// One run: the role change it is for (its status gives the leader as the
// agent knew it at the change) and the agent's id.
struct HookJob {
  RoleChangeAction change;
  std::string agent_id;
};

class HookRunner {
 public:
  using Done = std::function<void(const HookJob& job, bool ok, const std::string& detail)>;
  HookRunner(std::string program, Duration timeout, Done done);
  // Kills a running hook and joins the thread; queued jobs are dropped.
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  void Enqueue(HookJob job);

 private:
  void Loop();
  bool RunOne(const HookJob& job, std::string* detail);

  const std::string program_;
  const Duration timeout_;
  const Done done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<HookJob> queue_;
  bool stopping_ = false;
  int running_pid_ = -1;
  std::thread thread_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_HOOK_RUNNER_H_
