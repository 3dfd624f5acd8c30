// Fuzzes the Atlas properties reader (lib/api/atlas_properties.h).
// Checks: no crash or UB; parse errors name a line and are one line; the
// parsed map survives a round trip (written back with escapes, parsed again:
// same map); accepted HA settings satisfy their contract (ids unique and
// non-empty, each id has a host:port address when HA is on, a connect string
// and zkroot latchd accepts, a port in range, a JAAS Client section only with
// a login module); ReadAtlasHaSettings errors are one line and do not depend
// on the secrets (the same file with the secrets disguised -- the auth's
// password part, JAAS option.password values -- gives the same
// messages); ApplyAtlasSettings' messages and notes are one line and do not
// depend on the secrets either, and a note starting with "warning: " names a
// key of the file; whatever ApplyAtlasSettings takes from the file passes
// ValidateFlags, or ValidateFlags refuses it in one line naming the key in
// the file ("<key> in fuzz.properties: ..."; checks that read files, such as
// a keytab's, are done there). No name resolution is done: the server id is
// picked only when every address is numeric, and _HOST in a principal is
// replaced before ValidateFlags (which would look up this host's name).
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "lib/api/atlas_properties.h"

namespace {

using latchd::fuzz::Show;

// Writes a map back as .properties text that ParseProperties reads as the same map.
std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\f': out += "\\f"; break;
      case '=': case ':': case '#': case '!': case ' ': out.push_back('\\'); out.push_back(c); break;
      default: out.push_back(c);
    }
  }
  return out;
}

