// JSON values appended to a string, for documents written from literal
// fragments without building a document first: the answers latchd gives on
// every socket request and watch line (lib/api/status_json.cc).
//
// Promises: the output is RFC 8259 JSON in the compact form nlohmann-json's
// dump() produces ("\"", "\\", "\b", "\f", "\n", "\r", "\t" escaped by name,
// other control characters as \u00xx, everything else verbatim), so a
// document written with its keys in sorted order has the bytes a
// nlohmann::json object would. Strings that are not valid UTF-8 never make the
// output invalid: each byte that does not start a well-formed sequence is
// written as U+FFFD (nlohmann's "replace" handler writes one U+FFFD per
// ill-formed run instead).
//
// Thread-safety: pure functions; they only append to *out.
#ifndef LATCHD_LIB_UTIL_JSON_WRITER_H_
#define LATCHD_LIB_UTIL_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace latchd {

// `value` as a JSON string: quoted and escaped.
void AppendJsonString(std::string* out, std::string_view value);
// A JSON string, or null when `value` is empty.
void AppendJsonStringOrNull(std::string* out, std::string_view value);
void AppendJsonInt(std::string* out, int64_t value);

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_JSON_WRITER_H_
