#include "lib/api/protocol.h"

#include <charconv>
#include <vector>

#include <nlohmann/json.hpp>

namespace latchd {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  while (!(s = Trim(s)).empty()) {
    size_t end = s.find_first_of(" \t");
    out.push_back(s.substr(0, end));
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
  std::vector<std::string_view> words = Words(line);
  if (words.empty()) return Status::Error("empty request; try \"help\"");
  std::string_view cmd = words[0];
  ProtocolRequest req;
  auto no_args = [&](Command c) -> Result<ProtocolRequest> {
    if (words.size() != 1) {
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
    if (words.size() != 2) return Status::Error("usage: ack <epoch>");
    int64_t epoch = 0;
    auto [ptr, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), epoch);
    if (ec != std::errc() || ptr != words[1].data() + words[1].size() || epoch <= 0) {
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
