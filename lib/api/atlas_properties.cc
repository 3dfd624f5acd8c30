#include "lib/api/atlas_properties.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "lib/util/one_line.h"
#include "lib/util/read_file.h"
#include "lib/zk/acl.h"
#include "lib/util/strings.h"
#include "lib/zk/zk_security.h"

namespace latchd {
namespace {

constexpr std::string_view kHaEnabled = "atlas.server.ha.enabled";
constexpr std::string_view kServerIds = "atlas.server.ids";
constexpr std::string_view kAddressPrefix = "atlas.server.address.";
constexpr std::string_view kZkConnect = "atlas.server.ha.zookeeper.connect";
constexpr std::string_view kKafkaZkConnect = "atlas.kafka.zookeeper.connect";
constexpr std::string_view kZkRoot = "atlas.server.ha.zookeeper.zkroot";
constexpr std::string_view kSessionTimeout = "atlas.server.ha.zookeeper.session.timeout.ms";
constexpr std::string_view kNumRetries = "atlas.server.ha.zookeeper.num.retries";
constexpr std::string_view kRetrySleep = "atlas.server.ha.zookeeper.retry.sleeptime.ms";
constexpr std::string_view kZkAcl = "atlas.server.ha.zookeeper.acl";
constexpr std::string_view kZkAuth = "atlas.server.ha.zookeeper.auth";
constexpr std::string_view kEnableTls = "atlas.enableTLS";
constexpr std::string_view kHttpPort = "atlas.server.http.port";
constexpr std::string_view kHttpsPort = "atlas.server.https.port";
// Atlas's JAAS configuration (InMemoryJAASConfiguration) and the section its ZooKeeper
// client logs in with (the ZooKeeper Java client's default, "Client").
constexpr std::string_view kJaasPrefix = "atlas.jaas.";
constexpr std::string_view kJaasZkSection = "Client";
constexpr std::string_view kKrb5LoginModule = "com.sun.security.auth.module.Krb5LoginModule";
constexpr std::string_view kDigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule";
constexpr int kDefaultHttpPort = 21000;
constexpr int kDefaultHttpsPort = 21443;
// latchd's --zk_session_timeout_ms range (ValidateFlags).
constexpr int kMinSessionTimeoutMs = 1000;
constexpr int kMaxSessionTimeoutMs = 600000;
// A properties file larger than this is refused (Atlas's are a few KiB).
constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;
// Values quoted in messages are cut after this many bytes.
constexpr size_t kMaxQuoted = 120;

// ---- Text helpers -----------------------------------------------------------

bool IsPropertiesBlank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

std::string_view SkipBlanks(std::string_view s) {
  while (!s.empty() && IsPropertiesBlank(s.front())) s.remove_prefix(1);
  return s;
}

// Java's String.trim(): everything up to and including ' ' goes.
// A value for a one-line message: quoted, control characters escaped, cut.
std::string Quote(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == kMaxQuoted) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out += "\"";
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Reads the 4 hex digits of a \u escape starting at s[pos]; nullopt if malformed.
std::optional<uint32_t> HexQuad(std::string_view s, size_t pos) {
  if (pos + 4 > s.size()) return std::nullopt;
  uint32_t v = 0;
  for (size_t i = pos; i < pos + 4; ++i) {
    char c = s[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

// Decodes the escapes of a key or value (see ParseProperties).
Result<std::string> Unescape(std::string_view s, int line) {
  auto bad = [line](const std::string& what) {
    return Status::Error("line " + std::to_string(line) + ": " + what);
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) break;  // a lone trailing backslash is dropped
    char c = s[i];
    switch (c) {
      case 't': out.push_back('\t'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 'f': out.push_back('\f'); break;
      case 'u': {
        std::optional<uint32_t> unit = HexQuad(s, i + 1);
        if (!unit) {
          return bad("malformed \\uXXXX escape " + Quote(s.substr(i - 1, 6)));
        }
        i += 4;
        uint32_t cp = *unit;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
          return bad("\\u" + std::string(s.substr(i - 3, 4)) + " is a low surrogate without a high one");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
          std::optional<uint32_t> low;
          if (i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u') low = HexQuad(s, i + 3);
          if (!low || *low < 0xdc00 || *low > 0xdfff) {
            return bad("\\u" + std::string(s.substr(i - 3, 4)) +
                       " is a high surrogate not followed by a \\u low surrogate");
          }
          i += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (*low - 0xdc00);
        }
        AppendUtf8(cp, &out);
        break;
      }
      default: out.push_back(c); break;
    }
  }
  return out;
}

// ---- Value helpers ------------------------------------------------------------

using Props = std::map<std::string, std::string>;

const std::string* Find(const Props& props, std::string_view key) {
  auto it = props.find(std::string(key));
  return it == props.end() ? nullptr : &it->second;
}

Status KeyError(std::string_view key, const std::string& what) {
  return Status::Error(OneLine(key) + ": " + what);  // an id in the key may hold anything
}

// The trimmed value of `key`, nullopt if absent. ${...} is refused: Atlas
// would interpolate it, latchd cannot know what it expands to.
Result<std::optional<std::string>> Value(const Props& props, std::string_view key,
                                         bool secret = false) {
  const std::string* raw = Find(props, key);
  if (raw == nullptr) return std::optional<std::string>();
  std::string v(TrimBlanksAndControls(*raw));
  if (v.find("${") != std::string::npos) {
    return KeyError(key, (secret ? std::string("the value") : Quote(v)) +
                             " uses ${...} interpolation, which latchd does not expand: "
                             "write the value itself");
  }
  return std::optional<std::string>(std::move(v));
}

Result<bool> ParseBool(std::string_view key, const std::string& v) {
  std::string lower(v);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true") return true;
  if (lower == "false") return false;
  return KeyError(key, Quote(v) + " is not true or false");
}

Result<int> ParseInt(std::string_view key, const std::string& v, int min, int max) {
  std::string_view digits = v;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return KeyError(key, Quote(v) + " is not an integer");
  }
  if (n < min || n > max) {
    return KeyError(key, Quote(v) + " is out of range " + std::to_string(min) + ".." +
                             std::to_string(max));
  }
  return n;
}

struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = 0;
};

// "host:port" or "[v6]:port" with a port in 1..65535.
std::optional<HostPort> SplitHostPort(std::string_view hp) {
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = hp.substr(0, colon);
  std::string_view port = hp.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 address needs brackets
  }
  for (char c : host) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '/' || c == ',' || c == '[' || c == ']') return std::nullopt;
  }
  HostPort out;
  out.host = std::string(host);
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || out.port < 1 ||
      out.port > 65535) {
    return std::nullopt;
  }
  return out;
}

