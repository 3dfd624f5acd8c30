// Writes compact JSON objects into a string without building a document
// first: the answers latchd gives on every socket request and watch line.
//
// Promises: the output is RFC 8259 JSON in the compact form nlohmann-json's
// dump() produces (no blanks; "\"", "\\", "\b", "\f", "\n", "\r", "\t"
// escaped by name, other control characters as \u00xx, everything else
// verbatim), so callers that emit keys in sorted order get the same bytes as
// a nlohmann::json object would. Strings that are not valid UTF-8 never make
// the output invalid: each byte that does not start a well-formed sequence
// is written as U+FFFD.
// The writer does not check nesting: callers pair BeginObject/EndObject and
// give a Key before every value inside an object. Keys are the caller's own
// literals and are written as they are: they must be printable ASCII without
// '"' or '\\' (asserted in debug builds).
//
// Thread-safety: one writer per thread; it only appends to its string.
#ifndef LATCHD_LIB_API_JSON_WRITER_H_
#define LATCHD_LIB_API_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace latchd {

// The pieces JsonWriter is made of, for a caller that writes a fixed document
// from literal fragments: `value` as a JSON string (quoted, escaped, invalid
// UTF-8 as U+FFFD), and an integer.
void AppendJsonString(std::string* out, std::string_view value);
void AppendJsonInt(std::string* out, int64_t value);

class JsonWriter {
 public:
  // Appends to *out, which must outlive the writer.
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  // A string, or null when `value` is empty.
  JsonWriter& StringOrNull(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

 private:
  void BeforeValue();

  std::string* out_;
  bool need_comma_ = false;
};

}  // namespace latchd

#endif  // LATCHD_LIB_API_JSON_WRITER_H_
