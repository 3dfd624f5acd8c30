#include "lib/api/protocol.h"

#include <array>
#include <charconv>

#include <nlohmann/json.hpp>

#include "lib/util/strings.h"

namespace latchd {
namespace {

// The first kMaxWords blank-separated words of a line; `count` counts them
// all (so a caller sees that there were more).
constexpr size_t kMaxWords = 2;
struct LineWords {
  std::array<std::string_view, kMaxWords> word;
  size_t count = 0;
};

LineWords Words(std::string_view s) {
  LineWords out;
  while (!(s = Trim(s, " \t\r")).empty()) {
    size_t end = s.find_first_of(" \t");
    if (out.count < kMaxWords) out.word[out.count] = s.substr(0, end);
    ++out.count;
    if (end == std::string_view::npos) break;
    s.remove_prefix(end);
  }
  return out;
}

const CommandSpec* FindCommand(std::string_view word) {
  for (const CommandSpec& spec : kCommands) {
    if (spec.name == word) return &spec;
  }
  return nullptr;
}

}  // namespace

Result<ProtocolRequest> ParseRequestLine(std::string_view line) {
  for (unsigned char c : line) {
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
      return Status::Error("request contains control or binary characters");
    }
  }
  LineWords words = Words(line);
  if (words.count == 0) return Status::Error("empty request; try \"help\"");
  std::string_view word = words.word[0];
  const CommandSpec* spec = FindCommand(word);
  if (spec == nullptr) {
    std::string shown(word.substr(0, 64));
    return Status::Error("unknown command \"" + shown + "\"; try \"help\"");
  }
  ProtocolRequest req;
  req.command = spec->command;
  switch (spec->args) {
    case CommandArgs::kNone:
      if (words.count != 1) {
        return Status::Error(std::string(1, '"').append(word).append("\" takes no argument"));
      }
      return req;
    case CommandArgs::kEpoch: {
      if (words.count != 2) return Status::Error(std::string("usage: ").append(spec->usage));
      std::string_view arg = words.word[1];
      auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), req.epoch);
      if (ec != std::errc() || ptr != arg.data() + arg.size() || req.epoch <= 0) {
        return Status::Error(std::string(word).append(": epoch must be a positive integer"));
      }
      return req;
    }
  }
  return req;
}

const std::string& ProtocolHelp() {
  static const std::string text = [] {
    std::string out;
    for (const CommandSpec& spec : kCommands) {
      if (!out.empty()) out += "; ";
      out.append(spec.usage).append(": ").append(spec.help);
    }
    return out;
  }();
  return text;
}

std::string ErrorLine(std::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace latchd