bool NumericHost(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A JAAS password (atlas.jaas.<section>[.<n>].option.password).
bool IsPasswordKey(std::string_view key) {
  return key.rfind("atlas.jaas.", 0) == 0 && key.size() >= 16 &&
         key.substr(key.size() - 16) == ".option.password";
}

void CheckOneLine(const std::string& m) {
  FUZZ_CHECK(m.find('\n') == std::string::npos && m.find('\r') == std::string::npos,
             "message spans lines: " + Show(m));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto props = latchd::ParseProperties(text);
  if (!props.ok()) {
    const std::string m = props.status().message();
    FUZZ_CHECK(m.rfind("line ", 0) == 0, "parse error does not name a line: " + Show(m));
    CheckOneLine(m);
    return 0;
  }

  std::string written;
  for (const auto& [k, v] : *props) written += Escape(k) + "=" + Escape(v) + "\n";
  auto again = latchd::ParseProperties(written);
  FUZZ_CHECK(again.ok(), "written-back text does not parse: " + Show(written));
  FUZZ_CHECK(*again == *props, "round trip changed the map: " + Show(written));

  // The same file with the secrets disguised: every message and note must be
  // the same for both (they must not show a secret).
  auto props2 = *props;
  bool has_secret = false;
  for (auto& [key, value] : props2) {
    std::string disguised = value;
    if (key == "atlas.server.ha.zookeeper.auth") {
      // Scheme and user are no secret (messages name them); the rest is.
      size_t colon = value.find(':');
      if (colon != std::string::npos && value.compare(0, colon, "sasl") != 0) {
        size_t cut = colon + 1;
        if (value.compare(0, colon, "digest") == 0) {
          size_t second = value.find(':', cut);
          cut = second == std::string::npos ? value.size() : second + 1;
        }
        disguised = value.substr(0, cut) + latchd::fuzz::Disguise(value.substr(cut));
      }
    } else if (IsPasswordKey(key)) {
      disguised = latchd::fuzz::Disguise(value);
    }
    if (disguised != value) {
      value = disguised;
      has_secret = true;
    }
  }

  auto settings = latchd::ReadAtlasHaSettings(*props);
  if (!settings.ok()) {
    const std::string m = settings.status().message();
    CheckOneLine(m);
    if (has_secret) {
      auto again = latchd::ReadAtlasHaSettings(props2);
      FUZZ_CHECK(!again.ok() && again.status().message() == m,
                 "error depends on the auth secret: " + Show(m));
    }
    return 0;
  }
  const latchd::AtlasHaSettings& s = *settings;
  for (size_t i = 0; i < s.server_ids.size(); ++i) {
    FUZZ_CHECK(!s.server_ids[i].empty(), "empty id");
    for (size_t j = 0; j < i; ++j) FUZZ_CHECK(s.server_ids[i] != s.server_ids[j], "duplicate id");
    if (s.enabled) FUZZ_CHECK(s.server_addresses.count(s.server_ids[i]), "id without address");
  }
  if (s.enabled) {
    FUZZ_CHECK(!s.server_ids.empty(), "HA on without ids");
    FUZZ_CHECK(!s.zk_connect.empty(), "HA on without connect string");
  }
  if (!s.zk_connect.empty()) {
    FUZZ_CHECK(latchd::CheckConnectString(s.zk_connect).ok(), "bad connect accepted: " + Show(s.zk_connect));
  }
  FUZZ_CHECK(latchd::CheckZkRoot(s.zk_root).ok(), "bad zkroot accepted: " + Show(s.zk_root));
  FUZZ_CHECK(s.app_port >= 1 && s.app_port <= 65535, "port out of range");
  FUZZ_CHECK(s.zk_session_timeout_ms >= 1 && s.zk_num_retries >= 0 && s.zk_retry_sleep_ms >= 0,
             "negative integer accepted");
  if (s.jaas.present()) {
    FUZZ_CHECK(!s.jaas.login_module.empty(), "JAAS Client section without a login module");
    FUZZ_CHECK(s.jaas.prefix.rfind("atlas.jaas.Client.", 0) == 0, "JAAS prefix " + Show(s.jaas.prefix));
  }

  // Apply with valid explicit values for the flags the last byte selects; the
  // id is always explicit unless every address is numeric (no DNS here).
  bool numeric = !s.server_addresses.empty();
  for (const auto& [id, address] : s.server_addresses) numeric = numeric && NumericHost(address);
  unsigned mask = size > 0 ? data[size - 1] : 0;
  const char* kFlags[] = {"advertise", "zk_connect", "zk_root", "zk_session_timeout_ms",
                          "zk_acl", "zk_auth_file"};
  latchd::RawFlags flags;
  flags.id = "fuzz";
  flags.advertise = "http://fuzz:21000";
  flags.zk_connect = "zk:2181";
  flags.zk_root = "/fuzz";
  flags.zk_session_timeout_ms = 5000;
  bool id_explicit = !numeric || (mask & 0x80) == 0;
  auto is_explicit = [&](const std::string& flag) {
    if (flag == "id") return id_explicit;
    for (int i = 0; i < 6; ++i) {
      if (flag == kFlags[i]) return (mask & (1u << i)) != 0;
    }
    return false;
  };
  latchd::RawFlags flags_before = flags;
  std::vector<std::string> notes;
  latchd::Status applied =
      latchd::ApplyAtlasSettings(s, "fuzz.properties", {"127.0.0.1", "::1"}, is_explicit, &flags, &notes);
  for (const auto& n : notes) {
    CheckOneLine(n);
    if (n.rfind("warning: ", 0) == 0) {
      FUZZ_CHECK(n.find(" in fuzz.properties is not used: ") != std::string::npos ||
                     n.find(" in fuzz.properties: ") != std::string::npos,
                 "a warning that names no key of the file: " + Show(n));
    }
  }
  if (!applied.ok()) CheckOneLine(applied.message());
  if (has_secret) {
    auto s2 = latchd::ReadAtlasHaSettings(props2);
    FUZZ_CHECK(s2.ok(), "disguising the secret made the settings invalid");
    latchd::RawFlags flags2 = flags_before;
    std::vector<std::string> notes2;
    latchd::Status applied2 = latchd::ApplyAtlasSettings(
        *s2, "fuzz.properties", {"127.0.0.1", "::1"}, is_explicit, &flags2, &notes2);
    FUZZ_CHECK(applied2.ok() == applied.ok() && applied2.message() == applied.message() &&
                   notes2 == notes,
               "a message or note depends on the auth secret: " + Show(applied.message()));
  }
  if (!applied.ok()) return 0;
  if (!id_explicit) {
    FUZZ_CHECK(flags.id != "fuzz" && s.server_addresses.count(flags.id), "picked id has no address");
  }
  // _HOST would make validation look up this host's name.
  std::string& principal = flags.zk_security.sasl_principal;
  for (size_t at; (at = principal.find("_HOST")) != std::string::npos;) principal.replace(at, 5, "h");
  auto config = latchd::ValidateFlags(flags);
  if (!config.ok()) {
    const std::string m = config.status().message();
    CheckOneLine(m);
    // A value of the file refused where the flags' values are checked: named by its key.
    FUZZ_CHECK(m.find(" in fuzz.properties: ") != std::string::npos,
               "applied flags do not validate, and the message names no key of the file: " + Show(m));
  }
  return 0;
}
