#include "lib/api/server_binding.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

#include "lib/util/one_line.h"

namespace latchd {
namespace {

Status Flag(const std::string& flag, const std::string& message) {
  return Status::Error("--" + flag + ": " + OneLine(message));
}

bool IpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Result<HttpProbeTarget> ParseHttpProbeUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    return Flag("health_url", "\"" + url.substr(0, 80) + "\" is not an http:// URL (https is not supported)");
  }
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpProbeTarget t;
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  for (unsigned char c : t.path) {
    if (c <= ' ' || c == 0x7f) return Flag("health_url", "the path holds blanks or control characters");
  }
  if (authority.empty()) return Flag("health_url", "\"" + url + "\" has no host");
  std::string port_text;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return Flag("health_url", "unclosed [ in \"" + authority + "\"");
    t.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Flag("health_url", "bad host \"" + authority + "\"");
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.find(':');
    t.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (!port_text.empty()) {
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), t.port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || t.port < 1 || t.port > 65535) {
      return Flag("health_url", "bad port \"" + port_text + "\"");
    }
  }
  if (t.host != "localhost" && !IpLiteral(t.host)) {
    return Flag("health_url", "host \"" + t.host +
                                  "\" must be an IP address or localhost (the probe runs without name resolution)");
  }
  return t;
}

Result<ServerHealthConfig> ValidateServerBinding(bool server_hold, int64_t hold_timeout_ms,
                                                 const std::string& health_url,
                                                 const std::string& health_exec,
                                                 int64_t interval_ms, int64_t timeout_ms,
                                                 int64_t fall, int64_t rise) {
  ServerHealthConfig c;
  c.server_hold = server_hold;
  if (hold_timeout_ms != 0 && (hold_timeout_ms < 100 || hold_timeout_ms > 3600000)) {
    return Flag("hold_timeout_ms", "must be 0 (off) or between 100 and 3600000");
  }
  if (hold_timeout_ms != 0 && !server_hold) {
    return Flag("hold_timeout_ms", "needs --server_hold (without it no connection holds the agent)");
  }
  c.hold_timeout = std::chrono::milliseconds(hold_timeout_ms);
  if (!health_url.empty()) {
    auto t = ParseHttpProbeUrl(health_url);
    if (!t.ok()) return t.status();
  }
  c.health_url = health_url;
  if (!health_exec.empty()) {
    if (health_exec[0] != '/') return Flag("health_exec", "must be an absolute path");
    struct stat st {};
    if (stat(health_exec.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(health_exec.c_str(), X_OK) != 0) {
      return Flag("health_exec", health_exec + " is not an executable file");
    }
  }
  c.health_exec = health_exec;
  if (interval_ms < 50 || interval_ms > 3600000) {
    return Flag("health_interval_ms", "must be between 50 and 3600000");
  }
  if (timeout_ms < 10 || timeout_ms > 3600000) {
    return Flag("health_timeout_ms", "must be between 10 and 3600000");
  }
  if (timeout_ms > interval_ms) {
    return Flag("health_timeout_ms", "must not be above --health_interval_ms (" +
                                         std::to_string(interval_ms) + "): probes do not overlap");
  }
  if (fall < 1 || fall > 100) return Flag("health_fall", "must be between 1 and 100");
  if (rise < 1 || rise > 100) return Flag("health_rise", "must be between 1 and 100");
  c.interval = std::chrono::milliseconds(interval_ms);
  c.timeout = std::chrono::milliseconds(timeout_ms);
  c.fall = static_cast<int>(fall);
  c.rise = static_cast<int>(rise);
  return c;
}

}  // namespace latchd
