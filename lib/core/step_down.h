// StepDown: leaving the latch on purpose — a graceful stop (SIGTERM), a
// yield, or a failed activation — in one write that lets the successor take
// over at once. docs/design.md, "Graceful stop and yield".
//
// Promises: the caller has stopped claiming before Begin (nothing after it
// can report a claim). The write is one multi
// {delete(own node), delete(active_server_info), set(<latch> = own node)}:
// the successor, woken by the node's deletion, finds the address gone too
// and reads the handover mark naming the node. If the address is not this
// agent's any more (or gone), the node and the mark; if the mark cannot be
// written (an ACL), the node alone. A stop finishes when the write is
// answered, or after stop_timeout, or at once without a connection or a node
// (the session's close then removes the ephemerals).
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_STEP_DOWN_H_
#define LATCHD_LIB_CORE_STEP_DOWN_H_

#include <optional>
#include <string>

#include "lib/core/core_io.h"
#include "lib/core/publisher.h"

namespace latchd {

// After a yield (or an unhealthy server's step-down) that went with the handover mark, the
// agent's own next writes (its member record, the new latch node) wait this long: sent at once
// they were ordered in front of the successor's sync and publish at the ZooKeeper leader
// (docs/design.md, "Graceful stop and yield"). The agent is PASSIVE and out of the latch
// meanwhile.
inline constexpr Duration kRejoinAfterHandover = std::chrono::milliseconds(200);

enum class StepDownPhase { kNone, kYielding, kStopping, kStopped };

class StepDown {
 public:
  StepDown(std::string latch_path, std::string asi_path, Duration stop_timeout)
      : latch_path_(std::move(latch_path)), asi_path_(std::move(asi_path)),
        stop_timeout_(stop_timeout) {}

  StepDownPhase phase() const { return phase_; }
  // A stop was asked for (it stays asked for).
  bool stopping() const { return stopping_; }
  // A yield or stop is under way or done: the agent does not stand in the latch.
  bool active() const { return phase_ != StepDownPhase::kNone; }
  bool yielding() const { return phase_ == StepDownPhase::kYielding; }
  bool deleting() const {
    return phase_ == StepDownPhase::kYielding || phase_ == StepDownPhase::kStopping;
  }
  const std::optional<MonoTime>& stop_deadline() const { return stop_deadline_; }
  // A leader's yield whose step-down write went with the handover mark (answered OK): a
  // successor may be taking over on it right now (kRejoinAfterHandover).
  bool handed_over() const { return marked_ && handing_over_; }

  // A stop begins at io.now(). True: finished at once (FinishedAction emitted).
  bool BeginStop(CoreIo& io, bool has_nodes);
  // A yield begins: the step-down write for the own node (the caller checked
  // that it is connected and has one). leader: the agent led until now.
  void BeginYield(CoreIo& io, const std::string& own_node, const Publisher& publisher,
                  bool leader = false);
  // Sends (again, after a reconnect) the step-down write.
  void Send(CoreIo& io, const std::string& own_node, const Publisher& publisher);
  // The write's answer. True when the step-down is done: a stop has
  // finished (FinishedAction emitted), a yield must rejoin (phase back to
  // kNone). *reconnect: resynchronise after the reconnect.
  bool OnResult(CoreIo& io, const ZkResult& r, const Pending& p, const std::string& own_node,
                bool* reconnect);
  // The stop timed out (FinishedAction emitted) — true if it did at io.now().
  bool OnTick(CoreIo& io);
  // The session ended (or a new one started): a stop finishes now (true), a
  // yield is over (its node went with the session; the agent joins anew).
  bool OnSessionEnd(CoreIo& io);

 private:
  void SendMarkedDelete(CoreIo& io, const std::string& own_node);
  void Finish(CoreIo& io);

  const std::string latch_path_;
  const std::string asi_path_;
  const Duration stop_timeout_;
  StepDownPhase phase_ = StepDownPhase::kNone;
  bool stopping_ = false;
  std::optional<MonoTime> stop_deadline_;
  int pending_ = 0;
  bool marked_ = false;
  bool handing_over_ = false;  // the yield of a leader  // a marked step-down write was answered OK (FinishedAction::handed_over)
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_STEP_DOWN_H_
