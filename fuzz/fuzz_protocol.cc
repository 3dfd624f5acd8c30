// Fuzzes the socket line protocol parser (lib/api/protocol.h) and ErrorLine.
// Checks: no crash or UB; an accepted line has no control characters other
// than tab and CR, and an ack carries a positive epoch; an accepted command
// parses the same when written back in canonical form; every error line (for
// parse errors and for arbitrary text) is one line of valid JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "lib/api/protocol.h"

namespace {

using latchd::Command;

void CheckErrorLine(std::string_view message) {
  std::string line = latchd::ErrorLine(message);
  FUZZ_CHECK(line.find('\n') == std::string::npos, "ErrorLine has a newline: " + latchd::fuzz::Show(line));
  FUZZ_CHECK(nlohmann::json::accept(line), "ErrorLine is not JSON: " + latchd::fuzz::Show(line));
  auto j = nlohmann::json::parse(line);
  FUZZ_CHECK(j.is_object() && j.size() == 1 && j.contains("error") && j["error"].is_string(),
             "ErrorLine shape: " + latchd::fuzz::Show(line));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto r = latchd::ParseRequestLine(line);
  if (r.ok()) {
    for (unsigned char c : line) {
      FUZZ_CHECK(!((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f),
                 "accepted a control character: " + latchd::fuzz::Show(line));
    }
    if (r->command == Command::kAck) {
      FUZZ_CHECK(r->epoch > 0, "ack with epoch <= 0: " + latchd::fuzz::Show(line));
    }
    std::string canonical(latchd::CommandName(r->command));
    if (r->command == Command::kAck) canonical += " " + std::to_string(r->epoch);
    auto again = latchd::ParseRequestLine(canonical);
    FUZZ_CHECK(again.ok() && again->command == r->command && again->epoch == r->epoch,
               "canonical form does not round-trip: " + canonical);
  } else {
    FUZZ_CHECK(!r.status().message().empty(), "empty error message");
    CheckErrorLine(r.status().message());
  }
  CheckErrorLine(line);
  return 0;
}