// A numeric address in canonical form (IPv4-mapped IPv6 as IPv4, no scope);
// nullopt if `text` is not a numeric address.
std::optional<std::string> CanonicalAddress(std::string_view text) {
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  size_t pct = s.find('%');
  if (pct != std::string::npos) s.resize(pct);
  char buf[INET6_ADDRSTRLEN];
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    return std::string(inet_ntop(AF_INET, &v4, buf, sizeof(buf)));
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, &v6.s6_addr[12], sizeof(v4));
    return std::string(inet_ntop(AF_INET, &v4, buf, sizeof(buf)));
  }
  return std::string(inet_ntop(AF_INET6, &v6, buf, sizeof(buf)));
}

std::optional<std::string> SockaddrText(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) == nullptr) return std::nullopt;
  } else if (sa->sa_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)) == nullptr) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return CanonicalAddress(buf);
}

// The canonical addresses `host` resolves to, or an error text.
Result<std::vector<std::string>> Resolve(const std::string& host) {
  if (host.empty() || host.find('\0') != std::string::npos) {
    return Status::Error("not a host name");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    return Status::Error(std::string("cannot resolve: ") +
                         (rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc)));
  }
  std::vector<std::string> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addr == nullptr) continue;
    std::optional<std::string> text = SockaddrText(ai->ai_addr);
    if (text && std::find(out.begin(), out.end(), *text) == out.end()) out.push_back(*text);
  }
  freeaddrinfo(res);
  return out;
}

// ---- JAAS and ZooKeeper client security keys --------------------------------------

// Atlas's test for a numbered JAAS entry (atlas.jaas.<section>.<n>.): "-?\d+(\.\d+)?"; a
// key's tokens contain no '.', so digits with an optional leading '-'.
bool IsJaasIndex(std::string_view token) {
  if (!token.empty() && token.front() == '-') token.remove_prefix(1);
  return !token.empty() && std::all_of(token.begin(), token.end(),
                                       [](char c) { return c >= '0' && c <= '9'; });
}

// Why a ZooKeeper Java client system property written into the properties file is not used
// (empty: `key` is none). Atlas does not read system properties from this file either.
std::string ZkClientPropertyUnused(std::string_view key) {
  if (key.starts_with("zookeeper.ssl.") || key == "zookeeper.client.secure" ||
      key == "zookeeper.clientCnxnSocket") {
    return "a ZooKeeper Java client TLS setting, which Atlas does not take from this file; "
           "latchd's TLS to ZooKeeper takes PEM files: --zk_tls_ca, --zk_tls_cert, --zk_tls_key";
  }
  if (key.starts_with("zookeeper.sasl.")) {
    return "a ZooKeeper Java client SASL setting, which Atlas does not take from this file; "
           "latchd's SASL settings are atlas.jaas.Client.* or the --zk_sasl_* flags";
  }
  return "";
}

