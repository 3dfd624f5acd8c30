#include "lib/core/step_down.h"

namespace latchd {

bool StepDown::BeginStop(CoreIo& io, bool has_nodes) {
  stopping_ = true;
  phase_ = StepDownPhase::kStopping;
  stop_deadline_ = io.now() + stop_timeout_;
  if (!io.connected() || !has_nodes) {
    Finish(io);
    return true;
  }
  return false;
}

void StepDown::BeginYield(CoreIo& io, const std::string& own_node, const Publisher& publisher,
                          bool leader) {
  phase_ = StepDownPhase::kYielding;
  handing_over_ = leader;
  Send(io, own_node, publisher);
}

void StepDown::Send(CoreIo& io, const std::string& own_node, const Publisher& publisher) {
  pending_ = 0;
  marked_ = false;
  if (own_node.empty()) {
    // Without an own node nothing of ours is deleted here: the address was
    // published guarded on the node, and one left behind goes with the session
    // (a stop closes it) or is replaced by the next leader.
    return;
  }
  std::string own_path = latch_path_ + "/" + own_node;
  if (!publisher.advertise().empty() && (publisher.published() || publisher.in_flight())) {
    // multi {delete(own node), delete(active_server_info), set(mark)}: the
    // successor, woken by the node's deletion, finds the address gone too,
    // and the address goes only while the node shows that no one else leads.
    ZkRequest del = MakeRequest(ZkRequestKind::kDelete, asi_path_);
    del.version = publisher.published() ? publisher.version() : -1;
    del.guard = own_path;
    del.guard_delete = true;
    del.mark_path = latch_path_;
    del.mark_data = own_node;
    io.Send(std::move(del), Purpose::kStepDownBoth, own_node);
  } else {
    SendMarkedDelete(io, own_node);
  }
  ++pending_;
}

// multi {delete(own node), set(mark)}.
void StepDown::SendMarkedDelete(CoreIo& io, const std::string& own_node) {
  ZkRequest del = MakeRequest(ZkRequestKind::kDelete, latch_path_ + "/" + own_node);
  del.mark_path = latch_path_;
  del.mark_data = own_node;
  io.Send(std::move(del), Purpose::kStepDownMarked, own_node);
}

bool StepDown::OnResult(CoreIo& io, const ZkResult& r, const Pending& p, const std::string& own_node,
                        bool* reconnect) {
  if (!deleting()) return false;
  if (IsUncertain(r.code) && phase_ == StepDownPhase::kYielding) {
    *reconnect = true;
    return false;
  }
  bool failed = IsServerAnswer(r.code) && r.code != ZkCode::kOk && !own_node.empty();
  if (failed && p.purpose == Purpose::kStepDownBoth && !r.guard_failed) {
    // The address was not ours to delete any more (or already gone), or the
    // mark could not be written: the node and the mark, then.
    SendMarkedDelete(io, own_node);
    return false;
  }
  if (failed && p.purpose == Purpose::kStepDownMarked && r.code != ZkCode::kNoNode) {
    // The mark could not be written (the latch node's ACL): the node alone.
    io.Send(MakeRequest(ZkRequestKind::kDelete, latch_path_ + "/" + own_node),
            Purpose::kStepDownDelete, own_node);
    return false;
  }
  if (r.code == ZkCode::kOk &&
      (p.purpose == Purpose::kStepDownBoth || p.purpose == Purpose::kStepDownMarked)) {
    marked_ = true;
  }
  if (--pending_ > 0) return false;
  if (phase_ == StepDownPhase::kStopping) {
    io.Log(LogAction::kInfo, "left the latch; closing the session");
    Finish(io);
    return true;
  }
  io.Log(LogAction::kInfo, "yielded; rejoining at the back of the latch");
  phase_ = StepDownPhase::kNone;
  return true;
}

bool StepDown::OnTick(CoreIo& io) {
  if (!stop_deadline_ || io.now() < *stop_deadline_) return false;
  io.Log(LogAction::kWarning, "graceful stop timed out; closing the session");
  Finish(io);
  return true;
}

bool StepDown::OnSessionEnd(CoreIo& io) {
  if (phase_ == StepDownPhase::kYielding) phase_ = StepDownPhase::kNone;
  if (phase_ == StepDownPhase::kStopped) return true;
  if (phase_ != StepDownPhase::kStopping) return false;
  Finish(io);
  return true;
}

void StepDown::Finish(CoreIo& io) {
  phase_ = StepDownPhase::kStopped;
  stop_deadline_.reset();
  io.Emit(FinishedAction{marked_});
}

}  // namespace latchd
