#include "lib/api/protocol.h"
#include "lib/util/strings.h"

#include <array>
#include <charconv>

#include <nlohmann/json.hpp>

namespace latchd {

static_assert(static_cast<size_t>(Command::kHelp) + 1 == kCommandCount,
              "kCommandCount counts the values of Command");

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

}  // namespace

Result<ProtocolRequest> ParseRequestLine(std::string_view line) {
  for (unsigned char c : line) {
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
      return Status::Error("request contains control or binary characters");
    }
  }
  LineWords words = Words(line);
  if (words.count == 0) return Status::Error("empty request; try \"help\"");
  std::string_view cmd = words.word[0];
  ProtocolRequest req;
  auto no_args = [&](Command c) -> Result<ProtocolRequest> {
    if (words.count != 1) {
      return Status::Error(std::string(1, '"').append(cmd).append("\" takes no argument"));
    }
    req.command = c;
    return req;
  };
  if (cmd == "status") return no_args(Command::kStatus);
  if (cmd == "watch") return no_args(Command::kWatch);
  if (cmd == "yield") return no_args(Command::kYield);
  if (cmd == "leader") return no_args(Command::kLeader);
  if (cmd == "participants") return no_args(Command::kParticipants);
  if (cmd == "help") return no_args(Command::kHelp);
  if (cmd == "ack") {
    if (words.count != 2) return Status::Error("usage: ack <epoch>");
    std::string_view arg = words.word[1];
    int64_t epoch = 0;
    auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), epoch);
    if (ec != std::errc() || ptr != arg.data() + arg.size() || epoch <= 0) {
      return Status::Error("ack: epoch must be a positive integer");
    }
    req.command = Command::kAck;
    req.epoch = epoch;
    return req;
  }
  std::string shown(cmd.substr(0, 64));
  return Status::Error("unknown command \"" + shown + "\"; try \"help\"");
}

std::string_view CommandName(Command command) {
  switch (command) {
    case Command::kStatus: return "status";
    case Command::kWatch: return "watch";
    case Command::kAck: return "ack";
    case Command::kYield: return "yield";
    case Command::kLeader: return "leader";
    case Command::kParticipants: return "participants";
    case Command::kHelp: return "help";
  }
  return "other";
}

const char* ProtocolHelp() {
  return "status: this agent's role, epoch, leader, lease and ZooKeeper session; "
         "watch: status now, then a line per change; "
         "ack <epoch>: activation finished for that epoch; "
         "yield: step down and rejoin at the back; "
         "leader: the leader as this agent sees it; "
         "participants: latch nodes in order; "
         "help: this text";
}

std::string ErrorLine(std::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace latchd