// Reads the ZooKeeper client's JAAS section and sorts the other security keys out (see
// AtlasHaSettings::jaas, ::unused_security_keys).
Status ReadJaas(const Props& props, AtlasHaSettings* s) {
  // Entries of atlas.jaas.Client, by prefix, as Atlas groups them.
  std::map<std::string, std::vector<std::string>> entries;
  for (const auto& [key, value] : props) {
    std::string_view k = key;
    if (std::string why = ZkClientPropertyUnused(k); !why.empty()) {
      s->unused_security_keys.push_back({key, why});
      continue;
    }
    if (!k.starts_with(kJaasPrefix)) continue;
    std::string_view rest = k.substr(kJaasPrefix.size());
    size_t dot = rest.find('.');
    if (rest.substr(0, dot) != kJaasZkSection || dot == std::string_view::npos) {
      s->unused_security_keys.push_back(
          {key, "latchd follows only atlas.jaas.Client, the JAAS section of Atlas's ZooKeeper "
                "client"});
      continue;
    }
    std::string_view after = rest.substr(dot + 1);
    std::string_view token = after.substr(0, after.find('.'));
    std::string prefix = std::string(kJaasPrefix) + std::string(kJaasZkSection) + ".";
    if (IsJaasIndex(token) && token.size() < after.size()) prefix += std::string(token) + ".";
    entries[prefix].push_back(key);
  }
  std::vector<std::string> with_module;
  for (const auto& [prefix, keys] : entries) {
    auto module = Value(props, prefix + "loginModuleName");
    if (!module.ok()) return module.status();
    if (*module && !(*module)->empty()) {
      with_module.push_back(prefix);
    } else {
      for (const std::string& key : keys) {
        s->unused_security_keys.push_back(
            {key, "its JAAS entry has no " + prefix + "loginModuleName (Atlas skips it too)"});
      }
    }
  }
  if (with_module.size() > 1) {
    return KeyError(std::string(kJaasPrefix) + std::string(kJaasZkSection),
                    "has " + std::to_string(with_module.size()) + " login modules (" +
                        Join(with_module, "*, ") + "*): latchd can follow only one");
  }
  if (with_module.empty()) return Status::Ok();

  AtlasJaasClient& j = s->jaas;
  j.prefix = with_module.front();
  struct Text {
    std::string_view name;
    std::string* out;
    bool secret;
  };
  const Text texts[] = {{"loginModuleName", &j.login_module, false},
                        {"loginModuleControlFlag", &j.control_flag, false},
                        {"option.keyTab", &j.keytab, false},
                        {"option.principal", &j.principal, false},
                        {"option.serviceName", &j.service_name, false},
                        {"option.username", &j.username, false},
                        {"option.password", &j.password, true}};
  struct Flag {
    std::string_view name;
    std::optional<bool>* out;
  };
  const Flag bools[] = {{"option.useKeyTab", &j.use_keytab}, {"option.storeKey", &j.store_key}};
  for (const std::string& key : entries[j.prefix]) {
    std::string_view name = std::string_view(key).substr(j.prefix.size());
    bool known = false;
    for (const Text& t : texts) {
      if (name != t.name) continue;
      auto v = Value(props, key, t.secret);
      if (!v.ok()) return v.status();
      *t.out = **v;
      known = true;
    }
    for (const Flag& b : bools) {
      if (name != b.name) continue;
      auto v = Value(props, key);
      if (!v.ok()) return v.status();
      if (!(*v)->empty()) {
        auto parsed = ParseBool(key, **v);
        if (!parsed.ok()) return parsed.status();
        *b.out = *parsed;
      }
      known = true;
    }
    if (!known) j.unmapped.push_back(key);
  }
  return Status::Ok();
}

}  // namespace

// ---- ParseProperties ----------------------------------------------------------

Result<std::map<std::string, std::string>> ParseProperties(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  int line_no = 0;
  // The next natural line, without its terminator.
  auto next_line = [&](std::string_view* line) {
    if (pos >= text.size()) return false;
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      *line = text.substr(pos);
      pos = text.size();
    } else {
      *line = text.substr(pos, end - pos);
      pos = end + 1;
      if (text[end] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
    }
    ++line_no;
    return true;
  };
  std::string_view line;
  while (next_line(&line)) {
    int first_line = line_no;
    line = SkipBlanks(line);
    if (line.empty() || line.front() == '#' || line.front() == '!') continue;
    std::string logical;
    while (true) {
      size_t backslashes = 0;
      while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) {
        logical.append(line);
        break;
      }
      logical.append(line.substr(0, line.size() - 1));
      if (!next_line(&line)) break;
      line = SkipBlanks(line);
    }
    // The key ends at the first unescaped separator or blank.
    size_t key_end = logical.size();
    size_t value_start = logical.size();
    for (size_t i = 0; i < logical.size(); ++i) {
      char c = logical[i];
      if (c == '\\') {
        ++i;
        continue;
      }
      if (c == '=' || c == ':') {
        key_end = i;
        value_start = i + 1;
        break;
      }
      if (IsPropertiesBlank(c)) {
        key_end = i;
        size_t j = i + 1;
        while (j < logical.size() && IsPropertiesBlank(logical[j])) ++j;
        if (j < logical.size() && (logical[j] == '=' || logical[j] == ':')) ++j;
        value_start = j;
        break;
      }
    }
    while (value_start < logical.size() && IsPropertiesBlank(logical[value_start])) ++value_start;
    Result<std::string> key = Unescape(std::string_view(logical).substr(0, key_end), first_line);
    if (!key.ok()) return key.status();
    Result<std::string> value = Unescape(std::string_view(logical).substr(value_start), first_line);
    if (!value.ok()) return value.status();
    out.insert_or_assign(std::move(key).value(), std::move(value).value());
  }
  return out;
}

