// Value types shared by the election core and the ZooKeeper adapter. They
// mirror the parts of the ZooKeeper C API latchd uses, without including it,
// so the core and its tests never depend on the C client.
#ifndef LATCHD_LIB_ZK_ZK_TYPES_H_
#define LATCHD_LIB_ZK_ZK_TYPES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latchd {

// Outcome of one ZooKeeper request.
enum class ZkCode {
  kOk,
  kNoNode,
  kNodeExists,
  kBadVersion,
  kNotEmpty,
  kNoAuth,
  kBadArguments,
  kConnectionLoss,    // the connection broke; the request may or may not have been applied
  kOperationTimeout,  // no answer in time; same uncertainty as kConnectionLoss
  kSessionExpired,
  kClosing,           // the handle is being closed
  kInvalidState,      // the handle is dead (after EXPIRED)
  kInvalidAcl,        // the ACL of a create is not valid (e.g. auth: with no credentials)
  kAuthFailed,        // the session's authentication failed
  kSessionMoved,      // the session moved to another server; the request was ignored
  kNoChildrenForEphemerals,
  kNotReadOnly,       // a write sent to a read-only server
  kThrottled,         // the server refused the request for load; nothing was done
  kSaslAuthRequired,  // the server closed the session: it requires SASL (enforce.auth)
  kOther,             // any other code (ZkResult::raw_code has it)
};

// True when a ZooKeeper server processed the request and answered it (OK or a
// definite error); false when the outcome is unknown, the handle is unusable,
// or the client refused the request itself (kBadArguments: never sent, so it
// proves nothing about the session and must not extend the lease).
bool IsServerAnswer(ZkCode code);
std::string_view ZkCodeName(ZkCode code);

struct ZkStat {
  int64_t czxid = 0;
  int64_t mzxid = 0;
  int64_t ephemeral_owner = 0;
  int32_t version = 0;
  int32_t num_children = 0;
};

enum class CreateMode { kPersistent, kEphemeral, kEphemeralSequential };

enum class ZkRequestKind {
  kCreate,       // path, data, mode; result: created_path, stat
  kDelete,       // path, version (-1 = any)
  kGetData,      // path, watch (a data watch); result: data, stat
  kGetChildren,  // path; result: children (no watch)
  kCheck,        // a one-op multi: check(path, version -1). A write that goes
                 // through the ZooKeeper leader; used to renew the lease.
  kSetData,      // path, data, version
  kSync,         // path; ZooKeeper's sync: the server this client is connected
                 // to catches up with the ZooKeeper leader before it answers.
                 // Not a write (nothing is committed). The client's later
                 // reads see at least the state of the leader at some point
                 // after the sync was sent.
};

// True for requests that are ordered through the ZooKeeper leader (writes).
bool IsWrite(ZkRequestKind kind);

struct ZkRequest {
  uint64_t id = 0;
  ZkRequestKind kind = ZkRequestKind::kGetData;
  std::string path;
  std::string data;
  CreateMode mode = CreateMode::kPersistent;
  int32_t version = -1;
  bool watch = false;
  // kCreate, kSetData and kDelete only: when not empty, the request is sent as
  // a multi {check(guard, version -1), the operation}, so the operation is
  // applied only if `guard` exists at that point of ZooKeeper's order. A
  // missing guard fails the whole multi with ZkResult::guard_failed set.
  std::string guard;
  // With a guard and kDelete only: the multi deletes the guard instead of
  // checking it, {delete(guard, -1), delete(path, version)}: both go in one
  // write, or neither.
  bool guard_delete = false;
  // kDelete only: when not empty, a setData(mark_path, mark_data, any
  // version) is added as the last op of a multi with the delete (and the
  // guard's op, if any): the mark is written with the delete, or neither is.
  std::string mark_path;
  std::string mark_data;
};

struct ZkResult {
  uint64_t id = 0;
  ZkCode code = ZkCode::kOther;
  int raw_code = 0;  // the ZooKeeper C client's code (ZOK, ZNONODE, ...), for logs
  std::string data;
  ZkStat stat;
  std::vector<std::string> children;
  std::string created_path;
  // A guarded request (ZkRequest::guard) whose check failed: nothing was
  // applied and `code` is the check's error (kNoNode: the guard is gone).
  // A guarded create's stat is not reported by ZooKeeper: stat.version is 0
  // (a new node's version), the other fields are 0.
  bool guard_failed = false;
};

enum class WatchEventType { kCreated, kDeleted, kDataChanged, kChildrenChanged, kNotWatching };

struct ZkWatchEvent {
  WatchEventType type = WatchEventType::kDeleted;
  std::string path;
};

// Session state as reported by the C client's watcher.
enum class ZkSessionEvent {
  kConnected,    // (re)connected; session id and negotiated timeout are valid
  kConnecting,   // connection lost, the client is reconnecting
  kExpired,      // the session is gone; the handle is dead
  kAuthFailed,   // authentication failed; the handle is dead
};

// One entry of an ACL: scheme, id and permission bits (ZooKeeper's values:
// READ=1, WRITE=2, CREATE=4, DELETE=8, ADMIN=16, ALL=31).
struct ZkAclEntry {
  std::string scheme;
  std::string id;
  int perms = 31;
  bool operator==(const ZkAclEntry&) const = default;
};
inline constexpr int kPermRead = 1;
inline constexpr int kPermAll = 31;

}  // namespace latchd

#endif  // LATCHD_LIB_ZK_ZK_TYPES_H_
