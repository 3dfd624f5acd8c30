// The real ZkClient: an adapter over ZooKeeper's multi-threaded C client
// (libzookeeper-mt). See lib/zk/zk_client.h for the interface contract.
//
// What this adapter adds to that contract:
//  - Every C-client callback is converted to latchd types on the C client's
//    completion thread and handed over with `callbacks.post`; the latchd
//    callbacks (on_session, on_watch, on_result) only ever run inside a
//    posted function, and only if the handle that produced the event is still
//    the current one (generation check on the owner's thread). So after
//    Close() or a new Open() nothing of the old handle is delivered.
//  - Session events are reported once per state change (from the global
//    watcher only): CONNECTED -> kConnected with the session id and the
//    negotiated timeout read at that moment, CONNECTING/ASSOCIATING ->
//    kConnecting, EXPIRED -> kExpired, AUTH_FAILED -> kAuthFailed.
//  - kGetData with `watch` sets a data watch; its firing arrives at on_watch.
//    kCheck is a one-op multi (check of `version`, -1 = any) and reports the
//    multi's code (kNoNode when the node is missing).
//  - kSync is zoo_async; the C client sends it in order with the other
//    requests of the handle, so a read submitted right after it is answered
//    after the sync.
//  - Every create uses options.acl (ZooKeeper's open ACL when empty); if
//    options.auth is set it is added right after the handle is made (the C
//    client re-sends it on every reconnect).
//  - A request that the C client refuses synchronously (e.g. kInvalidState
//    after expiry, kBadArguments for a bad path) is still answered exactly once
//    through post. A request submitted while no handle is open is answered
//    with kInvalidState (dropped like the rest if Open() runs before that
//    answer is delivered).
//  - Close() of a live handle blocks while the C client closes the session
//    (up to a few seconds); a handle that is already dead (expired, auth
//    failed) is closed on a detached thread so that a following Open() does
//    not wait.
//  - options.security picks the C client's entry point (lib/zk/zk_secure_init.h):
//    zookeeper_init_sasl for SASL (it authenticates on every (re)connect), zookeeper_init_ssl
//    for TLS, zookeeper_init2 otherwise. Options the build cannot do (or an unparsable
//    Kerberos principal) make every Open() return that error.
//  - Authentication failures: a failed SASL authentication makes the C client's handle
//    AUTH_FAILED without any watcher event; the adapter polls a SASL handle's state every
//    100 ms and reports kAuthFailed once (the C client's own AUTH_FAILED event, if any, is
//    the same report), with an ERROR line saying what was tried. The C client does not say
//    why the server refused (AUTHFAILED -115, or SESSIONCLOSEDREQUIRESASLAUTH -124 with
//    enforce.auth): requests queued on the dead handle are never answered by it (they are
//    dropped with the handle). After N such handles in a row (reset by a CONNECTED), Open()
//    starts the next one AuthRetryDelay(N) later (1 s doubling to 30 s), so a wrong
//    credential costs at most one server-side session per delay; Open() returns OK at once
//    and the C handle is made on the owner's thread when the delay is over (a failure then
//    is logged and reported as kExpired). Close() cancels a waiting start.
//  - TLS handshake failures are retried by the C client like an unreachable server; its
//    "error in ssl connect" lines get OpenSSL's reason appended.
//  - The C client's log goes to glog: ERROR -> LOG(ERROR), WARN ->
//    LOG(WARNING), INFO -> LOG(INFO) (its environment dump at VLOG(1)),
//    DEBUG -> VLOG(1). Its level is WARN unless set with SetZookeeperLogLevel.
//
// Thread-safety: as ZkClient (owner thread only). `callbacks.post` must be
// safe to call from any thread. The object may be destroyed on the owner's
// thread at any time; the destructor closes the handle.
#ifndef LATCHD_LIB_ZK_ZOOKEEPER_CLIENT_H_
#define LATCHD_LIB_ZK_ZOOKEEPER_CLIENT_H_

#include <memory>

#include "lib/zk/zk_client.h"

namespace latchd {

// Never fails; errors surface from Open() (e.g. zookeeper_init refusing the
// connect string: the Status names the connect string and errno).
std::unique_ptr<ZkClient> MakeZookeeperClient(ZkClientOptions options,
                                              ZkClientCallbacks callbacks);

// The C client's own log level (process-wide). Thread-safe. Without a call,
// the first MakeZookeeperClient sets kWarn.
enum class ZkLogLevel { kError, kWarn, kInfo, kDebug };
void SetZookeeperLogLevel(ZkLogLevel level);

}  // namespace latchd

#endif  // LATCHD_LIB_ZK_ZOOKEEPER_CLIENT_H_