// ---- ReadAtlasHaSettings -------------------------------------------------------

Result<AtlasHaSettings> ReadAtlasHaSettings(const std::map<std::string, std::string>& props) {
  AtlasHaSettings s;
  for (std::string_view key : {kHaEnabled, kServerIds, kZkConnect, kZkRoot, kSessionTimeout,
                               kNumRetries, kRetrySleep, kZkAcl, kZkAuth, kEnableTls}) {
    if (Find(props, key) != nullptr) s.keys_present.emplace_back(key);
  }

  auto enabled = Value(props, kHaEnabled);
  if (!enabled.ok()) return enabled.status();
  if (*enabled) {
    auto b = ParseBool(kHaEnabled, **enabled);
    if (!b.ok()) return b.status();
    s.enabled = *b;
  }

  auto ids = Value(props, kServerIds);
  if (!ids.ok()) return ids.status();
  if (*ids && !(*ids)->empty()) {
    std::string_view rest = **ids;
    while (true) {
      size_t comma = rest.find(',');
      std::string id(TrimBlanksAndControls(rest.substr(0, comma)));
      if (id.empty()) return KeyError(kServerIds, Quote(**ids) + " has an empty id");
      if (std::find(s.server_ids.begin(), s.server_ids.end(), id) != s.server_ids.end()) {
        return KeyError(kServerIds, Quote(**ids) + " lists " + Quote(id) + " twice");
      }
      s.server_ids.push_back(std::move(id));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (s.enabled && s.server_ids.empty()) {
    return KeyError(kServerIds, "is not set or empty, but " + std::string(kHaEnabled) + " is true");
  }
  for (const std::string& id : s.server_ids) {
    std::string key = std::string(kAddressPrefix) + id;
    auto address = Value(props, key);
    if (!address.ok()) return address.status();
    if (!*address || (*address)->empty()) {
      if (s.enabled) {
        return KeyError(key, "is not set, but " + std::string(kServerIds) + " lists " + Quote(id));
      }
      continue;
    }
    if (!SplitHostPort(**address)) {
      return KeyError(key, Quote(**address) + " is not host:port (an IPv6 address as [addr]:port)");
    }
    s.server_addresses[id] = **address;
  }

  auto connect = Value(props, kZkConnect);
  if (!connect.ok()) return connect.status();
  std::string_view connect_key = kZkConnect;
  if (*connect) {
    s.zk_connect = **connect;
  } else {
    auto kafka = Value(props, kKafkaZkConnect);
    if (!kafka.ok()) return kafka.status();
    if (*kafka && !(*kafka)->empty()) {
      s.zk_connect = **kafka;
      s.zk_connect_from_kafka = true;
      connect_key = kKafkaZkConnect;
    }
  }
  if (s.zk_connect.empty()) {
    if (s.enabled) {
      return KeyError(kZkConnect, std::string(*connect ? "is empty" : "is not set") + " (nor is " +
                                      std::string(kKafkaZkConnect) + "), but " +
                                      std::string(kHaEnabled) + " is true");
    }
  } else if (!CheckConnectString(s.zk_connect).ok()) {
    return KeyError(connect_key,
                    Quote(s.zk_connect) + " is not host:port[,host:port...][/chroot]");
  }

  auto root = Value(props, kZkRoot);
  if (!root.ok()) return root.status();
  if (*root) {
    if (!CheckZkRoot(**root).ok()) {
      return KeyError(kZkRoot, Quote(**root) +
                                   " is not an absolute znode path other than / (no trailing /, "
                                   "no empty, . or .. components)");
    }
    s.zk_root = **root;
  }

  struct IntKey {
    std::string_view key;
    int* out;
    int min;
    int max;
  };
  for (const IntKey& k : {IntKey{kSessionTimeout, &s.zk_session_timeout_ms, 1, INT32_MAX},
                          IntKey{kNumRetries, &s.zk_num_retries, 0, INT32_MAX},
                          IntKey{kRetrySleep, &s.zk_retry_sleep_ms, 0, INT32_MAX}}) {
    auto v = Value(props, k.key);
    if (!v.ok()) return v.status();
    if (!*v) continue;
    auto n = ParseInt(k.key, **v, k.min, k.max);
    if (!n.ok()) return n.status();
    *k.out = *n;
  }

  auto acl = Value(props, kZkAcl);
  if (!acl.ok()) return acl.status();
  if (*acl) s.zk_acl = **acl;

  auto auth = Value(props, kZkAuth, /*secret=*/true);
  if (!auth.ok()) return auth.status();
  if (*auth && !(*auth)->empty()) {
    if (!ParseAuth(**auth).ok()) {
      return KeyError(kZkAuth, "is not scheme:auth (the value is not shown: it is a secret)");
    }
    s.zk_auth = **auth;
  }

  // TLS and the server's port, by Atlas's rules (see the header).
  int http_port = kDefaultHttpPort;
  int https_port = kDefaultHttpsPort;
  for (auto [key, out] : {std::pair{kHttpPort, &http_port}, std::pair{kHttpsPort, &https_port}}) {
    auto v = Value(props, key);
    if (!v.ok()) return v.status();
    if (!*v) continue;
    auto n = ParseInt(key, **v, 1, 65535);
    if (!n.ok()) return n.status();
    *out = *n;
  }
  auto tls = Value(props, kEnableTls);
  if (!tls.ok()) return tls.status();
  if (!*tls || (*tls)->empty()) {
    s.app_port = https_port;
    s.tls = s.app_port % 1000 == 443;
  } else {
    auto b = ParseBool(kEnableTls, **tls);
    if (!b.ok()) return b.status();
    s.tls = *b;
    s.app_port = **tls == "true" ? https_port : http_port;
  }
  Status jaas = ReadJaas(props, &s);
  if (!jaas.ok()) return jaas;
  return s;
}

// ---- Addresses and the server id -------------------------------------------------

std::vector<std::string> LocalAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr) continue;
    std::optional<std::string> text = SockaddrText(ifa->ifa_addr);
    if (text && std::find(out.begin(), out.end(), *text) == out.end()) out.push_back(*text);
  }
  freeifaddrs(list);
  return out;
}

