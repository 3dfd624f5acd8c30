// MemberRecord: this agent's member record, <root>/members/<id> — an
// ephemeral node of its session whose data is MemberInfo (member_info.h).
// docs/design.md, "Members".
//
// Promises:
//  * written() is what ZooKeeper holds as of an answer to this session's own
//    write (or a read of a node of this session); it is reset with the
//    session. The caller relies on this for "the record carried uuid U
//    before the latch node with U was created".
//  * The record is kept: written again when its data differs from Want(),
//    created again when it is deleted (a data watch on it), its parent made
//    when missing.
//  * A record of another session is never overwritten or deleted, except
//    one of the session this agent could not resume (its own previous run).
//    Meanwhile the agent is blocked() and retries with backoff: two agents
//    with one --id, or a previous session not yet expired.
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_MEMBER_RECORD_H_
#define LATCHD_LIB_CORE_MEMBER_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "lib/core/core_io.h"
#include "lib/core/member_info.h"

namespace latchd {

class MemberRecord {
 public:
  MemberRecord(std::string members_path, std::string path)
      : members_path_(std::move(members_path)), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  // The record as ZooKeeper holds it, written or read in this session.
  const std::optional<MemberInfo>& written() const { return written_; }
  // Written with exactly `info`.
  bool Says(const MemberInfo& info) const { return written_ && *written_ == info; }
  // Another session holds the record (see the header comment).
  bool blocked() const { return blocked_by_ != 0; }
  std::optional<MonoTime> retry_at() const { return retry_at_; }

  // The record should say `info`: written at once unless a write is in flight
  // (then after it).
  void Want(CoreIo& io, const MemberInfo& info);
  // A new session: nothing is known of the record. `unresumed_session`: the
  // previous run's session (its record may be deleted), 0 if none.
  void OnNewSession(int64_t unresumed_session);
  // After a reconnect or at retry_at(): send what is missing.
  void Resync(CoreIo& io);
  // Answers to kMember*. True when the record now says what is wanted.
  bool OnResult(CoreIo& io, const ZkResult& r, const Pending& p, bool* reconnect);
  // A watch on the record fired.
  void OnWatch(CoreIo& io, const ZkWatchEvent& w);

 private:
  void Write(CoreIo& io);
  void Create(CoreIo& io);
  void Retry(CoreIo& io, const std::string& why);
  void OnDeleted(CoreIo& io);

  const std::string members_path_;
  const std::string path_;
  MemberInfo wanted_;
  bool have_wanted_ = false;
  std::optional<MemberInfo> written_;
  MemberInfo sending_;       // the data of the write in flight
  bool in_flight_ = false;
  bool exists_ = false;      // a node of this session is there (as far as known)
  int32_t version_ = 0;
  bool watching_ = false;
  bool parents_sent_ = false;  // the parents were created for the create in flight
  int64_t blocked_by_ = 0;
  int64_t unresumed_session_ = 0;
  int failures_ = 0;
  // Deletions by another client in a row (each within kDeletionsApart of the
  // last): the first is rewritten at once, the next ones back off.
  int deletions_ = 0;
  std::optional<MonoTime> last_deleted_;
  std::string last_trouble_;  // logged once until it changes or passes
  std::optional<MonoTime> retry_at_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_MEMBER_RECORD_H_
