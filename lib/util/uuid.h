// Random version-4 UUIDs in the 36-character lowercase form Curator uses for
// protected node names. Thread-safety: safe from any thread.
#ifndef LATCHD_LIB_UTIL_UUID_H_
#define LATCHD_LIB_UTIL_UUID_H_

#include <string>

namespace latchd {

std::string NewUuid();

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_UUID_H_
