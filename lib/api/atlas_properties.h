// Apache Atlas's HA configuration (atlas-application.properties) as latchd
// flags, so one file configures both the Atlas servers and their agents.
//
// Three layers, each usable on its own:
//   ParseProperties       .properties text -> key/value map (no I/O)
//   ReadAtlasHaSettings   map -> the HA settings Atlas reads, validated (no I/O)
//   PickAtlasServerId     settings + this host's addresses -> the server id,
//                         the way Atlas's server picks its own (name resolution)
// and ApplyAtlasProperties, which reads a file and fills RawFlags from it
// without overriding flags given explicitly.
//
// Differences from Atlas (which reads the file with Apache Commons
// Configuration) are deliberate and documented in docs/atlas.md: a repeated
// key takes its LAST value; ${...} interpolation and "include" are not
// supported (a ${ in an HA value is an error); booleans are only true/false.
//
// Thread-safety: pure functions, except LocalAddresses (getifaddrs),
// PickAtlasServerId (getaddrinfo) and ApplyAtlasProperties (reads the file,
// both of the former); all are safe to call from any thread.
// Errors: one line naming the key (or line, or file) and the bad value; the
// values of atlas.server.ha.zookeeper.auth and of JAAS passwords (secrets) are
// never repeated.
#ifndef LATCHD_LIB_API_ATLAS_PROPERTIES_H_
#define LATCHD_LIB_API_ATLAS_PROPERTIES_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/api/agent_config.h"
#include "lib/util/status.h"

namespace latchd {

// Parses Java .properties text, the subset Atlas files use:
//  * lines end with "\n", "\r\n" or "\r"; leading blanks (space, tab, form
//    feed) are skipped; blank lines and lines whose first non-blank character
//    is '#' or '!' are comments (a comment never continues);
//  * a line ending in an odd number of backslashes continues on the next
//    line, whose leading blanks are skipped;
//  * the key ends at the first unescaped '=', ':' or blank; blanks, then one
//    '=' or ':', then blanks separate it from the value ("k=v", "k: v",
//    "k v"); the rest of the line, trailing blanks included, is the value;
//  * escapes in keys and values: \t \n \r \f, \uXXXX (UTF-8 encoded; a
//    surrogate pair gives one code point), and \c = c for any other c;
//  * a key that appears again replaces the earlier value (last wins).
// Errors: a malformed or unpaired \u escape, naming the line number.
Result<std::map<std::string, std::string>> ParseProperties(std::string_view text);

// The JAAS login section Atlas's ZooKeeper client uses: "Client", the ZooKeeper
// Java client's default, given in the properties file as atlas.jaas.Client.*
// (Atlas's InMemoryJAASConfiguration; atlas.jaas.Client.<n>.* for a numbered
// entry). Values are trimmed; empty values count as absent.
struct AtlasJaasClient {
  std::string prefix;             // "atlas.jaas.Client." or "atlas.jaas.Client.<n>."; empty: none
  std::string login_module;       // loginModuleName
  std::string control_flag;       // loginModuleControlFlag (Atlas's default: required)
  std::optional<bool> use_keytab; // option.useKeyTab (Krb5LoginModule's default: false)
  std::optional<bool> store_key;  // option.storeKey (no effect on a client)
  std::string keytab;             // option.keyTab
  std::string principal;          // option.principal (_HOST: this host's name, at validation)
  std::string service_name;       // option.serviceName
  std::string username;           // option.username (DigestLoginModule)
  std::string password;           // option.password (DigestLoginModule); a secret
  std::vector<std::string> unmapped;  // the section's other keys (full names)
  bool present() const { return !prefix.empty(); }
};

// The HA settings of an Atlas server, as Atlas reads them. Values are trimmed
// (Atlas trims them too).
struct AtlasHaSettings {
  bool enabled = false;                 // atlas.server.ha.enabled (default false)
  std::vector<std::string> server_ids;  // atlas.server.ids, in order
  // atlas.server.address.<id> ("host:port" or "[v6]:port") for each id that
  // has one; with HA enabled every id has one.
  std::map<std::string, std::string> server_addresses;
  // atlas.server.ha.zookeeper.connect, or (as Atlas does) atlas.kafka.
  // zookeeper.connect when it is not set; empty if neither is.
  std::string zk_connect;
  bool zk_connect_from_kafka = false;   // zk_connect came from atlas.kafka.zookeeper.connect
  std::string zk_root = "/apache_atlas";  // .zkroot
  int zk_session_timeout_ms = 20000;      // .session.timeout.ms
  int zk_num_retries = 3;                 // .num.retries (not used by latchd)
  int zk_retry_sleep_ms = 1000;           // .retry.sleeptime.ms (not used by latchd)
  std::string zk_acl;                     // .acl, empty if not set
  std::string zk_auth;                    // .auth ("scheme:auth", a secret), empty if not set
  // TLS and the server's own port, by Atlas's rules: atlas.enableTLS unset or
  // exactly "true" -> the port is atlas.server.https.port (default 21443),
  // otherwise atlas.server.http.port (default 21000); TLS is enableTLS
  // (true/false, any case) or, when unset, whether the port ends in 443.
  bool tls = false;
  int app_port = 21443;
  // The ZooKeeper client's JAAS section, and the security keys latchd does not
  // follow: JAAS keys of other sections (atlas.jaas.KafkaClient.*, ...), of a
  // Client entry without loginModuleName (Atlas skips it too), and ZooKeeper
  // Java client TLS/SASL system properties written into the file
  // (zookeeper.ssl.*, zookeeper.client.secure, zookeeper.clientCnxnSocket,
  // zookeeper.sasl.*), which Atlas does not read from it either.
  AtlasJaasClient jaas;
  struct UnusedKey {
    std::string key;
    std::string why;  // never the value
  };
  std::vector<UnusedKey> unused_security_keys;
  // Which HA keys were present (for notes and for "explicit flag overrides").
  std::vector<std::string> keys_present;

