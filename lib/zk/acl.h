// ZooKeeper ACLs and credentials in Apache Atlas's configuration format.
//
// Atlas writes an ACL as a comma-separated list of `scheme:id` and an
// authentication as `scheme:auth`, both split at the FIRST ':' (so
// `digest:user:hash` is scheme "digest", id "user:hash").
//
// Thread-safety: all functions are pure (ReadAuthFile reads the file system
// and may log); call them from any thread.
// Errors: returned as values; each message is one line naming the bad entry or
// file. No message ever contains a password or other secret.
#ifndef LATCHD_LIB_ZK_ACL_H_
#define LATCHD_LIB_ZK_ACL_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/util/status.h"
#include "lib/zk/zk_types.h"

namespace latchd {

// Parses "scheme:id[,scheme:id...]". Whitespace around entries is trimmed;
// empty (or all-blank) text gives an empty list. Every entry gets kPermAll.
// Accepted schemes: world (id must be "anyone"), digest (id must be
// "user:<base64 SHA-1>", 28 characters), ip (IPv4 or IPv6 address with an
// optional "/bits" prefix length in range), sasl, x509 (non-empty id) and
// auth (id ignored by ZooKeeper, may be empty). Anything else is an error
// naming the entry, e.g. `--zk_acl: entry "foo" is not scheme:id`.
Result<std::vector<ZkAclEntry>> ParseAclList(std::string_view text);

// The ACL latchd puts on every node it creates: the configured entries with
// all permissions, plus world:anyone READ unless world:anyone is configured
// already. An empty configuration gives world:anyone ALL (open, like
// ZooKeeper's default).
std::vector<ZkAclEntry> AclForCreate(const std::vector<ZkAclEntry>& configured);

// Parses "scheme:auth" (split at the first ':'; both parts non-empty;
// surrounding whitespace, including a trailing newline, is trimmed).
// Returns {scheme, auth}. Error messages do not repeat the text.
Result<std::pair<std::string, std::string>> ParseAuth(std::string_view text);

// Reads "scheme:auth" from the first line of `path` (a trailing newline and
// blank lines after it are fine). Errors name the path: missing, unreadable,
// not a regular file, empty, malformed (larger than 64 KiB, more than one
// non-blank line, or not scheme:auth).
// If the file is readable by group or others it logs a WARNING naming the
// path and its mode, but still succeeds.
Result<std::pair<std::string, std::string>> ReadAuthFile(const std::string& path);

// ZooKeeper's digest id for a user and password:
// "user:" + base64(sha1("user:password")), as the server's
// DigestAuthenticationProvider computes it.
std::string DigestId(std::string_view user, std::string_view password);

// DigestId from "user:password" (split at the first ':'). Errors when there is
// no ':' or the user is empty; the message never contains the password.
Result<std::string> DigestIdFromCredentials(std::string_view user_colon_password);

}  // namespace latchd

#endif  // LATCHD_LIB_ZK_ACL_H_
