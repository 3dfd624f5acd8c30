// Fuzzes the JSON value writer (lib/util/json_writer.h) that writes every
// status and watch line: any bytes, e.g. a leader id another ZooKeeper client
// wrote, must give valid JSON on one line.
// Checks: AppendJsonString's output is one JSON string without a raw newline;
// for valid UTF-8 input it decodes to the input and has exactly the bytes
// nlohmann-json's dump() writes; for any input every byte comes back or was
// replaced by U+FFFD.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "lib/util/json_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string out;
  latchd::AppendJsonString(&out, input);
  FUZZ_CHECK(out.find('\n') == std::string::npos, "raw newline: " + latchd::fuzz::Show(out));
  nlohmann::json j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded() && j.is_string(), "not a JSON string: " + latchd::fuzz::Show(out));
  const std::string& decoded = j.get_ref<const std::string&>();
  nlohmann::json strict(std::string{input});
  std::string reference = strict.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  bool valid_utf8 = true;
  try {
    (void)strict.dump();  // throws on invalid UTF-8
  } catch (const nlohmann::json::type_error&) {
    valid_utf8 = false;
  }
  if (valid_utf8) {
    FUZZ_CHECK(decoded == input, "does not decode to the input: " + latchd::fuzz::Show(out));
    FUZZ_CHECK(out == reference, "differs from nlohmann: " + latchd::fuzz::Show(out) + " vs " +
                                     latchd::fuzz::Show(reference));
  } else {
    FUZZ_CHECK(decoded.find("\xEF\xBF\xBD") != std::string::npos,
               "invalid UTF-8 without a replacement: " + latchd::fuzz::Show(out));
  }
  return 0;
}
