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
// The lock-delay (docs/design.md, "The lock-delay"): a takeover that is not a
// handover first asks whether the previous leader may still claim with the
// node that vanished (deleted by another client while its owner lives; the
// owner may be paused or behind a lagging server). It may while its member
// record (<root>/members/<id>, lib/core/member_record.h) still names that
// node's uuid — an owner rewrites its record only after it stopped claiming
// with the node — or, when there is no record to ask, while
// active_server_info belongs to another live session. Then the claim check
// waits until the record changes (a data watch) or for the longest lease
// either could hold (the record's lease_ms, this agent's own lease length,
// plus 10 %), counted from after the deletion was seen: the previous owner's
// renewals fail on the deleted node, so its claim ends within its lease. A
// crashed leader costs nothing: its record and active_server_info go with its
// session.
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_TAKEOVER_H_
#define LATCHD_LIB_CORE_TAKEOVER_H_

#include <cstdint>
#include <optional>
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
  Takeover(std::string asi_path, std::string zk_root)
      : asi_path_(std::move(asi_path)), zk_root_(std::move(zk_root)) {}

  // The own node changed or was given up: no takeover under way.
  void Reset();
  // The connection broke: the lock-delay's reads are lost (its end stays).
  void OnDisconnect() { lock_reads_ = 0; }
  // While the lock-delay waits: its end.
  const std::optional<MonoTime>& lock_until() const { return lock_until_; }
  // A timer or any event at `io.now()`: the lock-delay's end, if reached.
  TakeoverStep OnTick(CoreIo& io, const Joiner& joiner);
  // A watch fired; true if it was the lock-delay's (the caller stops there).
  bool OnLockWatch(CoreIo& io, const ZkWatchEvent& w, const Joiner& joiner, TakeoverStep* step);
  // The lease length of this agent (the shortest the lock-delay waits).
  void SetLeaseLength(Duration d) { lease_length_ = d; }

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
  // The lock-delay's reads, then (when nothing blocks) the claim check.
  TakeoverStep StartLockDelay(CoreIo& io, const Joiner& joiner, int64_t czxid);
  TakeoverStep OnLockRead(CoreIo& io, const ZkResult& r, const Pending& p, const Joiner& joiner);
  TakeoverStep Decide(CoreIo& io, const Joiner& joiner);
  static TakeoverStep Lost(std::string reason, std::string rejoin_reason);
  static TakeoverStep Reconnect();

  const std::string asi_path_;
  const std::string zk_root_;
  Duration lease_length_{};
  int64_t claim_epoch_ = 0;  // the own node's czxid, until the claim check
  // The node that led before this agent's node became first, if it vanished
  // (kept from the first listing that showed it gone until a claim or Reset).
  std::string vanished_node_;
  std::string vanished_id_;
  std::string vanished_uuid_;
  // The lock-delay: reads outstanding, what they said, and its end.
  int lock_reads_ = 0;
  bool record_blocks_ = false;
  bool asi_blocks_ = false;
  bool record_known_ = false;  // a record of the vanished owner was read
  Duration record_lease_{};
  std::optional<MonoTime> lock_until_;
  bool lock_logged_ = false;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_TAKEOVER_H_
