// ZooKeeper session ids as ZooKeeper prints them: "0x" and lowercase hex of
// the 64-bit value ("0x10000179d760000").
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_UTIL_SESSION_ID_H_
#define LATCHD_LIB_UTIL_SESSION_ID_H_

#include <cstdint>
#include <string>

namespace latchd {

void AppendSessionIdHex(std::string* out, int64_t session_id);
std::string SessionIdHex(int64_t session_id);

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_SESSION_ID_H_
