#include "lib/api/agent_config.h"

#include <unistd.h>

#include <charconv>

#include "lib/util/one_line.h"
#include "lib/zk/acl.h"

namespace latchd {
namespace {

bool ParsePort(std::string_view s, bool allow_zero) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc() && ptr == s.data() + s.size() && port >= (allow_zero ? 0 : 1) &&
         port < 65536;
}

// "host:port", "[v6]:port".
bool ValidHostPort(std::string_view hp, bool allow_zero_port = false) {
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = hp.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') return false;
  for (char c : host) {
    if (c == ' ' || c == '/' || c == ',' || static_cast<unsigned char>(c) < 0x21) return false;
  }
  return ParsePort(hp.substr(colon + 1), allow_zero_port);
}

// Values are quoted into messages as given; control characters become \xNN
// so that every message stays one line.
Status Flag(const std::string& flag, const std::string& message) {
  return Status::Error("--" + flag + ": " + OneLine(message));
}

}  // namespace

Status CheckId(const std::string& id) {
  if (id.empty()) return Flag("id", "is required");
  if (id.size() > 255) return Flag("id", "longer than 255 characters");
  for (unsigned char c : id) {
    if (c == ',' || c == '/') return Flag("id", "must not contain ',' or '/'");
    if (c < 0x21 || c == 0x7f) return Flag("id", "must not contain blanks or control characters");
  }
  return Status::Ok();
}

Status CheckConnectString(const std::string& connect) {
  if (connect.empty()) return Flag("zk_connect", "is required (host:port[,host:port...][/chroot])");
  std::string_view hosts = connect;
  size_t slash = connect.find('/');
  if (slash != std::string::npos) {
    Status root = CheckZkRoot(connect.substr(slash));
    if (!root.ok()) return Flag("zk_connect", "bad chroot \"" + connect.substr(slash) + "\"");
    hosts = hosts.substr(0, slash);
  }
  while (true) {
    size_t comma = hosts.find(',');
    std::string_view hp = hosts.substr(0, comma);
    if (!ValidHostPort(hp)) {
      return Flag("zk_connect", std::string(1, '"').append(hp).append("\" is not host:port"));
    }
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  return Status::Ok();
}

Status CheckZkRoot(const std::string& root) {
  if (root.size() < 2 || root[0] != '/') return Flag("zk_root", "must be an absolute path other than /");
  if (root.back() == '/') return Flag("zk_root", "must not end with '/'");
  size_t start = 1;
  while (start <= root.size()) {
    size_t end = root.find('/', start);
    if (end == std::string::npos) end = root.size();
    std::string part = root.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return Flag("zk_root", "\"" + root + "\" has an empty, '.' or '..' component");
    }
    for (unsigned char c : part) {
      if (c < 0x20 || c == 0x7f) return Flag("zk_root", "contains control characters");
    }
    start = end + 1;
  }
  return Status::Ok();
}

Status CheckListenAddress(const std::string& listen) {
  if (listen.empty()) return Status::Ok();
  if (!ValidHostPort(listen, /*allow_zero_port=*/true)) {
    return Flag("http_listen", "\"" + listen + "\" is not HOST:PORT");
  }
  return Status::Ok();
}

