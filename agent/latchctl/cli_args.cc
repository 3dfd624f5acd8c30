#include "agent/latchctl/cli_args.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "lib/client/role_client.h"

namespace latchd {
namespace latchctl {
namespace {

Result<int> ParseInt(std::string_view flag, std::string_view text, int min) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min) {
    return Status::Error("--" + std::string(flag) + " must be an integer >= " +
                         std::to_string(min) + ", got \"" + std::string(text) + "\"");
  }
  return v;
}

Result<bool> ParseBool(std::string_view flag, std::string_view text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return Status::Error("--" + std::string(flag) + " takes true or false, got \"" +
                       std::string(text) + "\"");
}

}  // namespace

const CliCommand kCliCommands[] = {
    {"status", 0, "",
     "print the role: ACTIVE, PASSIVE, BECOMING_ACTIVE or\nBECOMING_PASSIVE (like atlas_admin.py -status); with a\nserver binding, a second line on the server's health",
     Command::kStatus},
    {"is-active", 0, "",
     "exit 0 if this host is ACTIVE, 1 otherwise; prints nothing\n(for scripts and systemd "
     "ExecCondition=)",
     Command::kStatus},
    {"watch", 0, "",
     "print the role now and one line per change:\n<ROLE> epoch=<n> leader=<id>; exits 1 when the "
     "agent goes away",
     Command::kWatch},
    {"leader", 0, "", "print the leader: id=<id> address=<url> epoch=<n>", Command::kLeader},
    {"participants", 0, "", "print the latch participants, one per line, in latch order",
     Command::kParticipants},
    {"yield", 0, "", "ask the agent to step down and rejoin at the back", Command::kYield},
    {"ack", 1, " EPOCH", "tell the agent activation finished for EPOCH", Command::kAck},
    {"digest", 1, " USER:PASSWORD", "print ZooKeeper's digest id for an ACL entry (no agent needed)",
     std::nullopt},
    {"find-active", 0, " --servers=URL,URL,...",
     "ask each server's GET <URL>/api/atlas/admin/status (http://\nonly) and print the URL of the one "
     "answering ACTIVE",
     std::nullopt},
    {"help", 0, "", "this text", std::nullopt},
};
const size_t kCliCommandCount = sizeof(kCliCommands) / sizeof(kCliCommands[0]);

const NotInLatchctl kNotInLatchctl[] = {
    {Command::kHelp, "latchctl's own help lists its commands; the agent's `help` is for socket users"},
    {Command::kHold, "a hold binds the agent to a server process; a command that exits cannot hold"},
    {Command::kPing, "it keeps a server's hold alive; latchctl holds nothing"},
};
const size_t kNotInLatchctlCount = sizeof(kNotInLatchctl) / sizeof(kNotInLatchctl[0]);

