// The server binding's configuration (docs/design.md, "Server binding"):
// --server_hold, --hold_timeout_ms and the probes --health_url /
// --health_exec with --health_interval_ms, --health_timeout_ms,
// --health_fall, --health_rise; validated here, judged by ServerHealth
// (lib/agent/server_health.h).
// Thread-safety: plain values and pure functions.
// Errors: one line naming the flag.
#ifndef LATCHD_LIB_API_SERVER_BINDING_H_
#define LATCHD_LIB_API_SERVER_BINDING_H_

#include <cstdint>
#include <string>

#include "lib/util/clock.h"
#include "lib/util/status.h"

namespace latchd {

enum class ProbeKind { kHttp, kExec };
inline constexpr const char* kProbeKindNames[] = {"http", "exec"};

struct ServerHealthConfig {
  bool server_hold = false;
  Duration hold_timeout{};   // 0: off
  std::string health_url;    // "": no HTTP probe
  std::string health_exec;   // "": no exec probe
  Duration interval = std::chrono::seconds(1);
  Duration timeout = std::chrono::seconds(1);
  int fall = 3;
  int rise = 2;
  bool binding() const { return server_hold || !health_url.empty() || !health_exec.empty(); }
};

// A probe URL taken apart: http://HOST[:PORT][/PATH], HOST an IP literal or
// localhost (the probe runs on the event loop: no name resolution).
struct HttpProbeTarget {
  std::string host;  // as given ("127.0.0.1", "::1", "localhost")
  int port = 80;
  std::string path;  // "/..." (with any query)
};
Result<HttpProbeTarget> ParseHttpProbeUrl(const std::string& url);

// The flags' values, checked: ranges, contradictions (a timeout above the
// interval; --hold_timeout_ms without --server_hold), the URL, the program.
Result<ServerHealthConfig> ValidateServerBinding(bool server_hold, int64_t hold_timeout_ms,
                                                 const std::string& health_url,
                                                 const std::string& health_exec,
                                                 int64_t interval_ms, int64_t timeout_ms,
                                                 int64_t fall, int64_t rise);

}  // namespace latchd

#endif  // LATCHD_LIB_API_SERVER_BINDING_H_
