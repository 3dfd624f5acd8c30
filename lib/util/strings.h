// Small string helpers shared by the parsers (socket protocol, HTTP, ACLs,
// properties files, latchctl).
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_UTIL_STRINGS_H_
#define LATCHD_LIB_UTIL_STRINGS_H_

#include <string_view>

namespace latchd {

// `s` without the leading and trailing bytes that are in `chars`.
constexpr std::string_view Trim(std::string_view s, std::string_view chars = " \t") {
  size_t begin = s.find_first_not_of(chars);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(chars) - begin + 1);
}

// `s` without leading and trailing blanks and control characters (bytes up
// to and including ' ').
constexpr std::string_view TrimBlanksAndControls(std::string_view s) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  return s;
}

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_STRINGS_H_
