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
// Values taken from a configuration file instead of a flag (Atlas's JAAS keys through
// --atlas_properties) are named in messages by where they came from (RawZkSecurity::origin),
// e.g. "atlas.jaas.Client.option.keyTab in /etc/atlas/conf/atlas-application.properties:
// /etc/security/keytabs/atlas.service.keytab does not exist".
//
// The DIGEST-MD5 password may come inline from such a file (sasl_password_inline): accepted
// only with DIGEST-MD5, only when --zk_sasl_password_file is not given (the file wins), and
// non-empty. It is kept in memory only: never written to a file, a log line, /status or a
// message.
//
// Thread-safety: ValidateZkSecurity reads the named files (and, for a principal containing
// _HOST, this host's name); safe from any thread.
// Errors: one line naming the flag (or the auth's source, or a value's origin), never a
// password.
#ifndef LATCHD_LIB_API_ZK_SECURITY_CONFIG_H_
#define LATCHD_LIB_API_ZK_SECURITY_CONFIG_H_

#include <map>
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
  // Where settings not given as flags came from, for messages: the flag's name without "--"
  // ("zk_sasl_keytab", ...; "zk_sasl_password" for sasl_password_inline, "zk_acl" for the
  // ACL, "zk_auth" for an auth taken from the configuration file) -> a description such as
  // "atlas.jaas.Client.option.keyTab in <file>". A message about such a setting names its
  // origin instead of --<flag>; the origin of "zk_auth" replaces ValidateZkSecurity's
  // auth_source.
  std::map<std::string, std::string> origin;
  // How the configuration file could give the SASL settings (e.g. Atlas's atlas.jaas.Client
  // keys), named before the flags when a message says SASL settings are missing; may be empty.
  std::string sasl_hint;
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
