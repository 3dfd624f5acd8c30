// The handlers of the socket commands: one per row of kCommands
// (lib/api/protocol.h), in that order.
#include <nlohmann/json.hpp>

#include "lib/agent/agent_core.h"
#include "lib/api/status_json.h"

namespace latchd {
namespace {

std::string PeerText(const Peer& p) {
  return "pid " + std::to_string(p.pid) + " uid " + std::to_string(p.uid) + " gid " +
         std::to_string(p.gid);
}

// {"ok":true,...,"role":"<ROLE>"}, sorted keys like every answer.
std::string OkLine(Role role, const std::string* message = nullptr) {
  nlohmann::json j{{"ok", true}, {"role", std::string(RoleName(role))}};
  if (message != nullptr) j["message"] = *message;
  return j.dump();
}

}  // namespace

// In kCommands order (each handler's unit test, agent_core_test.cc, checks
// that every command is answered by its own).
const std::array<AgentCore::CommandHandler, kCommandCount> AgentCore::kCommandHandlers = {
    &AgentCore::CmdStatus, &AgentCore::CmdWatch,        &AgentCore::CmdAck,  &AgentCore::CmdYield,
    &AgentCore::CmdLeader, &AgentCore::CmdParticipants, &AgentCore::CmdHold, &AgentCore::CmdPing,
    &AgentCore::CmdHelp,
};

void AgentCore::OnLine(uint64_t conn, std::string_view line) {
  Conn& c = conns_[conn];  // made here if the shell did not report the connection
  if (health_) health_->Heard(conn, now_.mono);
  auto req = ParseRequestLine(line);
  if (!req.ok()) return Reply(conn, std::nullopt, ErrorLine(req.status().message()), false);
  (this->*kCommandHandlers[static_cast<size_t>(req->command)])(conn, c, *req);
}

void AgentCore::CmdStatus(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  ReplyFrom(conn, req.command, AppendStatus(), true);
}

void AgentCore::CmdWatch(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  if (!c.watching) {
    c.watching = true;
    ++watchers_;
  }
  ReplyFrom(conn, req.command, AppendStatus(), true);
}

void AgentCore::CmdAck(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  Log(LogAction::kInfo, "ack " + std::to_string(req.epoch) + " from " + PeerText(c.peer));
  std::optional<AckResultAction> answer;
  for (const Action& a : Feed(AckEvent{req.epoch})) {
    if (const auto* r = std::get_if<AckResultAction>(&a)) answer = *r;
  }
  if (!answer) return Reply(conn, req.command, ErrorLine("ack: the agent is stopping"), false);
  if (!answer->ok) return Reply(conn, req.command, ErrorLine("ack: " + answer->message), false);
  Reply(conn, req.command, OkLine(core_->RoleAt(now_.mono), &answer->message), true);
}

void AgentCore::CmdYield(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  Log(LogAction::kInfo, "yield requested over the socket by " + PeerText(c.peer));
  Feed(YieldEvent{});
  Reply(conn, req.command, OkLine(core_->RoleAt(now_.mono)), true);
}

void AgentCore::CmdLeader(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  Reply(conn, req.command, LeaderJson(core_->StatusAt(now_.mono).leader), true);
}

void AgentCore::CmdParticipants(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  nlohmann::json ids = nlohmann::json::array();
  nlohmann::json nodes = nlohmann::json::array();
  for (const Participant& p : core_->Participants()) {
    ids.push_back(p.id);
    nodes.push_back({{"id", p.id}, {"node", p.node}});
  }
  // Ids are ZooKeeper data written by others: invalid UTF-8 becomes U+FFFD.
  Reply(conn, req.command,
        nlohmann::json{{"participants", ids}, {"nodes", nodes}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace),
        true);
}

// The connection binds the agent to the server process: while one is open
// (and the probes are up) the agent stands; a process death closes it at once.
void AgentCore::CmdHold(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  bool added = health_ && health_->Hold(conn, now_.mono);
  if (added) {
    Log(LogAction::kInfo, "hold from " + PeerText(c.peer) + " (" + std::to_string(health_->holds()) +
                              " open)" + (config_.server.server_hold ? "" : "; --server_hold is off: it binds nothing"));
  }
  nlohmann::json j{{"ok", true},
                   {"hold", true},
                   {"holds", health_ ? health_->holds() : 0},
                   {"server_hold", config_.server.server_hold},
                   {"hold_timeout_ms", ToMillis(config_.server.hold_timeout)},
                   {"role", std::string(RoleName(core_->RoleAt(now_.mono)))}};
  Reply(conn, req.command, j.dump(), true);
  UpdateHealth();
}

void AgentCore::CmdPing(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  Reply(conn, req.command, "{\"ok\":true,\"pong\":true}", true);
}

void AgentCore::CmdHelp(uint64_t conn, Conn& c, const ProtocolRequest& req) {
  Reply(conn, req.command, nlohmann::json{{"help", ProtocolHelp()}}.dump(), true);
}

}  // namespace latchd
