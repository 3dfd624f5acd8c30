// Fuzzes Atlas-format ACL and auth parsing (lib/zk/acl.h).
// Checks: no crash or UB; an accepted ACL has one entry per comma-separated
// part, known schemes only, all permissions, and AclForCreate adds world READ
// exactly when world:anyone is missing; an accepted auth splits the trimmed
// text at its first ':'; error messages are one line (known issue ACL-1:
// ParseAclList quotes the entry verbatim) and auth/credential errors never
// depend on the secret (the same text with the secret disguised gives the
// same message).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "lib/zk/acl.h"

namespace {

using latchd::fuzz::Show;

std::string_view TrimWs(std::string_view s) {
  constexpr std::string_view kWs = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(kWs);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kWs) - b + 1);
}

void CheckAcl(std::string_view text) {
  auto acl = latchd::ParseAclList(text);
  if (!acl.ok()) {
    const std::string m = acl.status().message();
    FUZZ_CHECK(m.rfind("--zk_acl: ", 0) == 0, "ACL error does not name the flag: " + Show(m));
    FUZZ_KNOWN("ACL-1", m.find('\n') == std::string::npos && m.find('\r') == std::string::npos,
               "ACL error message spans lines: " + Show(m));
    return;
  }
  if (TrimWs(text).empty()) {
    FUZZ_CHECK(acl->empty(), "blank ACL gave entries");
  } else {
    size_t parts = static_cast<size_t>(std::count(text.begin(), text.end(), ',')) + 1;
    FUZZ_CHECK(acl->size() == parts, "entry count differs from parts: " + Show(text));
  }
  bool has_world = false;
  for (const auto& e : *acl) {
    FUZZ_CHECK(e.perms == latchd::kPermAll, "entry without ALL");
    FUZZ_CHECK(e.scheme == "world" || e.scheme == "digest" || e.scheme == "ip" ||
                   e.scheme == "sasl" || e.scheme == "x509" || e.scheme == "auth",
               "unknown scheme accepted: " + Show(e.scheme));
    FUZZ_CHECK(e.scheme.find(':') == std::string::npos, "scheme contains ':'");
    if (e.scheme == "world") FUZZ_CHECK(e.id == "anyone", "world id " + Show(e.id));
    if (e.scheme == "sasl" || e.scheme == "x509" || e.scheme == "digest") {
      FUZZ_CHECK(!e.id.empty(), "empty id for " + e.scheme);
    }
    if (e.scheme == "world" && e.id == "anyone") has_world = true;
  }
  auto create = latchd::AclForCreate(*acl);
  if (acl->empty()) {
    FUZZ_CHECK(create.size() == 1 && create[0].scheme == "world" &&
                   create[0].perms == latchd::kPermAll,
               "empty ACL must give world ALL");
  } else {
    FUZZ_CHECK(create.size() == acl->size() + (has_world ? 0 : 1), "AclForCreate size");
    if (!has_world) {
      FUZZ_CHECK(create.back().scheme == "world" && create.back().id == "anyone" &&
                     create.back().perms == latchd::kPermRead,
                 "AclForCreate must add world READ");
    }
  }
}

void CheckAuth(std::string_view text) {
  auto auth = latchd::ParseAuth(text);
  std::string_view trimmed = TrimWs(text);
  if (auth.ok()) {
    size_t colon = trimmed.find(':');
    FUZZ_CHECK(colon != std::string_view::npos && colon > 0 && colon + 1 < trimmed.size(),
               "accepted auth without scheme:auth: " + Show(text));
    FUZZ_CHECK(auth->first == trimmed.substr(0, colon) && auth->second == trimmed.substr(colon + 1),
               "auth split differs: " + Show(text));
    return;
  }
  const std::string m = auth.status().message();
  FUZZ_CHECK(m.rfind("--zk_auth: expected scheme:auth (", 0) == 0, "auth error: " + Show(m));
  // The message must not depend on the secret (the text after the first ':').
  size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    std::string other = std::string(text.substr(0, colon + 1)) +
                        latchd::fuzz::Disguise(text.substr(colon + 1));
    auto again = latchd::ParseAuth(other);
    FUZZ_CHECK(!again.ok() && again.status().message() == m,
               "auth error depends on the secret: " + Show(m));
  }
}

void CheckCredentials(std::string_view text) {
  auto id = latchd::DigestIdFromCredentials(text);
  size_t colon = text.find(':');
  if (!id.ok()) {
    // The message must not depend on the password.
    if (colon != std::string_view::npos) {
      std::string other = std::string(text.substr(0, colon + 1)) +
                          latchd::fuzz::Disguise(text.substr(colon + 1));
      auto again = latchd::DigestIdFromCredentials(other);
      FUZZ_CHECK(!again.ok() && again.status().message() == id.status().message(),
                 "credential error depends on the password: " + Show(id.status().message()));
    }
    return;
  }
  FUZZ_CHECK(colon != std::string_view::npos && colon > 0, "accepted credentials without user");
  std::string_view user = text.substr(0, colon);
  FUZZ_CHECK(id->size() == user.size() + 1 + 28 && id->compare(0, user.size() + 1,
                                                                std::string(user) + ":") == 0,
             "digest id shape: " + Show(*id));
  // The id is a valid digest ACL entry whenever the user has no ACL separators.
  if (user.find_first_of(", \t\r\n\v\f") == std::string_view::npos) {
    auto acl = latchd::ParseAclList("digest:" + *id);
    FUZZ_CHECK(acl.ok(), "DigestId not accepted by ParseAclList: " + Show(*id) + " " +
                             (acl.ok() ? "" : acl.status().message()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckAcl(text);
  CheckAuth(text);
  if (size < 4096) CheckCredentials(text);
  return 0;
}
