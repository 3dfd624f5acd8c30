// latchctl: the command-line client of a running latchd (over its Unix
// socket), plus `digest` and Atlas-style `find-active`. Every command and exit
// code is documented in docs/latchctl.md and `latchctl --help`.
// Exit codes: 0 ok, 1 agent unreachable or refused / not ACTIVE / none ACTIVE,
// 2 usage error.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/latchctl/cli_args.h"
#include "agent/latchctl/find_active.h"
#include "lib/client/line_socket.h"
#include "lib/client/role_client.h"
#include "lib/zk/acl.h"

namespace latchd {
namespace latchctl {
namespace {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "latchctl: %s\n", message.c_str());
  return code;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "latchctl: %s\n%s\n", message.c_str(), UsageLine().c_str());
  return kExitUsage;
}

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// One request, one answer line; an {"error":...} answer is a failure.
Result<nlohmann::json> Ask(RoleClient& client, const std::string& request, std::string* raw) {
  auto line = client.Request(request);
  if (!line.ok()) return line.status();
  *raw = *line;
  auto j = nlohmann::json::parse(*line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Error("unexpected answer from latchd: " + line->substr(0, 200));
  }
  if (auto it = j.find("error"); it != j.end()) {
    return Status::Error("latchd refused \"" + request + "\": " +
                         (it->is_string() ? it->get<std::string>() : it->dump()));
  }
  return j;
}

std::string WatchText(const ClientStatus& s) {
  return std::string(RoleName(s.role)) + " epoch=" + std::to_string(s.epoch) +
         " leader=" + OrDash(s.leader_id);
}

int CmdStatus(const CliOptions& o, RoleClient& client) {
  std::string raw;
  auto j = Ask(client, "status", &raw);
  if (!j.ok()) return Fail(kExitFailed, j.status().message());
  auto st = ParseStatusLine(raw);
  if (!st.ok()) return Fail(kExitFailed, st.status().message());
  if (o.json) {
    PrintLine(raw);
    return kExitOk;
  }
  PrintLine(std::string(RoleName(st->role)));
  // With a server binding (its `since` is set): a second line about the server.
  if (st->server_since_ms != 0) {
    PrintLine(std::string("server: ") + (st->server_healthy ? "healthy: " : "unhealthy: ") +
              st->server_reason + (st->server_waiting ? "; leading only because no healthy candidate waits" : ""));
  }
  return kExitOk;
}

int CmdIsActive(const CliOptions& o, RoleClient& client) {
  auto line = client.Request("status");
  if (!line.ok()) {
    if (o.json) PrintLine(nlohmann::json{{"error", line.status().message()}}.dump());
    return kExitFailed;
  }
  if (o.json) PrintLine(*line);
  auto st = ParseStatusLine(*line);
  // ACTIVE with a lease left when the agent answered (the agent never says
  // ACTIVE without one; a 0 would mean it lapses within the millisecond).
  return st.ok() && st->role == Role::kActive && st->lease_ms > 0 ? kExitOk : kExitFailed;
}

int CmdWatch(const CliOptions& o) {
  using client_internal::LineSocket;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  auto conn = LineSocket::Connect(o.socket);
  if (!conn.ok()) return Fail(kExitFailed, conn.status().message());
  LineSocket sock = std::move(conn).value();
  Status sent = sock.SendLine("watch", deadline);
  if (!sent.ok()) return Fail(kExitFailed, sent.message());
  bool first = true;
  while (true) {
    LineSocket::ReadEnd why;
    auto until = first ? deadline : std::chrono::steady_clock::now() + std::chrono::minutes(1);
    auto line = sock.ReadLine(until, -1, &why);
    if (why == LineSocket::ReadEnd::kTimeout && !first) continue;
    if (!line.ok()) {
      if (why == LineSocket::ReadEnd::kTimeout) {
        return Fail(kExitFailed, "no answer from latchd at " + o.socket + " within " +
                                     std::to_string(o.timeout_ms) + " ms");
      }
      return Fail(kExitFailed, line.status().message());
    }
    auto st = ParseStatusLine(*line);
    if (!st.ok()) {
      if (first) return Fail(kExitFailed, st.status().message());
      continue;  // not a status line: nothing to print
    }
    first = false;
    PrintLine(o.json ? *line : WatchText(*st));
  }
}

