// The session record: what a restarted agent needs to resume its ZooKeeper
// session (and so keep its latch node, leadership and epoch) after a crash.
// It lives next to the socket (the runtime directory), mode 0600, written
// atomically (temp file + rename), and is removed on a graceful stop.
// Thread-safety: plain functions; callers serialise writes to one path.
// Errors: a Status naming the path and what failed. A record that does not
// parse is an error (the caller starts a new session and says why).
#ifndef LATCHD_LIB_API_SESSION_FILE_H_
#define LATCHD_LIB_API_SESSION_FILE_H_

#include <cstdint>
#include <string>

#include "lib/util/status.h"

namespace latchd {

struct SessionRecord {
  int64_t session_id = 0;
  std::string password;   // binary
  std::string node;       // own latch node name, empty if none
  std::string id;         // participant id
  std::string zk_connect;
  std::string zk_root;
};

// "<socket_path>.session"; empty if socket_path is empty.
std::string SessionFilePath(const std::string& socket_path);
Status WriteSessionRecord(const std::string& path, const SessionRecord& record);
Result<SessionRecord> ReadSessionRecord(const std::string& path);
void RemoveSessionRecord(const std::string& path);

}  // namespace latchd

#endif  // LATCHD_LIB_API_SESSION_FILE_H_
