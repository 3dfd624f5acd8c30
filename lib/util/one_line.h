// Keeps messages on one line: what latchd quotes into an error or log
// message (flag values, file contents, ZooKeeper data) may hold anything.
// Thread-safety: a pure function.
#ifndef LATCHD_LIB_UTIL_ONE_LINE_H_
#define LATCHD_LIB_UTIL_ONE_LINE_H_

#include <string>
#include <string_view>

namespace latchd {

// `text` with every control character (below 0x20, and 0x7f) written as
// \xNN (lowercase hex); all other bytes unchanged.
std::string OneLine(std::string_view text);

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_ONE_LINE_H_
