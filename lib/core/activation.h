// ActivationGates: what a new leader waits for in BECOMING_ACTIVE before it
// publishes and goes ACTIVE — the server's `ack <epoch>` and/or a successful
// --on_transition hook run for BECOMING_ACTIVE — and the time limit on them.
// docs/design.md, "Activation gates".
//
// Promises: every entry into BECOMING_ACTIVE (Enter) starts with no gate
// passed; a refused ack changes nothing; Expired() is true once the limit of
// the current entry has passed without every gate passed.
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_ACTIVATION_H_
#define LATCHD_LIB_CORE_ACTIVATION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "lib/core/core_types.h"

namespace latchd {

class ActivationGates {
 public:
  ActivationGates(bool require_ack, bool require_hook, Duration timeout)
      : require_ack_(require_ack), require_hook_(require_hook), timeout_(timeout) {}

  bool enabled() const { return require_ack_ || require_hook_; }
  Duration timeout() const { return timeout_; }
  // A new entry into BECOMING_ACTIVE at `now`.
  void Enter(MonoTime now);
  // Every enabled gate passed for the current entry.
  bool passed() const { return (!require_ack_ || acked_) && (!require_hook_ || hook_ok_); }
  // The limit of the current entry, while one runs.
  const std::optional<MonoTime>& deadline() const { return deadline_; }
  bool Expired(MonoTime now) const { return deadline_ && now >= *deadline_; }
  // The entry is over (passed, given up or left).
  void Finish() { deadline_.reset(); }

  // `ack <epoch>`. `role` and `epoch` are the agent's, `leading` whether it
  // leads. Returns the answer; on success the ack gate is passed.
  AckResultAction OnAck(int64_t acked_epoch, bool leading, Role role, int64_t epoch);
  // A hook run finished. Returns true if it concerns the current entry (the
  // caller then either gives up, if !e.ok, or re-evaluates the role).
  bool OnHookDone(const HookDoneEvent& e, bool leading, Role role, int64_t epoch);

 private:
  const bool require_ack_;
  const bool require_hook_;
  const Duration timeout_;
  bool acked_ = false;
  bool hook_ok_ = false;
  std::optional<MonoTime> deadline_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_ACTIVATION_H_
