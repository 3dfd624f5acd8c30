#include "lib/core/activation.h"

namespace latchd {

void ActivationGates::Enter(MonoTime now) {
  acked_ = hook_ok_ = false;
  deadline_.reset();
  if (enabled()) deadline_ = now + timeout_;
}

AckResultAction ActivationGates::OnAck(int64_t acked_epoch, bool leading, Role role, int64_t epoch) {
  if (leading && acked_epoch == epoch && role == Role::kActive) {
    return {true, "already ACTIVE in epoch " + std::to_string(epoch)};
  }
  if (!leading || role != Role::kBecomingActive) {
    return {false, std::string("not BECOMING_ACTIVE (role ") + std::string(RoleName(role)) + ")"};
  }
  if (acked_epoch != epoch) {
    return {false, "epoch " + std::to_string(acked_epoch) + " is not the current term " +
                       std::to_string(epoch)};
  }
  acked_ = true;
  return {true, require_ack_ ? "acknowledged epoch " + std::to_string(epoch)
                             : "acknowledged (no ack is required)"};
}

bool ActivationGates::OnHookDone(const HookDoneEvent& e, bool leading, Role role, int64_t epoch) {
  if (e.role != Role::kBecomingActive || !leading || role != Role::kBecomingActive ||
      e.epoch != epoch || !require_hook_) {
    return false;
  }
  if (e.ok) hook_ok_ = true;
  return true;
}

}  // namespace latchd
