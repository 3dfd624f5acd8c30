// The ZooKeeper client as the agent's shell sees it: one session at a time,
// asynchronous requests, and events delivered through a caller-supplied
// executor (never on the C client's threads).
//
// Thread-safety: Open/Submit/Close may be called from the owning thread only.
// Every callback passed in ZkClientCallbacks is invoked through `post`, so it
// runs wherever `post` runs it (the agent's event loop).
//
// Errors: Open returns a Status naming what failed (bad connect string,
// unreadable auth); request failures arrive as ZkResult codes.
#ifndef LATCHD_LIB_ZK_ZK_CLIENT_H_
#define LATCHD_LIB_ZK_ZK_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/util/status.h"
#include "lib/zk/zk_security.h"
#include "lib/zk/zk_types.h"

namespace latchd {

struct ZkSessionInfo {
  int64_t session_id = 0;
  std::chrono::milliseconds negotiated_timeout{0};
  std::string password;  // the session password (binary, 16 bytes); a secret
};

// A session to resume instead of creating a new one (after a restart).
struct ZkSessionCredentials {
  int64_t session_id = 0;
  std::string password;
};

struct ZkClientCallbacks {
  // Runs `fn` on the owner's thread. Called from the C client's threads.
  std::function<void(std::function<void()>)> post;
  // Session state changes of the current handle, in the order they happened.
  std::function<void(ZkSessionEvent, ZkSessionInfo)> on_session;
  // Watches that fired (never session events).
  std::function<void(const ZkWatchEvent&)> on_watch;
  // Completion of a request submitted with Submit.
  std::function<void(ZkResult)> on_result;
};

struct ZkClientOptions {
  std::string connect;                       // host:port[,host:port...][/chroot]
  std::chrono::milliseconds session_timeout{10000};
  std::vector<ZkAclEntry> acl;               // applied to every created node
  std::optional<std::pair<std::string, std::string>> auth;  // scheme, auth
  // Used by the first Open() only: ask the server to resume this session. If
  // it is gone, the server answers with an expiry and the next Open() starts
  // a new session.
  std::optional<ZkSessionCredentials> resume;
  // SASL or TLS (lib/zk/zk_security.h); `auth` is added on top (with SASL, a digest auth).
  ZkSecurityOptions security;
};

class ZkClient {
 public:
  virtual ~ZkClient() = default;
  // Starts a new session (closing any previous handle first). Events for the
  // new handle only are delivered from now on.
  virtual Status Open() = 0;
  // Sends one request. Its completion is delivered to on_result exactly once,
  // unless the handle is closed first (then it is dropped silently).
  virtual void Submit(const ZkRequest& request) = 0;
  // Closes the session (ephemeral nodes go at once). May block for a short
  // while; afterwards no callback of the old handle is delivered.
  virtual void Close() = 0;
};

}  // namespace latchd

#endif  // LATCHD_LIB_ZK_ZK_CLIENT_H_