Result<std::string> PickAtlasServerId(const AtlasHaSettings& settings,
                                      const std::vector<std::string>& local_addresses,
                                      int atlas_port) {
  if (!settings.enabled) {
    return Status::Error(std::string(kHaEnabled) +
                         " is not true: an Atlas server without HA has no server id");
  }
  std::set<std::string> local;
  for (const std::string& a : local_addresses) {
    if (std::optional<std::string> c = CanonicalAddress(a)) local.insert(*c);
  }
  std::vector<std::string> why;
  for (const std::string& id : settings.server_ids) {
    auto it = settings.server_addresses.find(id);
    std::string key = std::string(kAddressPrefix) + id;
    if (it == settings.server_addresses.end()) {
      why.push_back(Quote(id) + ": " + key + " is not set");
      continue;
    }
    const std::string shown = Quote(id) + " at " + Quote(it->second);
    std::optional<HostPort> hp = SplitHostPort(it->second);
    if (!hp) {
      why.push_back(shown + ": not host:port");
      continue;
    }
    if (atlas_port > 0 && hp->port != atlas_port) {
      why.push_back(shown + ": port is not " + std::to_string(atlas_port));
      continue;
    }
    Result<std::vector<std::string>> resolved = Resolve(hp->host);
    if (!resolved.ok()) {
      why.push_back(shown + ": " + resolved.status().message());
      continue;
    }
    for (const std::string& a : *resolved) {
      if (local.count(a)) return id;
    }
    why.push_back(shown + ": " + (resolved->empty() ? std::string("no address")
                                                    : Join(*resolved, ", ")) +
                  " not on this host");
  }
  if (settings.server_ids.empty()) why.push_back(std::string(kServerIds) + " is empty");
  std::vector<std::string> shown_local(local.begin(), local.end());
  return Status::Error(OneLine("no id in " + std::string(kServerIds) + " has an address on this host" +
                               (atlas_port > 0 ? " with port " + std::to_string(atlas_port) : "") +
                               " (local addresses: " + Join(shown_local, ", ") + "): " +
                               Join(why, "; ")));
}

// ---- Applying the settings to the flags -------------------------------------------

namespace {

// What the steps of ApplyAtlasSettings share.
struct ApplyContext {
  const std::string& source;
  const FlagIsExplicit& is_set_explicitly;
  std::vector<std::string>* notes;