  std::string scheme() const { return tls ? "https" : "http"; }
};

// Extracts and checks the HA settings. Bad values are errors naming the key:
// a boolean other than true/false (any case), a non-integer or negative
// integer, an empty or duplicated id in atlas.server.ids, an address that is
// not host:port, a value using ${...} interpolation, more than one login
// module in atlas.jaas.Client (latchd can follow one). With HA enabled, ids, an
// address for every id and a ZooKeeper connect string are required. With HA
// disabled nothing is required (the values present are still checked).
Result<AtlasHaSettings> ReadAtlasHaSettings(const std::map<std::string, std::string>& props);

// This host's IP addresses (IPv4 and IPv6, loopback included), numeric,
// without IPv6 scope suffixes, each once. Empty if getifaddrs fails.
std::vector<std::string> LocalAddresses();

// The first id (in atlas.server.ids order) whose address's host resolves
// (getaddrinfo: a numeric address or a name) to one of `local_addresses` and,
// if atlas_port > 0, whose port is atlas_port (any port otherwise). Addresses
// compare by value: "::ffff:10.0.0.1" equals "10.0.0.1", scope suffixes are
// ignored. Errors: HA disabled; no id matches (the message lists each id's
// address and why it did not match).
Result<std::string> PickAtlasServerId(const AtlasHaSettings& settings,
                                      const std::vector<std::string>& local_addresses,
                                      int atlas_port);

// Whether a latchd flag (by name, e.g. "zk_root") was given explicitly.
using FlagIsExplicit = std::function<bool(const std::string& flag)>;

// Fills `flags` from Atlas's settings; a flag given explicitly is never
// changed (a note says when its value differs from the file's):
//   id         <- PickAtlasServerId(settings, local_addresses, app_port)
//   advertise  <- scheme://atlas.server.address.<id>
//   zk_connect <- atlas.server.ha.zookeeper.connect
//   zk_root    <- .zkroot (always: its default /apache_atlas differs from latchd's)
//   zk_session_timeout_ms <- .session.timeout.ms (always: default 20000)
//   zk_acl     <- .acl
// atlas.server.ha.zookeeper.auth (a secret) goes to flags->zk_auth_inline
// unless --zk_auth_file is given explicitly (which wins). A sasl: auth is no
// addauth scheme: it names the SASL identity, and needs SASL settings (from
// the JAAS section or the --zk_sasl_* flags; validation refuses it without).
//
// The JAAS section atlas.jaas.Client becomes flags->zk_security, each field
// unless its flag is given explicitly:
//   loginModuleName com.sun.security.auth.module.Krb5LoginModule
//                          -> --zk_sasl_mechanism=GSSAPI, and then
//     option.keyTab        -> --zk_sasl_keytab (needs option.useKeyTab=true:
//                             Krb5LoginModule ignores keyTab otherwise, and
//                             latchd cannot use a ticket cache)
//     option.principal     -> --zk_sasl_principal
//   loginModuleName org.apache.zookeeper.server.auth.DigestLoginModule
//                          -> --zk_sasl_mechanism=DIGEST-MD5, and then
//     option.username      -> --zk_sasl_user
//     option.password      -> zk_security.sasl_password_inline (in memory
//                             only; --zk_sasl_password_file wins)
//   option.serviceName     -> --zk_sasl_service (both)
//   option.storeKey, loginModuleControlFlag: understood, no effect here.
// An explicit --zk_sasl_mechanism naming the other mechanism leaves the
// section unused (a note says so). Refused, naming the key: another login
// module (without an explicit --zk_sasl_mechanism), a Kerberos section
// without option.keyTab or with option.useKeyTab not true, a DIGEST-MD5
// section without option.username (and no sasl: auth to name the user) or
// option.password (and no --zk_sasl_password_file). Each value's origin goes
// to zk_security.origin and flags->zk_security.sasl_hint names the JAAS keys,
// so later messages (a missing keytab, a sasl: ACL without SASL) name the key
// and the file.
//
// Every other JAAS key and every ZooKeeper client TLS/SASL key of the file
// (unused_security_keys, AtlasJaasClient::unmapped) gets a note of its own
// starting with "warning: " (the key's name, never its value).
// .num.retries and .retry.sleeptime.ms have no latchd equivalent (it retries
// forever): a note says so when they are set. Values taken from the file are
// checked like the flags (CheckId, CheckConnectString, CheckZkRoot, ...) and
// errors name the key and `source`. `notes` (may be null) receives one line
// per decision worth logging; none contains a secret.
Status ApplyAtlasSettings(const AtlasHaSettings& settings, const std::string& source,
                          const std::vector<std::string>& local_addresses,
                          const FlagIsExplicit& is_set_explicitly, RawFlags* flags,
                          std::vector<std::string>* notes = nullptr);

// Reads `path` (errors name it), parses it, and applies it with this host's
// LocalAddresses(). See ApplyAtlasSettings.
Status ApplyAtlasProperties(const std::string& path, const FlagIsExplicit& is_set_explicitly,
                            RawFlags* flags, std::vector<std::string>* notes = nullptr);

}  // namespace latchd

#endif  // LATCHD_LIB_API_ATLAS_PROPERTIES_H_
