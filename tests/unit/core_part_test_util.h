// Helpers for the unit tests of the election core's parts (lib/core/*.h):
// drive one part through a CoreIo and look at what it sent.
#ifndef LATCHD_TESTS_UNIT_CORE_PART_TEST_UTIL_H_
#define LATCHD_TESTS_UNIT_CORE_PART_TEST_UTIL_H_

#include <string>
#include <vector>

#include "lib/core/core_io.h"

namespace latchd::testing {

inline MonoTime T0() { return MonoTime{std::chrono::seconds(1000)}; }

// A CoreIo in session `session`, connected, at T0().
inline void StartIo(CoreIo& io, int64_t session = 0x100, MonoTime now = T0()) {
  io.SetSession(session, true);
  io.Begin(now);
}

// The requests among `actions`, in order.
inline std::vector<ZkRequest> Sent(const std::vector<Action>& actions) {
  std::vector<ZkRequest> out;
  for (const auto& a : actions) {
    if (auto* s = std::get_if<SendAction>(&a)) out.push_back(s->request);
  }
  return out;
}

inline std::vector<std::string> Logs(const std::vector<Action>& actions) {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (auto* l = std::get_if<LogAction>(&a)) out.push_back(l->message);
  }
  return out;
}

// An answer to request `req` with `code`.
inline ZkResult Answer(const ZkRequest& req, ZkCode code) {
  ZkResult r;
  r.id = req.id;
  r.code = code;
  return r;
}

}  // namespace latchd::testing

#endif  // LATCHD_TESTS_UNIT_CORE_PART_TEST_UTIL_H_
