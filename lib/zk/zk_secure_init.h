// The adapter's way to make a C-client handle for a ZkSecurityOptions: zookeeper_init2
// without SASL or TLS, zookeeper_init_sasl for SASL, zookeeper_init_ssl for TLS (the 3.8 C
// client has no entry point for both; validation refuses that combination).
//
// What a SASL handle does (the C client's behaviour, ZOOKEEPER-1112): after every
// connection's handshake, including each reconnect, it authenticates before it sends
// anything else, and it sends the requests queued meanwhile once that succeeded. When the
// server refuses (the server answers AUTHFAILED -115, or SESSIONCLOSEDREQUIRESASLAUTH -124
// with enforce.auth, and closes) or the client side fails (GSSAPI: no ticket), the handle
// becomes ZOO_AUTH_FAILED_STATE and its I/O thread stops, but no watcher is told: the adapter
// (lib/zk/zookeeper_client.h) watches for that state.
//
// Thread-safety: Make modifies the process environment (GSSAPI: KRB5_CLIENT_KTNAME and
// KRB5CCNAME) and initializes Cyrus SASL once per process; call it from the owner's thread
// before the handles it makes can run. Open may be called from one thread at a time. The
// object must outlive every handle it opened (the SASL callbacks point into it).
// Errors: Make returns a Status naming what failed (no SASL or TLS in this build,
// sasl_client_init, an unparsable principal); Open returns null with errno set, as
// zookeeper_init does.
#ifndef LATCHD_LIB_ZK_ZK_SECURE_INIT_H_
#define LATCHD_LIB_ZK_ZK_SECURE_INIT_H_

#include <zookeeper/zookeeper.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/util/status.h"
#include "lib/zk/zk_security.h"

namespace latchd {

class ZkHandleFactory {
 public:
  // For GSSAPI: KRB5_CLIENT_KTNAME=FILE:<keytab> and KRB5CCNAME=MEMORY:latchd-zookeeper, a
  // process-private credential cache that, with a principal given, is initialized with it:
  // the GSSAPI library then gets that principal's tickets from the keytab and renews them
  // before they expire (without a principal: the keytab's first).
  static Result<std::unique_ptr<ZkHandleFactory>> Make(const ZkSecurityOptions& options);
  ~ZkHandleFactory();

  ZkHandleFactory(const ZkHandleFactory&) = delete;
  ZkHandleFactory& operator=(const ZkHandleFactory&) = delete;

  // zookeeper_init2's arguments. A TLS handle gets `log` with zoo_set_log_callback right after
  // zookeeper_init_ssl (which takes none): its first lines may reach stderr instead.
  zhandle_t* Open(const char* connect, watcher_fn watcher, int recv_timeout_ms,
                  const clientid_t* clientid, void* context, int flags, log_callback_fn log);

  // True for SASL handles (whose authentication failures are silent, see above).
  bool sasl() const { return options_.sasl.enabled(); }
  const ZkSecurityOptions& options() const { return options_; }

 private:
  explicit ZkHandleFactory(ZkSecurityOptions options);
  Status Prepare();

  ZkSecurityOptions options_;
  struct SaslState;                   // callbacks and what they point to
  std::unique_ptr<SaslState> sasl_;   // set for SASL
  std::string tls_param_;             // "ca,cert,key" for zookeeper_init_ssl
};

}  // namespace latchd

#endif  // LATCHD_LIB_ZK_ZK_SECURE_INIT_H_
