// How latchd authenticates to ZooKeeper beyond `addauth`: SASL (Kerberos GSSAPI or
// DIGEST-MD5) or TLS with a client certificate, and what this build's C client can do.
//
// The options are plain values, validated by lib/api/zk_security_config.h and used by the
// adapter (lib/zk/zk_secure_init.h). The ZooKeeper 3.8 C client has separate entry points
// for SASL (zookeeper_init_sasl) and TLS (zookeeper_init_ssl): a handle is either SASL or TLS,
// never SASL over TLS, so validation refuses options that set both.
//
// Thread-safety: plain values and pure functions.
// Errors: none here (see the validation).
#ifndef LATCHD_LIB_ZK_ZK_SECURITY_H_
#define LATCHD_LIB_ZK_ZK_SECURITY_H_

#include <string>

namespace latchd {

enum class SaslMechanism { kNone, kGssapi, kDigestMd5 };

// "GSSAPI", "DIGEST-MD5", or "" for kNone: Cyrus SASL's mechanism names.
const char* SaslMechanismName(SaslMechanism mechanism);

struct ZkSaslOptions {
  SaslMechanism mechanism = SaslMechanism::kNone;  // kNone: no SASL
  std::string service = "zookeeper";  // the server principal's service part
  // The server name given to SASL. Empty: GSSAPI uses the address of the server connected to
  // (Kerberos canonicalizes it, by reverse DNS unless krb5.conf says rdns = false), DIGEST-MD5
  // uses "zk-sasl-md5" (the Java server's fixed name). One name for every server.
  std::string host;
  std::string user;           // DIGEST-MD5: the user (a JAAS user_<name> of the servers)
  std::string password_file;  // DIGEST-MD5: its first line is the password (read per login)
  std::string password;       // DIGEST-MD5: the password itself, when it came from a
                              // configuration file (Atlas's JAAS options); a secret
  std::string keytab;         // GSSAPI: the client keytab (initial tickets and their renewal)
  std::string principal;      // GSSAPI: the client principal; empty: the keytab's first
  bool enabled() const { return mechanism != SaslMechanism::kNone; }
};

// PEM files for zookeeper_init_ssl: the CA that signed the servers' certificates, this
// client's certificate (chain) and its unencrypted private key.
struct ZkTlsOptions {
  std::string ca;
  std::string cert;
  std::string key;
  bool enabled() const { return !ca.empty(); }
};

struct ZkSecurityOptions {
  ZkSaslOptions sasl;
  ZkTlsOptions tls;
};

// One line for logs, no secret: e.g. "SASL GSSAPI as atlas/h1.example.com@EXAMPLE.COM
// (keytab /etc/latchd/latchd.keytab, service zookeeper)", "TLS (certificate /etc/...)",
// or "no SASL or TLS".
std::string DescribeZkSecurity(const ZkSecurityOptions& options);

// What the ZooKeeper C client this code is compiled against offers: both with the client
// built by scripts/build-zk-client.sh (zookeeper.h declares the entry points behind
// HAVE_CYRUS_SASL_H / HAVE_OPENSSL_H, which cmake/zookeeper.cmake defines), neither with
// Debian's libzookeeper-mt2.
struct ZkClientFeatures {
  bool sasl = false;
  bool tls = false;
};
constexpr ZkClientFeatures BuiltZkClientFeatures() {
  ZkClientFeatures f;
#ifdef HAVE_CYRUS_SASL_H
  f.sasl = true;
#endif
#ifdef HAVE_OPENSSL_H
  f.tls = true;
#endif
  return f;
}

}  // namespace latchd

#endif  // LATCHD_LIB_ZK_ZK_SECURITY_H_
