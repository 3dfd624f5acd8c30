// Takeover: the steps from "the own node is first" to "leader" — the owner
// check (CURATOR-696), the claim check write, and the data watch on the own
// node. docs/design.md, "Joining the latch", step 4.
//
// Promises: Claim is answered only for a listing sent behind a sync that was
// answered OK, with the own node owned by the current session, and then
// either at once for a graceful handover (the handover mark names the node
// that was first before) or after a `check(own node)` write answered OK —
// never for a node of another session (it is deleted instead).
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_TAKEOVER_H_
#define LATCHD_LIB_CORE_TAKEOVER_H_

#include <cstdint>
#include <string>

#include "lib/core/core_io.h"
#include "lib/core/joiner.h"
#include "lib/core/latch_view.h"

namespace latchd {

struct TakeoverStep {
  enum Kind {
    kNone,
    kReconnect,  // the outcome is unknown: resynchronise after the reconnect
    kLost,       // the own node is gone: lose leadership (reason), rejoin (rejoin_reason)
    kRejoin,     // the node is not this session's: rejoin (rejoin_reason)
    kClaim,      // lead with `epoch`
  };
  Kind kind = kNone;
  int64_t epoch = 0;
  std::string reason;
  std::string rejoin_reason;
};

class Takeover {
 public:
  // The own node is first in a listing and the agent does not lead.
  TakeoverStep OnFirst(CoreIo& io, const ListOutcome& list, const Joiner& joiner, LatchView& view);
  // Answers to kVerifyOwner, kClaimCheck and kWatchOwn. `leading`: the agent leads already.
  TakeoverStep OnResult(CoreIo& io, const ZkResult& r, const Pending& p, const Joiner& joiner,
                        bool leading);
  // A watch on the own node fired (the agent is in the latch).
  TakeoverStep OnOwnWatch(CoreIo& io, const ZkWatchEvent& w, const Joiner& joiner, bool leading);
  // Sets a data watch on the own node (its data never changes): learn at once
  // if it is deleted.
  void WatchOwnNode(CoreIo& io, const Joiner& joiner);

 private:
  TakeoverStep SendClaimCheck(CoreIo& io, const Joiner& joiner, int64_t czxid);
  static TakeoverStep Lost(std::string reason, std::string rejoin_reason);

  int64_t claim_epoch_ = 0;  // the own node's czxid, until the claim check
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_TAKEOVER_H_
