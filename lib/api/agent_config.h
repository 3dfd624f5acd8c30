// The agent's configuration: raw flag values in, a validated AgentConfig out.
// Validation is pure (it reads the auth file and the files the --zk_sasl_* and --zk_tls_*
// flags name, nothing else) so bad input is
// refused before anything touches ZooKeeper or the file system.
// Thread-safety: pure functions.
// Errors: one line naming the flag, e.g. "--id: must not contain ',' or '/'".
#ifndef LATCHD_LIB_API_AGENT_CONFIG_H_
#define LATCHD_LIB_API_AGENT_CONFIG_H_

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/api/server_binding.h"
#include "lib/api/zk_security_config.h"
#include "lib/core/core_types.h"
#include "lib/util/status.h"
#include "lib/zk/zk_security.h"
#include "lib/zk/zk_types.h"

namespace latchd {

struct RawFlags {
  std::string id;
  std::string advertise;
  std::string zk_connect;
  std::string zk_root = "/latchd";
  int64_t zk_session_timeout_ms = 10000;
  std::string zk_acl;
  std::string zk_auth_file;
  // "scheme:auth" from a configuration file that holds it already (Atlas's
  // atlas.server.ha.zookeeper.auth via --atlas_properties); never a flag.
  // A --zk_auth_file wins.
  std::string zk_auth_inline;
  std::string http_listen;
  std::string socket_path;
  double lease_margin = 0.25;
  int64_t activation_ack_timeout_ms = 0;
  std::string on_transition;
  int64_t on_transition_timeout_ms = 30000;
  std::string socket_mode = "0660";
  std::string socket_group;
  std::string journal;
  RawZkSecurity zk_security;  // --zk_sasl_*, --zk_tls_*
  // Server binding (docs/design.md, "Server binding").
  bool server_hold = false;
  int64_t hold_timeout_ms = 0;
  std::string health_url;
  std::string health_exec;
  int64_t health_interval_ms = 1000;
  int64_t health_timeout_ms = 1000;
  int64_t health_fall = 3;
  int64_t health_rise = 2;
};

// The validated configuration. What the election core needs is in `latch`,
// filled here once (the core takes it as it is).
struct AgentConfig {
  LatchConfig latch;            // id, advertise, zk_root, lease_margin, activation gates
  std::string zk_connect;
  std::chrono::milliseconds session_timeout{10000};
  std::vector<ZkAclEntry> acl;  // as configured (AclForCreate adds world READ)
  std::optional<std::pair<std::string, std::string>> auth;  // scheme, secret
  std::string http_listen;      // empty: no HTTP
  std::string socket_path;      // empty: no socket
  std::chrono::milliseconds activation_ack_timeout{0};  // 0: no ack needed
  std::string on_transition;                           // empty: no hook
  std::chrono::milliseconds on_transition_timeout{30000};
  unsigned socket_mode = 0660;
  std::string socket_group;
  std::string journal;          // empty: no journal file
  ServerHealthConfig server;    // the server binding (latch.start_healthy follows it)
  ZkSecurityOptions zk_security;  // SASL or TLS (a sasl: auth ends up here, not in `auth`)
};

Result<AgentConfig> ValidateFlags(const RawFlags& flags);

// Individual checks, exposed for tests and for latchctl.
Status CheckId(const std::string& id);
Status CheckConnectString(const std::string& connect);
Status CheckZkRoot(const std::string& root);
Status CheckListenAddress(const std::string& listen);

}  // namespace latchd

#endif  // LATCHD_LIB_API_AGENT_CONFIG_H_