  void Note(const std::string& line) const {
    if (notes != nullptr) notes->push_back(OneLine(line));
  }
  Status Error(const std::string& what) const { return Status::Error(OneLine(source + ": " + what)); }
  // "<key> in <source>": where a value came from.
  std::string In(std::string_view key) const { return std::string(key) + " in " + source; }
  // A flag given explicitly wins; say so when the file says otherwise.
  bool Overridden(const std::string& flag, std::string_view key, const std::string& mine,
                  const std::string& theirs) const {
    if (!is_set_explicitly(flag)) return false;
    if (mine != theirs && !theirs.empty()) {
      Note("--" + flag + "=" + Quote(mine) + " given explicitly: " + std::string(key) + "=" +
           Quote(theirs) + " in " + source + " is not used");
    }
    return true;
  }
};

std::string ToLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// How the file could give the SASL settings, for messages saying they are missing.
std::string JaasHint(const std::string& source) {
  return std::string(kJaasPrefix) + std::string(kJaasZkSection) + ".* in " + source +
         " (loginModuleName=" + std::string(kKrb5LoginModule) +
         " with option.useKeyTab=true, option.keyTab and option.principal, or " +
         std::string(kDigestLoginModule) + " with option.username and option.password)";
}

// The JAAS section atlas.jaas.Client -> flags->zk_security (see the header).
// `sasl_auth`: atlas.server.ha.zookeeper.auth is a sasl: auth that will be used.
Status ApplyJaas(const ApplyContext& ctx, const AtlasHaSettings& settings, bool sasl_auth,
                 RawFlags* flags) {
  RawZkSecurity& z = flags->zk_security;
  for (const AtlasHaSettings::UnusedKey& u : settings.unused_security_keys) {
    ctx.Note("warning: " + ctx.In(u.key) + " is not used: " + u.why);
  }
  z.sasl_hint = JaasHint(ctx.source);
  const AtlasJaasClient& j = settings.jaas;
  if (!j.present()) return Status::Ok();
  auto key = [&j](std::string_view name) { return j.prefix + std::string(name); };
  auto unused = [&](std::string_view name, const std::string& why) {
    ctx.Note("warning: " + ctx.In(key(name)) + " is not used: " + why);
  };
  for (const std::string& k : j.unmapped) {
    std::string_view name = std::string_view(k).substr(j.prefix.size());
    if (name == "option.useTicketCache" || name == "option.ticketCache" ||
        name == "option.renewTGT") {
      unused(name, "latchd gets its tickets from the keytab into a memory credential cache of "
                   "its own, and renews them");
    } else {
      unused(name, "latchd maps loginModuleName, loginModuleControlFlag and the options keyTab, "
                   "principal, useKeyTab, storeKey, serviceName, username and password");
    }
  }

  SaslMechanism mechanism = j.login_module == kKrb5LoginModule     ? SaslMechanism::kGssapi
                            : j.login_module == kDigestLoginModule ? SaslMechanism::kDigestMd5
                                                                   : SaslMechanism::kNone;
  const bool mechanism_explicit = ctx.is_set_explicitly("zk_sasl_mechanism");
  if (mechanism == SaslMechanism::kNone) {
    if (!mechanism_explicit) {
      return ctx.Error(key("loginModuleName") + ": " + Quote(j.login_module) +
                       " is not a login module latchd can follow for ZooKeeper (" +
                       std::string(kKrb5LoginModule) + " for Kerberos, " +
                       std::string(kDigestLoginModule) +
                       " for DIGEST-MD5); or pass --zk_sasl_mechanism");
    }
    ctx.Note(ctx.In(key("*")) + " (" + Quote(j.login_module) +
             ") is not used: --zk_sasl_mechanism is given");
    return Status::Ok();
  }
  const std::string name = SaslMechanismName(mechanism);
  if (mechanism_explicit) {
    std::string given = z.sasl_mechanism;
    std::transform(given.begin(), given.end(), given.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (given != name) {
      ctx.Note(ctx.In(key("*")) + " (" + name + ") is not used: --zk_sasl_mechanism=" +
               Quote(z.sasl_mechanism) + " is given");
      return Status::Ok();
    }
  } else {
    z.sasl_mechanism = name;
    z.origin["zk_sasl_mechanism"] = ctx.In(key("loginModuleName"));
  }

  // A value of the file for `flag`, unless the flag is given.
  auto map = [&](const std::string& flag, std::string_view option, std::string* field,
                 const std::string& value) {
    if (value.empty() || ctx.Overridden(flag, key(option), *field, value)) return;
    *field = value;
    z.origin[flag] = ctx.In(key(option));
  };

  if (!j.control_flag.empty()) {
    const std::string f = ToLower(j.control_flag);
    if (f != "required" && f != "requisite" && f != "sufficient" && f != "optional") {
      ctx.Note("warning: " + ctx.In(key("loginModuleControlFlag")) + ": " + Quote(j.control_flag) +
               " is not required, requisite, sufficient or optional (Atlas uses required)");
    }
  }
  if (!j.service_name.empty()) {
    map("zk_sasl_service", "option.serviceName", &z.sasl_service, j.service_name);
    if (j.service_name != "zookeeper" && !ctx.is_set_explicitly("zk_sasl_service")) {
      ctx.Note(ctx.In(key("option.serviceName")) + ": latchd uses the service " +
               Quote(j.service_name) + "; Atlas's ZooKeeper client does not read this option "
               "(it uses the system property zookeeper.sasl.client.username, default zookeeper)");
    }
  }

  if (mechanism == SaslMechanism::kGssapi) {
    if (!j.username.empty()) unused("option.username", "not an option of Krb5LoginModule");
    if (!j.password.empty()) unused("option.password", "not an option of Krb5LoginModule");
    if (ctx.is_set_explicitly("zk_sasl_keytab")) {
      ctx.Overridden("zk_sasl_keytab", key("option.keyTab"), z.sasl_keytab, j.keytab);
    } else {
      if (j.keytab.empty()) {
        return ctx.Error(key("option.keyTab") +
                         " is not set: latchd needs the client keytab; set it or pass "
                         "--zk_sasl_keytab");
      }
      if (j.use_keytab != true) {
        return ctx.Error(key("option.useKeyTab") + (j.use_keytab ? " is false" : " is not set") +
                         ": Krb5LoginModule then ignores " + key("option.keyTab") +
                         ", and latchd authenticates from a keytab only (no ticket cache); set "
                         "it to true, or pass --zk_sasl_keytab");
      }
      map("zk_sasl_keytab", "option.keyTab", &z.sasl_keytab, j.keytab);
    }
    map("zk_sasl_principal", "option.principal", &z.sasl_principal, j.principal);
  } else {
    if (!j.keytab.empty()) unused("option.keyTab", "not an option of DigestLoginModule");
    if (!j.principal.empty()) unused("option.principal", "not an option of DigestLoginModule");
    if (j.use_keytab) unused("option.useKeyTab", "not an option of DigestLoginModule");
    map("zk_sasl_user", "option.username", &z.sasl_user, j.username);
    if (z.sasl_user.empty()) {
      if (!sasl_auth && !ctx.is_set_explicitly("zk_auth_file")) {
        return ctx.Error(key("option.username") +
                         " is not set: the DIGEST-MD5 user; set it or pass --zk_sasl_user");
      }
      // A sasl: auth may name the user; if it does not, validation names the key.
      z.origin["zk_sasl_user"] = ctx.In(key("option.username"));
    }
    if (ctx.is_set_explicitly("zk_sasl_password_file")) {
      if (!j.password.empty()) {
        ctx.Note(ctx.In(key("option.password")) + " is not used: --zk_sasl_password_file is given");
      }
    } else if (j.password.empty()) {
      return ctx.Error(key("option.password") +
                       " is not set: the DIGEST-MD5 password; set it or pass "
                       "--zk_sasl_password_file");
    } else {
      z.sasl_password_inline = j.password;
      z.origin["zk_sasl_password"] = ctx.In(key("option.password"));
      ctx.Note("DIGEST-MD5 password from " + ctx.In(key("option.password")) +
               " (kept in memory only; keep that file readable by Atlas and latchd only)");
    }
  }
  ctx.Note("ZooKeeper SASL " + name + " from " + ctx.In(key("*")));
  return Status::Ok();
}

}  // namespace

Status ApplyAtlasSettings(const AtlasHaSettings& settings, const std::string& source,
                          const std::vector<std::string>& local_addresses,
                          const FlagIsExplicit& is_set_explicitly, RawFlags* flags,
                          std::vector<std::string>* notes) {
  const ApplyContext ctx{source, is_set_explicitly, notes};
  auto present = [&](std::string_view key) {
    return std::find(settings.keys_present.begin(), settings.keys_present.end(), key) !=
           settings.keys_present.end();
  };

  if (!settings.enabled) {
    ctx.Note(source + ": " + std::string(kHaEnabled) +
             " is not true: Atlas does not elect; latchd uses the HA settings anyway");
  }

  // The credentials first: they need no name resolution to refuse.
  const bool auth_used = !settings.zk_auth.empty() && !is_set_explicitly("zk_auth_file");
  const bool sasl_auth = auth_used && settings.zk_auth.rfind("sasl:", 0) == 0;
  Status jaas = ApplyJaas(ctx, settings, sasl_auth, flags);
  if (!jaas.ok()) return jaas;
  if (!settings.zk_auth.empty()) {
    if (!auth_used) {
      ctx.Note(ctx.In(kZkAuth) + " is not used: --zk_auth_file is given");
    } else {
      flags->zk_auth_inline = settings.zk_auth;
      flags->zk_security.origin["zk_auth"] = ctx.In(kZkAuth);
      if (!sasl_auth) {
        ctx.Note("ZooKeeper auth from " + ctx.In(kZkAuth) +
                 " (keep that file readable by Atlas and latchd only)");
      } else if (!flags->zk_security.sasl_mechanism.empty()) {
        ctx.Note(ctx.In(kZkAuth) + " is a sasl: auth, no addauth scheme: it names the SASL "
                 "identity, and latchd authenticates with SASL");
      }  // else validation refuses it, naming what is missing
    }
  }

  if (!ctx.Overridden("zk_connect", kZkConnect, flags->zk_connect, settings.zk_connect)) {
    if (settings.zk_connect.empty()) {
      return ctx.Error(std::string(kZkConnect) + " is not set: set it or pass --zk_connect");
    }
    flags->zk_connect = settings.zk_connect;
    if (settings.zk_connect_from_kafka) {
      ctx.Note("--zk_connect from " + ctx.In(kKafkaZkConnect) + " (" + std::string(kZkConnect) +
               " is not set; Atlas falls back the same way)");
    }
  }

  if (ctx.Overridden("zk_root", kZkRoot, flags->zk_root, settings.zk_root)) {
    if (flags->zk_root != settings.zk_root) {
      ctx.Note("latchd and Atlas servers electing with " + std::string(kZkRoot) + "=" +
               Quote(settings.zk_root) + " are in different latches: both may be ACTIVE");
    }
  } else {
    flags->zk_root = settings.zk_root;
  }

  if (!ctx.Overridden("zk_session_timeout_ms", kSessionTimeout,
                      std::to_string(flags->zk_session_timeout_ms),
                      std::to_string(settings.zk_session_timeout_ms))) {
    if (settings.zk_session_timeout_ms < kMinSessionTimeoutMs ||
        settings.zk_session_timeout_ms > kMaxSessionTimeoutMs) {
      return ctx.Error(std::string(kSessionTimeout) + ": " +
                       std::to_string(settings.zk_session_timeout_ms) + " is outside latchd's range " +
                       std::to_string(kMinSessionTimeoutMs) + ".." +
                       std::to_string(kMaxSessionTimeoutMs));
    }
    flags->zk_session_timeout_ms = settings.zk_session_timeout_ms;
  }

  if (!settings.zk_acl.empty() &&
      !ctx.Overridden("zk_acl", kZkAcl, flags->zk_acl, settings.zk_acl)) {
    Result<std::vector<ZkAclEntry>> acl = ParseAclList(settings.zk_acl);
    if (!acl.ok()) {
      std::string m = acl.status().message();
      if (m.rfind("--zk_acl: ", 0) == 0) m = m.substr(10);
      return ctx.Error(std::string(kZkAcl) + ": " + OneLine(m));
    }
    flags->zk_acl = settings.zk_acl;
    flags->zk_security.origin["zk_acl"] = ctx.In(kZkAcl);
  }

  for (std::string_view key : {kNumRetries, kRetrySleep}) {
    if (present(key)) {
      ctx.Note(ctx.In(key) +
               " does not apply: latchd retries ZooKeeper forever (it stays PASSIVE meanwhile)");
    }
  }

  std::string id;
  if (is_set_explicitly("id")) {
    id = flags->id;
    if (settings.enabled &&
        std::find(settings.server_ids.begin(), settings.server_ids.end(), id) ==
            settings.server_ids.end()) {
      ctx.Note("--id=" + Quote(id) + " is not in " + std::string(kServerIds) + " of " + source);
    }
  } else {
    Result<std::string> picked = PickAtlasServerId(settings, local_addresses, settings.app_port);
    if (!picked.ok()) return ctx.Error(picked.status().message() + "; or pass --id");
    Status valid = CheckId(*picked);
    if (!valid.ok()) {
      return ctx.Error(std::string(kServerIds) + ": " + Quote(*picked) +
                       " cannot be a latchd id: " + valid.message());
    }
    id = *picked;
    flags->id = id;
    ctx.Note("--id=" + id + " from " + source + ": " + std::string(kAddressPrefix) + id + "=" +
             settings.server_addresses.at(id) + " is on this host (port " +
             std::to_string(settings.app_port) + ")");
  }

  auto address = settings.server_addresses.find(id);
  std::string url = address == settings.server_addresses.end()
                        ? std::string()
                        : settings.scheme() + "://" + address->second;
  if (!ctx.Overridden("advertise", std::string(kAddressPrefix) + id, flags->advertise, url)) {
    if (url.empty()) {
      return ctx.Error(std::string(kAddressPrefix) + id +
                       " is not set: cannot derive --advertise; set it or pass --advertise");
    }
    flags->advertise = url;
  }
  return Status::Ok();
}

Status ApplyAtlasProperties(const std::string& path, const FlagIsExplicit& is_set_explicitly,
                            RawFlags* flags, std::vector<std::string>* notes) {
  auto error = [](const std::string& what) {
    return Status::Error(OneLine("--atlas_properties: " + what));
  };
  ReadFileDetails details;
  Result<std::string> text = ReadSmallFile(path, kMaxFileBytes, &details);
  if (!text.ok()) {
    // An fstat failure has always been reported like a non-regular file.
    if (details.failure == ReadFileDetails::Failure::kStat) {
      return error(path + ": not a regular file");
    }
    return error(text.status().message());
  }
  Result<std::map<std::string, std::string>> props = ParseProperties(*text);
  if (!props.ok()) return error(path + ": " + props.status().message());
  Result<AtlasHaSettings> settings = ReadAtlasHaSettings(*props);
  if (!settings.ok()) return error(path + ": " + settings.status().message());
  Status applied =
      ApplyAtlasSettings(*settings, path, LocalAddresses(), is_set_explicitly, flags, notes);
  if (!applied.ok()) return error(applied.message());
  return Status::Ok();
}

}  // namespace latchd
