// CoreIo: what the parts of the election core may do while LatchCore handles
// one event — read the time and the session, send ZooKeeper requests, log,
// emit other actions — and the record of every request in flight.
//
// Every request gets an id and is remembered with its purpose, its send time,
// the session it was sent in and the "generation" of the own-node attempt it
// belongs to, so that an answer can be routed to the part that asked, the
// lease can be computed from send times (lib/core/lease.h), and late answers
// of abandoned attempts or dead sessions are recognised.
//
// Thread-safety: none; one per LatchCore, used on its thread.
// Errors: none; Take() of an unknown id is nullopt (a duplicate or foreign
// answer is ignored by the caller).
#ifndef LATCHD_LIB_CORE_CORE_IO_H_
#define LATCHD_LIB_CORE_CORE_IO_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/core_types.h"

namespace latchd {

// Why a request was sent; each purpose belongs to one part of the core.
enum class Purpose {
  // Joiner (lib/core/joiner.h): the own latch node.
  kCreateNode, kCreateParent, kRecoverList, kRecoverOwner, kDeleteStray, kOrphanList,
  kUnresumedOwner,
  // LatchView (lib/core/latch_view.h): the order of the latch and who leads.
  kSync, kHandoverMark, kList, kWatchPred, kLeaderGet, kAddressGet, kParticipantGet,
  // Takeover (lib/core/takeover.h): taking the lead.
  kVerifyOwner, kClaimCheck, kWatchOwn, kLockDelayRecord, kLockDelayAsi,
  // Lease renewal (LatchCore).
  kRenew,
  // Publisher (lib/core/publisher.h): active_server_info.
  kPublishCreate, kPublishGet, kPublishSet, kPublishDelete, kPublishCheck,
  // StepDown (lib/core/step_down.h).
  kStepDownBoth, kStepDownMarked, kStepDownDelete,
  // MemberRecord (lib/core/member_record.h): the own member record.
  kMemberParent, kMemberCreate, kMemberGet, kMemberSet, kMemberWatch, kMemberDeleteStale,
  // Candidacy (LatchCore): another member's record.
  kCandidateGet,
};

struct Pending {
  Purpose purpose = Purpose::kList;
  MonoTime sent{};
  int64_t session = 0;
  uint64_t gen = 0;
  ZkRequestKind kind = ZkRequestKind::kGetData;
  std::string node;      // child name or path the request is about
  uint64_t sync_id = 0;  // kList: the sync sent right before it, if any
  uint64_t mark_id = 0;  // kList: the read of the handover mark before it, if any
};

class CoreIo {
 public:
  // The instant the event being handled was observed (never decreases).
  MonoTime now() const { return now_; }
  // The current ZooKeeper session (0 before the first) and whether it is connected.
  int64_t session() const { return session_; }
  bool connected() const { return connected_; }
  // The generation of the current own-node attempt (LatchCore bumps it).
  uint64_t gen() const { return gen_; }

  // Sends `req` (its id is set here) for `purpose`; returns the id.
  uint64_t Send(ZkRequest req, Purpose purpose, std::string node = {});
  // The record of request `id`, for setting sync_id/mark_id right after Send.
  Pending& PendingOf(uint64_t id) { return pending_[id]; }
  // Removes and returns the record of `id`; nullopt if unknown.
  std::optional<Pending> Take(uint64_t id);
  // True if a request for `purpose` of the current generation and session is in flight.
  bool InFlight(Purpose purpose) const;
  // Forgets every request (their answers will be ignored).
  void ForgetAll() { pending_.clear(); }

  void Log(LogAction::Level level, std::string message);
  void Emit(Action action) { out_.push_back(std::move(action)); }

  // ---- for LatchCore --------------------------------------------------
  void Begin(MonoTime now);  // starts an event: now = max(now, earlier)
  std::vector<Action> TakeActions() { return std::move(out_); }
  void SetSession(int64_t session, bool connected) { session_ = session, connected_ = connected; }
  void SetConnected(bool connected) { connected_ = connected; }
  void NextGen() { ++gen_; }

 private:
  MonoTime now_{};
  int64_t session_ = 0;
  bool connected_ = false;
  uint64_t gen_ = 0;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
  std::vector<Action> out_;
};

// A request of `kind` for `path`, otherwise default.
ZkRequest MakeRequest(ZkRequestKind kind, std::string path);
// A getData with a data watch.
ZkRequest WatchRequest(std::string path);
// CONNECTIONLOSS or OPERATIONTIMEOUT: the request may or may not have been applied.
bool IsUncertain(ZkCode code);

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_CORE_IO_H_
