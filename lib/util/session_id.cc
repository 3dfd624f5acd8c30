#include "lib/util/session_id.h"

#include <charconv>

namespace latchd {

void AppendSessionIdHex(std::string* out, int64_t session_id) {
  char buf[20] = {'0', 'x'};
  auto [end, ec] =
      std::to_chars(buf + 2, buf + sizeof buf, static_cast<unsigned long long>(session_id), 16);
  out->append(buf, end);
}

std::string SessionIdHex(int64_t session_id) {
  std::string out;
  AppendSessionIdHex(&out, session_id);
  return out;
}

}  // namespace latchd
