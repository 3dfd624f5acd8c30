// Validation of how the agent authenticates to ZooKeeper: the --zk_sasl_* and --zk_tls_*
// flags, and whether the auth (--zk_auth_file, Atlas's .auth) and the ACL (--zk_acl) can work
// together at all. Misconfiguration that could never work is refused at start, before
// anything touches ZooKeeper:
//  * a SASL or TLS flag in a build whose C client lacks it (Debian's libzookeeper-mt2);
//  * SASL and TLS together (the 3.8 C client cannot do SASL over TLS);
//  * a mechanism without what it needs (GSSAPI: a keytab; DIGEST-MD5: a user and a password),
//    a setting of the other mechanism, a partial TLS triple;
//  * a missing, unreadable or malformed keytab, password file, certificate, key or CA (the
//    key must be unencrypted and belong to the certificate);
//  * an auth whose scheme is not an addauth scheme: only `digest:user:password`, and
//    `sasl:<id>`, which means "authenticate with SASL" and needs the SASL settings (it is
//    consumed here: the id fills --zk_sasl_principal or --zk_sasl_user when those are empty);
//    `x509` comes from the TLS certificate and `ip` from the address, never from an auth;
//  * an ACL none of whose entries can ever match this agent (then it could create <zk_root>
//    but never its latch nodes): `auth:` without any authenticated identity, `sasl:` entries
//    without SASL, `x509:` entries without TLS, `digest:` entries whose hash is not the auth's.
//    world:anyone and ip: entries may match.
//
// Thread-safety: ValidateZkSecurity reads the named files (and, for a principal containing
// _HOST, this host's name); safe from any thread.
// Errors: one line naming the flag (or the auth's source), never a password.
#ifndef LATCHD_LIB_API_ZK_SECURITY_CONFIG_H_
#define LATCHD_LIB_API_ZK_SECURITY_CONFIG_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/util/status.h"
#include "lib/zk/zk_security.h"
#include "lib/zk/zk_types.h"

namespace latchd {

// The flags as given (strings, unparsed).
struct RawZkSecurity {
  std::string sasl_mechanism;  // GSSAPI | DIGEST-MD5 (any case) | empty
  std::string sasl_service = "zookeeper";
  std::string sasl_host;
  std::string sasl_user;
  std::string sasl_password_file;
  std::string sasl_keytab;
  std::string sasl_principal;  // "_HOST" is replaced by this host's canonical name
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // DIGEST-MD5's password from a configuration file that holds it already (Atlas's
  // atlas.jaas.Client.option.password via --atlas_properties); never a flag. A
  // --zk_sasl_password_file wins.
  std::string sasl_password_inline;
};

// The identity latchd would authenticate with: `auth` (scheme, secret) as parsed from the auth
// file or Atlas's .auth, `auth_source` the name used in messages ("--zk_auth_file", ...).
// On success *auth no longer holds a sasl: auth (it became the SASL options).
Result<ZkSecurityOptions> ValidateZkSecurity(const RawZkSecurity& raw,
                                             const std::vector<ZkAclEntry>& acl,
                                             std::optional<std::pair<std::string, std::string>>* auth,
                                             const std::string& auth_source,
                                             ZkClientFeatures features = BuiltZkClientFeatures());

// "atlas/_HOST@R" with `host` -> "atlas/<host>@R" (Hadoop's convention, which Atlas uses for
// its JAAS principals); `host` is lower-cased. Other text is returned unchanged.
std::string ExpandHostInPrincipal(const std::string& principal, const std::string& host);

// This host's canonical name (getaddrinfo AI_CANONNAME of gethostname()), lower-case; the
// plain host name when it does not resolve.
std::string CanonicalHostName();

}  // namespace latchd

#endif  // LATCHD_LIB_API_ZK_SECURITY_CONFIG_H_
