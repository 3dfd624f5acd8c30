// Assertions for the fuzz targets. A failed check prints what was violated and
// aborts, which libFuzzer reports as a crash and saves the input.
//
// FUZZ_KNOWN(id, cond, what) is a check for a reported, not yet fixed issue:
// it aborts like FUZZ_CHECK unless `id` is listed in the environment variable
// LATCHD_FUZZ_ALLOW (comma-separated), so a run can explore past it.
#ifndef LATCHD_FUZZ_FUZZ_CHECK_H_
#define LATCHD_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace latchd::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* cond, const std::string& what) {
  std::fprintf(stderr, "\n*** fuzz check failed at %s:%d: %s\n*** %s\n", file, line, cond,
               what.c_str());
  std::abort();
}

inline bool Allowed(const char* id) {
  static const char* allow = std::getenv("LATCHD_FUZZ_ALLOW");
  if (allow == nullptr) return false;
  std::string_view list(allow);
  std::string_view want(id);
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == want) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// `s` with every letter and digit replaced by the next one (a9 -> b0, z -> a):
// the same shape (length, separators) with other content. A message that
// stays the same when a secret is disguised does not show the secret.
inline std::string Disguise(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= '0' && c <= '9') c = static_cast<char>('0' + (c - '0' + 1) % 10);
    else if (c >= 'a' && c <= 'z') c = static_cast<char>('a' + (c - 'a' + 1) % 26);
    else if (c >= 'A' && c <= 'Z') c = static_cast<char>('A' + (c - 'A' + 1) % 26);
  }
  return out;
}

// Printable form of bytes for failure messages.
inline std::string Show(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > 200) out += "...";
  return out + "\"";
}

}  // namespace latchd::fuzz

#define FUZZ_CHECK(cond, what)                                          \
  do {                                                                  \
    if (!(cond)) ::latchd::fuzz::Fail(__FILE__, __LINE__, #cond, (what)); \
  } while (0)

#define FUZZ_KNOWN(id, cond, what)                                      \
  do {                                                                  \
    if (!(cond) && !::latchd::fuzz::Allowed(id)) {                      \
      ::latchd::fuzz::Fail(__FILE__, __LINE__, #cond,                   \
                           std::string("[known issue ") + (id) + "] " + (what)); \
    }                                                                   \
  } while (0)

#endif  // LATCHD_FUZZ_FUZZ_CHECK_H_