int CmdLeader(const CliOptions& o, RoleClient& client) {
  std::string raw;
  auto j = Ask(client, "leader", &raw);
  if (!j.ok()) return Fail(kExitFailed, j.status().message());
  if (o.json) {
    PrintLine(raw);
    return kExitOk;
  }
  auto str = [&](const char* key) {
    auto it = j->find(key);
    return it != j->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto ep = j->find("epoch");
  int64_t epoch = ep != j->end() && ep->is_number_integer() ? ep->get<int64_t>() : 0;
  PrintLine("id=" + OrDash(str("id")) + " address=" + OrDash(str("address")) +
            " epoch=" + std::to_string(epoch));
  return kExitOk;
}

int CmdParticipants(const CliOptions& o, RoleClient& client) {
  std::string raw;
  auto j = Ask(client, "participants", &raw);
  if (!j.ok()) return Fail(kExitFailed, j.status().message());
  auto it = j->find("participants");
  if (it == j->end() || !it->is_array()) {
    return Fail(kExitFailed, "unexpected answer from latchd: " + raw.substr(0, 200));
  }
  if (o.json) {
    PrintLine(raw);
    return kExitOk;
  }
  // Ids in latch order; "-" for one the agent has not read yet.
  for (const auto& p : *it) {
    std::string id = p.is_string() ? p.get<std::string>() : p.dump();
    PrintLine(id.empty() ? "-" : id);
  }
  return kExitOk;
}

int CmdYield(const CliOptions& o, RoleClient& client) {
  std::string raw;
  auto j = Ask(client, "yield", &raw);
  if (!j.ok()) return Fail(kExitFailed, j.status().message());
  if (o.json) {
    PrintLine(raw);
    return kExitOk;
  }
  auto role = j->find("role");
  PrintLine("yielded; role now " +
            (role != j->end() && role->is_string() ? role->get<std::string>() : "unknown"));
  return kExitOk;
}

int CmdAck(const CliOptions& o, RoleClient& client) {
  const std::string& text = o.args[0];
  int64_t epoch = 0;
  size_t used = 0;
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (digits && text.size() <= 18) epoch = std::stoll(text, &used);
  if (!digits || used != text.size() || epoch <= 0) {
    return Usage("ack: EPOCH must be a positive integer, got \"" + text.substr(0, 40) + "\"");
  }
  std::string raw;
  auto j = Ask(client, "ack " + std::to_string(epoch), &raw);
  if (!j.ok()) return Fail(kExitFailed, j.status().message());
  auto ok = j->find("ok");
  if (ok == j->end() || !ok->is_boolean() || !ok->get<bool>()) {
    return Fail(kExitFailed, "unexpected answer from latchd: " + raw.substr(0, 200));
  }
  PrintLine(o.json ? raw : "ok");
  return kExitOk;
}

int CmdDigest(const CliOptions& o) {
  auto id = DigestIdFromCredentials(o.args[0]);
  if (!id.ok()) return Usage("digest: " + id.status().message());
  PrintLine(*id);
  return kExitOk;
}

int Run(int argc, char** argv) {
  auto parsed = ParseArgs(argc, argv);
  if (!parsed.ok()) return Usage(parsed.status().message());
  const CliOptions& o = *parsed;
  if (o.help || o.command == "help") {
    std::fputs(HelpText().c_str(), stdout);
    return kExitOk;
  }
  if (o.command.empty()) return Usage("no command given");

  const CliCommand* spec = FindCliCommand(o.command);
  if (spec == nullptr) return Usage("unknown command \"" + o.command.substr(0, 40) + "\"");
  if (o.command == "find-active") return FindActive(o);
  if (o.args.size() != spec->nargs) {
    return Usage(spec->nargs == 0
                     ? std::string(spec->name) + " takes no arguments"
                     : std::string(spec->name) + " takes exactly one argument:" + spec->args);
  }
  if (o.command == "digest") return CmdDigest(o);
  if (o.command == "watch") return CmdWatch(o);

  RoleClient client(o.socket, RoleClientOptions{std::chrono::milliseconds(o.timeout_ms)});
  if (o.command == "status") return CmdStatus(o, client);
  if (o.command == "is-active") return CmdIsActive(o, client);
  if (o.command == "leader") return CmdLeader(o, client);
  if (o.command == "participants") return CmdParticipants(o, client);
  if (o.command == "yield") return CmdYield(o, client);
  return CmdAck(o, client);
}

}  // namespace
}  // namespace latchctl
}  // namespace latchd

int main(int argc, char** argv) { return latchd::latchctl::Run(argc, argv); }
