// Publisher: <root>/active_server_info, the leader's address for Atlas
// clients — written once a leader has passed its activation gates, and the
// write whose answer makes it ACTIVE. docs/design.md, "Joining the latch",
// step 5.
//
// Promises: every write of active_server_info (create, set, delete of a stale
// one) is a multi {check(own node), write}: a leader whose node is gone
// cannot publish, nor replace or delete the next leader's address — such an
// answer (guard_failed) ends its leadership. An existing node of this session
// is updated in place; one of another session is deleted by version and
// recreated. Without an advertise URL the write is a `check(own node)`. A
// publish that lands after leadership ended is deleted again, guarded on the
// node it was published for.
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_PUBLISHER_H_
#define LATCHD_LIB_CORE_PUBLISHER_H_

#include <cstdint>
#include <string>

#include "lib/core/core_io.h"

namespace latchd {

struct PublishStep {
  enum Kind {
    kNone,
    kReconnect,  // the outcome is unknown: resynchronise after the reconnect
    kLost,       // the own node is gone: lose leadership (reason) and rejoin
    kPublished,  // written (or already there): the role may go ACTIVE
  };
  Kind kind = kNone;
  std::string reason;
};

class Publisher {
 public:
  Publisher(std::string asi_path, std::string advertise)
      : asi_path_(std::move(asi_path)), advertise_(std::move(advertise)) {}

  bool published() const { return published_; }
  bool in_flight() const { return in_flight_; }
  // The version of the node as this agent wrote it (-1 without an address).
  int32_t version() const { return version_; }
  const std::string& advertise() const { return advertise_; }

  // Writes the address (or the check without one) for the own node at `own_path`.
  void Send(CoreIo& io, const std::string& own_path, const std::string& own_node);
  // An answer. `current`: the agent still leads in the same attempt and is not
  // stopping; `stepping_down`: a stop or yield is under way (its multi removes
  // what this wrote).
  PublishStep OnResult(CoreIo& io, const ZkResult& r, const Pending& p, bool current,
                       bool stepping_down, const std::string& own_path,
                       const std::string& own_node, const std::string& latch_path);
  // Someone touched the node while this agent leads: write it again.
  void OnWatch(CoreIo& io, const std::string& own_path, const std::string& own_node) {
    if (published_ && !in_flight_) Send(io, own_path, own_node);
  }
  // Leadership ended or the lease lapsed: the address must be written again.
  void Unpublish() { published_ = false; }
  void Forget() { published_ = false, in_flight_ = false; }
  // The own node is gone: nothing is in flight for it any more.
  void ForgetInFlight() { in_flight_ = false; }

 private:
  const std::string asi_path_;
  const std::string advertise_;
  bool published_ = false;
  bool in_flight_ = false;
  int32_t version_ = -1;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_PUBLISHER_H_
