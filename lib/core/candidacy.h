// Candidacy: whether this agent stands for election — its server's health,
// as the agent core judges it (held connections, probes) — and, while it
// leads with an unhealthy server, whether a healthy candidate is waiting to
// take over. docs/design.md, "Server binding".
//
// The rule (issue 12): an unhealthy agent is no candidate — one that does not
// lead leaves the latch; an unhealthy leader hands over if and only if a
// healthy candidate is waiting (the node after its own, whose member record
// says healthy; a node without a record, a Curator participant, counts as
// healthy), else keeps leadership and says so (waiting()).
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_CANDIDACY_H_
#define LATCHD_LIB_CORE_CANDIDACY_H_

#include <cstdint>
#include <string>

#include "lib/core/core_io.h"
#include "lib/core/latch_view.h"

namespace latchd {

class Candidacy {
 public:
  Candidacy(std::string zk_root, bool healthy) : zk_root_(std::move(zk_root)), healthy_(healthy) {}

  bool healthy() const { return healthy_; }
  const std::string& reason() const { return reason_; }
  int64_t since_ms() const { return since_ms_; }
  // Leading with an unhealthy server and no healthy candidate seen.
  bool waiting() const { return waiting_; }

  // The server's health changed (or was first judged); false if it did not change.
  bool Set(bool healthy, const std::string& reason, int64_t since_ms);
  // This agent leads and its server is unhealthy: look at the node after the
  // own one in the last listing (reads its member record).
  void CheckSuccessor(CoreIo& io, const LatchView& view, const std::string& own_node);
  // The member record of the candidate node: true when it is a healthy
  // candidate (hand over now).
  bool OnCandidateRecord(CoreIo& io, const ZkResult& r, const Pending& p);
  // Leadership ended: nothing to wait for.
  void StopWaiting() { waiting_ = false; }

 private:
  const std::string zk_root_;
  bool healthy_;
  std::string reason_;
  int64_t since_ms_ = 0;
  bool waiting_ = false;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_CANDIDACY_H_
