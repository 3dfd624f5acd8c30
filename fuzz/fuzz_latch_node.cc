// Fuzzes latch node names (lib/core/latch_node.h): ParseLatchNode on the whole
// input and SortLatchNodes on the input split at '\n'.
// Checks: no crash or UB (std::stoll on the sequence); a parsed node ends in
// "latch-" + 10 digits, its sequence is those digits, its uuid is empty or 36
// bytes from a "_c_<uuid>-" prefix; SortLatchNodes keeps exactly the names
// ParseLatchNode accepts, in (sequence, name) order; LatchNodePrefix(uuid)
// plus 10 digits parses back to that uuid and sequence.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "lib/core/latch_node.h"

namespace {

using latchd::fuzz::Show;

void CheckNode(std::string_view name) {
  auto node = latchd::ParseLatchNode(name);
  if (!node) return;
  FUZZ_CHECK(node->name == name, "name differs");
  FUZZ_CHECK(name.find('/') == std::string_view::npos, "accepted a '/': " + Show(name));
  FUZZ_CHECK(name.size() >= 16, "too short: " + Show(name));
  std::string_view digits = name.substr(name.size() - 10);
  FUZZ_CHECK(name.substr(name.size() - 16, 6) == "latch-", "no latch- marker: " + Show(name));
  FUZZ_CHECK(std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }),
             "sequence not digits: " + Show(name));
  FUZZ_CHECK(node->sequence == std::stoll(std::string(digits)), "sequence value");
  FUZZ_CHECK(node->uuid.empty() || node->uuid.size() == 36, "uuid size");
  if (!node->uuid.empty()) {
    FUZZ_CHECK(name.substr(0, 3) == "_c_" && name.substr(3, 36) == node->uuid && name[39] == '-',
               "uuid not from the prefix: " + Show(name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckNode(text);

  std::vector<std::string> children;
  size_t accepted = 0;
  for (size_t start = 0; start <= text.size() && children.size() < 512;) {
    size_t nl = text.find('\n', start);
    std::string_view part = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    children.emplace_back(part);
    CheckNode(part);
    if (latchd::ParseLatchNode(part)) ++accepted;
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  auto sorted = latchd::SortLatchNodes(children);
  FUZZ_CHECK(sorted.size() == accepted, "SortLatchNodes dropped or invented nodes");
  for (size_t i = 1; i < sorted.size(); ++i) {
    const auto& a = sorted[i - 1];
    const auto& b = sorted[i];
    FUZZ_CHECK(a.sequence < b.sequence || (a.sequence == b.sequence && a.name <= b.name),
               "not sorted: " + Show(a.name) + " before " + Show(b.name));
  }

  // Round trip of the name latchd creates, for a 36-byte uuid without '/'.
  if (size >= 46) {
    std::string uuid(text.substr(0, 36));
    std::string seq(text.substr(36, 10));
    for (char& c : seq) c = static_cast<char>('0' + static_cast<unsigned char>(c) % 10);
    std::replace(uuid.begin(), uuid.end(), '/', '_');
    std::string name = latchd::LatchNodePrefix(uuid) + seq;
    auto node = latchd::ParseLatchNode(name);
    FUZZ_CHECK(node && node->uuid == uuid && node->sequence == std::stoll(seq),
               "LatchNodePrefix round trip: " + Show(name));
  }

  // Path helpers.
  if (!text.empty() && text[0] == '/') {
    auto prefixes = latchd::PathPrefixes(text);
    if (!prefixes.empty()) FUZZ_CHECK(prefixes.back() == text, "last prefix is the path");
    std::string_view base = latchd::BaseName(text);
    FUZZ_CHECK(base.find('/') == std::string_view::npos, "BaseName has '/'");
  }
  return 0;
}