Result<AgentConfig> ValidateFlags(const RawFlags& f) {
  for (Status s : {CheckId(f.id), CheckConnectString(f.zk_connect), CheckZkRoot(f.zk_root),
                   CheckListenAddress(f.http_listen)}) {
    if (!s.ok()) return s;
  }
  AgentConfig c;
  c.latch.id = f.id;
  c.zk_connect = f.zk_connect;
  c.latch.zk_root = f.zk_root;
  c.http_listen = f.http_listen;
  c.socket_path = f.socket_path;
  if (!f.advertise.empty()) {
    size_t sep = f.advertise.find("://");
    if (sep == std::string::npos || sep == 0 || sep + 3 >= f.advertise.size() ||
        f.advertise.find_first_of(" \t\r\n") != std::string::npos) {
      return Flag("advertise", "\"" + f.advertise + "\" is not a URL like http://host:21000");
    }
  }
  c.latch.advertise = f.advertise;
  if (f.zk_session_timeout_ms < 1000 || f.zk_session_timeout_ms > 600000) {
    return Flag("zk_session_timeout_ms", "must be between 1000 and 600000");
  }
  c.session_timeout = std::chrono::milliseconds(f.zk_session_timeout_ms);
  c.latch.requested_session_timeout = c.session_timeout;
  if (!(f.lease_margin >= 0.15 && f.lease_margin <= 0.9)) {
    return Flag("lease_margin", "must be between 0.15 and 0.9");
  }
  c.latch.lease_margin = f.lease_margin;
  if (f.socket_path.size() >= 108) return Flag("socket_path", "longer than 107 bytes");
  auto acl = ParseAclList(f.zk_acl);
  if (!acl.ok()) {
    std::string m = acl.status().message();
    return Status::Error(m.rfind("--zk_acl", 0) == 0 ? m : "--zk_acl: " + m);
  }
  c.acl = *acl;
  if (f.activation_ack_timeout_ms < 0 || f.activation_ack_timeout_ms > 3600000) {
    return Flag("activation_ack_timeout_ms", "must be between 0 (off) and 3600000");
  }
  c.activation_ack_timeout = std::chrono::milliseconds(f.activation_ack_timeout_ms);
  if (!f.on_transition.empty()) {
    if (f.on_transition[0] != '/') return Flag("on_transition", "must be an absolute path");
    if (access(f.on_transition.c_str(), X_OK) != 0) {
      return Flag("on_transition", f.on_transition + " is not an executable file");
    }
  }
  c.on_transition = f.on_transition;
  if (f.on_transition_timeout_ms < 100 || f.on_transition_timeout_ms > 3600000) {
    return Flag("on_transition_timeout_ms", "must be between 100 and 3600000");
  }
  c.on_transition_timeout = std::chrono::milliseconds(f.on_transition_timeout_ms);
  c.latch.require_ack = c.activation_ack_timeout.count() > 0;
  c.latch.require_hook = !c.on_transition.empty();
  // The ack has its own limit; a hook is bounded by the runner's timeout (a
  // timed-out hook is a failed hook), with a second of slack here.
  c.latch.activation_timeout = c.latch.require_ack
                                   ? Duration(c.activation_ack_timeout)
                                   : Duration(c.on_transition_timeout + std::chrono::seconds(1));
  {
    unsigned mode = 0;
    auto [ptr, ec] = std::from_chars(f.socket_mode.data(), f.socket_mode.data() + f.socket_mode.size(),
                                     mode, 8);
    if (f.socket_mode.empty() || ec != std::errc() || ptr != f.socket_mode.data() + f.socket_mode.size() ||
        mode > 0777) {
      return Flag("socket_mode", "\"" + f.socket_mode + "\" is not an octal mode like 0660");
    }
    c.socket_mode = mode;
  }
  c.socket_group = f.socket_group;
  c.journal = f.journal;
  if (!f.zk_auth_file.empty()) {
    auto auth = ReadAuthFile(f.zk_auth_file);
    if (!auth.ok()) {
      std::string m = auth.status().message();
      return Status::Error(m.rfind("--zk_auth_file", 0) == 0 ? m : "--zk_auth_file: " + m);
    }
    c.auth = *auth;
  } else if (!f.zk_auth_inline.empty()) {
    auto auth = ParseAuth(f.zk_auth_inline);
    if (!auth.ok()) {
      return Status::Error("ZooKeeper auth from the configuration file: expected scheme:auth");
    }
    c.auth = *auth;
  }
  const std::string auth_source = !f.zk_auth_file.empty() ? "--zk_auth_file"
                                  : "ZooKeeper auth from the configuration file";
  auto security = ValidateZkSecurity(f.zk_security, c.acl, &c.auth, auth_source);
  if (!security.ok()) return security.status();
  c.zk_security = *security;
  auto binding = ValidateServerBinding(f.server_hold, f.hold_timeout_ms, f.health_url, f.health_exec,
                                       f.health_interval_ms, f.health_timeout_ms, f.health_fall,
                                       f.health_rise);
  if (!binding.ok()) return binding.status();
  c.server = *binding;
  c.latch.start_healthy = !c.server.binding();  // a bound agent's server proves itself first
  return c;
}

}  // namespace latchd
