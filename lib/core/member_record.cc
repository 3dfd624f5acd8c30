#include "lib/core/member_record.h"

#include <algorithm>
#include <functional>

#include "lib/core/latch_node.h"
#include "lib/util/session_id.h"

namespace latchd {

void MemberRecord::Want(CoreIo& io, const MemberInfo& info) {
  wanted_ = info;
  have_wanted_ = true;
  if (!in_flight_ && !retry_at_ && !Says(info)) Write(io);
}

void MemberRecord::OnNewSession(int64_t unresumed_session) {
  written_.reset();
  in_flight_ = false;
  exists_ = false;
  watching_ = false;
  blocked_by_ = 0;
  retry_at_.reset();
  unresumed_session_ = unresumed_session;
}

void MemberRecord::Resync(CoreIo& io) {
  retry_at_.reset();
  if (have_wanted_ && !in_flight_ && !Says(wanted_)) Write(io);
}

void MemberRecord::Write(CoreIo& io) {
  if (!io.connected()) return;
  sending_ = wanted_;
  in_flight_ = true;
  if (!exists_) return Create(io);
  ZkRequest set = MakeRequest(ZkRequestKind::kSetData, path_);
  set.data = MemberJson(sending_);
  set.version = version_;
  io.Send(std::move(set), Purpose::kMemberSet);
}

void MemberRecord::Create(CoreIo& io) {
  ZkRequest create = MakeRequest(ZkRequestKind::kCreate, path_);
  create.data = MemberJson(sending_);
  create.mode = CreateMode::kEphemeral;
  io.Send(std::move(create), Purpose::kMemberCreate);
}

// Trouble that may pass (another session's record, a refusal): try again
// later, 250 ms doubling to 1 s (a previous session's record goes within the
// session timeout, and the agent should join soon after). Logged when the
// trouble first appears or changes, not at every retry.
void MemberRecord::Retry(CoreIo& io, const std::string& why) {
  in_flight_ = false;
  ++failures_;
  int shift = std::min(failures_ - 1, 2);
  retry_at_ = io.now() + std::chrono::milliseconds(250 << shift);
  if (why != last_trouble_) io.Log(LogAction::kWarning, why + "; retrying every second");
  last_trouble_ = why;
}

bool MemberRecord::OnResult(CoreIo& io, const ZkResult& r, const Pending& p, bool* reconnect) {
  if (IsUncertain(r.code)) {
    in_flight_ = false;
    *reconnect = true;
    return false;
  }
  switch (p.purpose) {
    case Purpose::kMemberParent:
      // The record's create follows in the same order: its answer decides.
      return false;
    case Purpose::kMemberCreate:
      if (r.code != ZkCode::kNoNode) parents_sent_ = false;
      if (r.code == ZkCode::kOk) {
        exists_ = true;
        version_ = r.stat.version;
        break;
      }
      if (r.code == ZkCode::kNodeExists) {
        io.Send(MakeRequest(ZkRequestKind::kGetData, path_), Purpose::kMemberGet);
        return false;
      }
      if (r.code == ZkCode::kNoNode && !parents_sent_) {
        // The parents, then the record again: one session's requests are
        // applied in order.
        parents_sent_ = true;
        for (const std::string& parent : PathPrefixes(members_path_)) {
          io.Send(MakeRequest(ZkRequestKind::kCreate, parent), Purpose::kMemberParent);
        }
        Create(io);
        return false;
      }
      if (IsServerAnswer(r.code)) {
        Retry(io, "cannot create member record " + path_ + ": " + std::string(ZkCodeName(r.code)) +
                      (r.code == ZkCode::kNoAuth ? " (check --zk_acl and --zk_auth_file)" : ""));
      }
      return false;
    case Purpose::kMemberGet:
      if (r.code == ZkCode::kNoNode) {
        exists_ = false;
        Create(io);
        return false;
      }
      if (r.code != ZkCode::kOk) {
        if (IsServerAnswer(r.code)) Retry(io, "cannot read " + path_ + ": " + std::string(ZkCodeName(r.code)));
        return false;
      }
      if (r.stat.ephemeral_owner != io.session()) {
        if (r.stat.ephemeral_owner != 0 && r.stat.ephemeral_owner == unresumed_session_) {
          io.Log(LogAction::kInfo, "deleting member record " + path_ + " of session " +
                                       SessionIdHex(r.stat.ephemeral_owner) +
                                       ", which could not be resumed");
          ZkRequest del = MakeRequest(ZkRequestKind::kDelete, path_);
          del.version = r.stat.version;
          io.Send(std::move(del), Purpose::kMemberDeleteStale);
          return false;
        }
        blocked_by_ = r.stat.ephemeral_owner;
        Retry(io, "member record " + path_ + " belongs to session " +
                      SessionIdHex(r.stat.ephemeral_owner) +
                      " (another agent with the same --id, or this agent's previous session not "
                      "yet expired); not joining the latch until it is gone");
        return false;
      }
      exists_ = true;
      version_ = r.stat.version;
      in_flight_ = false;
      if (auto seen = ParseMemberJson(r.data); seen.ok() && *seen == sending_) break;
      Write(io);  // ours, but saying something else
      return false;
    case Purpose::kMemberDeleteStale:
      unresumed_session_ = 0;
      Create(io);
      return false;
    case Purpose::kMemberSet:
      if (r.code == ZkCode::kOk) {
        version_ = r.stat.version;
        break;
      }
      if (r.code == ZkCode::kNoNode) {
        exists_ = false;
        Create(io);
      } else if (r.code == ZkCode::kBadVersion) {
        io.Send(MakeRequest(ZkRequestKind::kGetData, path_), Purpose::kMemberGet);
      } else if (IsServerAnswer(r.code)) {
        Retry(io, "cannot write member record " + path_ + ": " + std::string(ZkCodeName(r.code)));
      }
      return false;
    case Purpose::kMemberWatch: {
      bool gone = r.code == ZkCode::kNoNode;  // no watch was set
      bool foreign = r.code == ZkCode::kOk && r.stat.ephemeral_owner != io.session();
      if (gone || foreign) {
        watching_ = false;
        exists_ = false;
        written_.reset();
        if (!in_flight_) Write(io);
        return false;
      }
      if (r.code != ZkCode::kOk || in_flight_ || !written_) return false;
      auto seen = ParseMemberJson(r.data);
      if (!seen.ok() || !(*seen == *written_)) {  // someone else wrote it
        io.Log(LogAction::kWarning, "member record " + path_ + " was changed by another client; writing it again");
        version_ = r.stat.version;
        written_.reset();
        Write(io);
      }
      return false;
    }
    default:
      return false;
  }
  // Written (or found) with sending_.
  in_flight_ = false;
  blocked_by_ = 0;
  failures_ = 0;
  last_trouble_.clear();
  written_ = sending_;
  if (!watching_) {
    watching_ = true;
    io.Send(WatchRequest(path_), Purpose::kMemberWatch);
  }
  if (!Says(wanted_)) {
    Write(io);
    return false;
  }
  return true;
}

// Deleted by another client. Once: written again at once. Again and again (a
// recursive delete of the root racing the agents): 250 ms doubling to 4 s,
// each drawn from [d/2, d] by the path and the count, logged once per episode,
// so that the deleting client gets through (the agent's rejoin waits too:
// its latch node comes only after its record).
void MemberRecord::OnDeleted(CoreIo& io) {
  exists_ = false;
  written_.reset();
  constexpr Duration kDeletionsApart = std::chrono::seconds(5);
  bool again = last_deleted_ && io.now() - *last_deleted_ < kDeletionsApart;
  deletions_ = again ? deletions_ + 1 : 1;
  last_deleted_ = io.now();
  if (deletions_ == 1) {
    io.Log(LogAction::kWarning, "member record " + path_ + " was deleted; writing it again");
    if (!in_flight_) Write(io);
    return;
  }
  int64_t full_us = int64_t{250000} << std::min(deletions_ - 2, 4);
  uint64_t h = std::hash<std::string>{}(path_ + std::to_string(deletions_));
  int64_t us = full_us / 2 + static_cast<int64_t>(h % static_cast<uint64_t>(full_us / 2 + 1));
  if (deletions_ == 2) {
    io.Log(LogAction::kWarning, "member record " + path_ +
                                    " deleted again by another client; writing it again with backoff");
  }
  if (!in_flight_) retry_at_ = io.now() + std::chrono::microseconds(us);
}

void MemberRecord::OnWatch(CoreIo& io, const ZkWatchEvent& w) {
  watching_ = false;
  if (w.type == WatchEventType::kDeleted) return OnDeleted(io);
  // Changed (by this agent's own write, or someone else's): watch again and
  // check it still says what it should.
  watching_ = true;
  io.Send(WatchRequest(path_), Purpose::kMemberWatch);
}

}  // namespace latchd
