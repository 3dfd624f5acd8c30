// Fuzzes flag validation (lib/api/agent_config.h): ValidateFlags on RawFlags
// built from the input split at NUL bytes. zk_auth_file stays empty, so no
// file is read (on_transition is only checked with access()).
// Checks: no crash or UB; an accepted configuration carries the given values
// and satisfies every individual check and range; an error names a flag
// ("--<flag>: ") and is one line (known issue FLAGS-1: values are quoted
// verbatim, so a newline in a value breaks the line).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "lib/api/agent_config.h"

namespace {

using latchd::fuzz::Show;

int64_t ToInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && ptr == s.data() + s.size()) return v;
  if (!s.empty()) std::memcpy(&v, s.data(), std::min(s.size(), sizeof(v)));
  return v;
}

double ToDouble(std::string_view s) {
  std::string z(s);
  char* end = nullptr;
  double v = std::strtod(z.c_str(), &end);
  if (!z.empty() && end == z.c_str() + z.size()) return v;
  v = 0;
  if (!s.empty()) std::memcpy(&v, s.data(), std::min(s.size(), sizeof(v)));
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> f;
  for (size_t start = 0; f.size() < 14;) {
    size_t nul = text.find('\0', start);
    f.push_back(start <= text.size() ? text.substr(start, nul == std::string_view::npos ? nul : nul - start)
                                     : std::string_view());
    if (nul == std::string_view::npos) start = text.size() + 1;
    else start = nul + 1;
  }
  latchd::RawFlags r;
  r.id = f[0];
  r.advertise = f[1];
  r.zk_connect = f[2];
  r.zk_root = f[3];
  r.zk_session_timeout_ms = ToInt(f[4]);
  r.zk_acl = f[5];
  r.http_listen = f[6];
  r.socket_path = f[7];
  r.lease_margin = ToDouble(f[8]);
  r.activation_ack_timeout_ms = ToInt(f[9]);
  r.on_transition = f[10];
  r.on_transition_timeout_ms = ToInt(f[11]);
  r.socket_mode = f[12];
  r.socket_group = f[13];
  r.zk_auth_file.clear();

  auto c = latchd::ValidateFlags(r);
  if (!c.ok()) {
    const std::string m = c.status().message();
    FUZZ_CHECK(m.rfind("--", 0) == 0 && m.find(": ") != std::string::npos,
               "error does not name a flag: " + Show(m));
    FUZZ_KNOWN("FLAGS-1", m.find('\n') == std::string::npos && m.find('\r') == std::string::npos,
               "error message spans lines: " + Show(m));
    return 0;
  }
  FUZZ_CHECK(latchd::CheckId(r.id).ok() && latchd::CheckConnectString(r.zk_connect).ok() &&
                 latchd::CheckZkRoot(r.zk_root).ok() && latchd::CheckListenAddress(r.http_listen).ok(),
             "accepted flags fail an individual check");
  FUZZ_CHECK(c->latch.id == r.id && c->zk_connect == r.zk_connect && c->latch.zk_root == r.zk_root &&
                 c->latch.advertise == r.advertise && c->http_listen == r.http_listen &&
                 c->socket_path == r.socket_path && c->on_transition == r.on_transition &&
                 c->socket_group == r.socket_group,
             "values not carried over");
  FUZZ_CHECK(c->session_timeout.count() == r.zk_session_timeout_ms &&
                 c->session_timeout.count() >= 1000 && c->session_timeout.count() <= 600000,
             "session timeout");
  FUZZ_CHECK(c->latch.lease_margin >= 0.15 && c->latch.lease_margin <= 0.9 &&
                 !std::isnan(c->latch.lease_margin),
             "lease margin");
  FUZZ_CHECK(c->activation_ack_timeout.count() >= 0 && c->activation_ack_timeout.count() <= 3600000,
             "ack timeout");
  FUZZ_CHECK(c->on_transition_timeout.count() >= 100 && c->on_transition_timeout.count() <= 3600000,
             "hook timeout");
  FUZZ_CHECK(c->socket_mode <= 0777, "socket mode");
  FUZZ_CHECK(c->socket_path.size() < 108, "socket path length");
  FUZZ_CHECK(!c->auth.has_value(), "auth without a file");
  if (!c->latch.advertise.empty()) {
    FUZZ_CHECK(c->latch.advertise.find("://") != std::string::npos &&
                   c->latch.advertise.find_first_of(" \t\r\n") == std::string::npos,
               "advertise not a URL: " + Show(c->latch.advertise));
  }
  return 0;
}