const CliCommand* FindCliCommand(std::string_view name) {
  for (const CliCommand& c : kCliCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

const std::string& UsageLine() {
  static const std::string line = [] {
    std::string out = "usage: latchctl {";
    for (size_t i = 0; i < kCliCommandCount; ++i) {
      if (i) out += "|";
      out += std::string(kCliCommands[i].name) + kCliCommands[i].args;
    }
    return out + "} [--socket=PATH] [--json] [--timeout_ms=N]";
  }();
  return line;
}

const std::string& HelpText() {
  static const std::string text = [] {
    std::string out =
        "latchctl: ask the local latchd agent about this host's role.\n"
        "\n"
        "usage: latchctl COMMAND [ARGS] [FLAGS]\n"
        "\n"
        "commands (agent commands talk to latchd over its Unix socket):\n";
    constexpr size_t kColumn = 25;
    for (const CliCommand& c : kCliCommands) {
      std::string head = "  " + std::string(c.name) + c.args;
      std::string_view help = c.help;
      bool first = true;
      while (true) {
        size_t nl = help.find('\n');
        std::string_view line = help.substr(0, nl);
        if (first && head.size() < kColumn) {
          out += head + std::string(kColumn - head.size(), ' ');
        } else {
          if (first) out += head + "\n";
          out += std::string(kColumn, ' ');
        }
        out.append(line).append("\n");
        first = false;
        if (nl == std::string_view::npos) break;
        help.remove_prefix(nl + 1);
      }
    }
    out +=
        "\n"
        "flags:\n"
        "  --socket=PATH          the agent's socket (default $LATCHD_SOCKET, else\n"
        "                         /run/latchd/latchd.sock)\n"
        "  --json                 print the agent's JSON answer line instead of text\n"
        "  --timeout_ms=N         deadline per request / per HTTP probe (default 2000)\n"
        "  --retries=N            find-active: rounds over all servers (default 4)\n"
        "  --retry_interval_ms=N  find-active: pause between rounds (default 5000)\n"
        "\n"
        "exit codes: 0 success (is-active: ACTIVE; find-active: found), 1 agent unreachable or\n"
        "refused, not ACTIVE, or no ACTIVE server, 2 usage error.\n"
        "See docs/latchctl.md.\n";
    return out;
  }();
  return text;
}

Result<CliOptions> ParseArgs(int argc, char** argv) {
  CliOptions o;
  const char* env_socket = std::getenv("LATCHD_SOCKET");
  o.socket = env_socket && *env_socket ? env_socket : kDefaultAgentSocket;
  bool flags_done = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool negative_number = a.size() >= 2 && a[0] == '-' && a[1] >= '0' && a[1] <= '9';
    if (flags_done || a.size() < 2 || a[0] != '-' || negative_number) {
      positional.emplace_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h") {
      o.help = true;
      continue;
    }
    std::string_view body = a.substr(a[1] == '-' ? 2 : 1);
    size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    bool has_value = eq != std::string_view::npos;
    std::string_view value = has_value ? body.substr(eq + 1) : std::string_view();
    auto take_value = [&]() -> Result<std::string> {
      if (has_value) return std::string(value);
      if (i + 1 >= argc) return Status::Error("--" + std::string(name) + " needs a value");
      return std::string(argv[++i]);
    };
    if (name == "json" || name == "help") {
      bool on = true;
      if (has_value) {
        auto b = ParseBool(name, value);
        if (!b.ok()) return b.status();
        on = *b;
      }
      (name == "json" ? o.json : o.help) = on;
    } else if (name == "nojson") {
      o.json = false;
    } else if (name == "socket") {
      auto v = take_value();
      if (!v.ok()) return v.status();
      if (v->empty()) return Status::Error("--socket must not be empty");
      o.socket = *v;
    } else if (name == "timeout_ms" || name == "retries" || name == "retry_interval_ms") {
      auto v = take_value();
      if (!v.ok()) return v.status();
      auto n = ParseInt(name, *v, name == "retry_interval_ms" ? 0 : 1);
      if (!n.ok()) return n.status();
      if (name == "timeout_ms") {
        o.timeout_ms = *n;
      } else {
        (name == "retries" ? o.retries : o.retry_interval_ms) = *n;
        o.find_active_flags_given = true;
      }
    } else if (name == "servers") {
      auto v = take_value();
      if (!v.ok()) return v.status();
      o.servers_given = true;
      o.find_active_flags_given = true;
      std::string_view rest = *v;
      while (true) {
        size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) o.servers.emplace_back(item);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else {
      return Status::Error("unknown flag \"" + std::string(a.substr(0, 64)) + "\"");
    }
  }
  if (!positional.empty()) {
    o.command = positional.front();
    o.args.assign(positional.begin() + 1, positional.end());
  }
  if (o.find_active_flags_given && o.command != "find-active" && !o.help) {
    return Status::Error("--servers, --retries and --retry_interval_ms are for find-active only");
  }
  return o;
}

}  // namespace latchctl
}  // namespace latchd
