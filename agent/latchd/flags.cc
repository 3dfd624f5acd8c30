#include "agent/latchd/flags.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gflags/gflags.h>

#include "lib/api/atlas_properties.h"

namespace latchd {
namespace {

// ---- The flags: one row each -------------------------------------------------
// gflags parses straight into g_flags (a RawFlags); a flag's default is
// g_defaults' value, RawFlags' own member default except where the daemon's
// differs (HTTP and the socket are on by default). ValidateFlags
// (lib/api/agent_config.h) checks every value.
RawFlags DaemonDefaults() {
  RawFlags d;
  d.http_listen = "127.0.0.1:21100";
  d.socket_path = "/run/latchd/latchd.sock";
  return d;
}
RawFlags g_defaults = DaemonDefaults();
RawFlags g_flags = g_defaults;

#define LATCHD_FLAG(name, member, help) \
  gflags::FlagRegisterer flag_##name(#name, help, __FILE__, &g_flags.member, &g_defaults.member)

LATCHD_FLAG(id, id, "This participant's id (required; no ',' or '/'), e.g. the Atlas server id");
LATCHD_FLAG(advertise, advertise, "URL published in <zk_root>/active_server_info while ACTIVE");
LATCHD_FLAG(zk_connect, zk_connect,
            "ZooKeeper connect string host:port[,host:port...][/chroot] (required)");
LATCHD_FLAG(zk_root, zk_root, "Root znode; the latch is <zk_root>/leader_elector_path");
LATCHD_FLAG(zk_session_timeout_ms, zk_session_timeout_ms,
            "Requested session timeout; the negotiated one is used");
LATCHD_FLAG(zk_acl, zk_acl, "Comma-separated scheme:id entries granted all permissions on created nodes");
LATCHD_FLAG(zk_auth_file, zk_auth_file, "File holding scheme:auth (e.g. digest:user:password)");
LATCHD_FLAG(http_listen, http_listen, "HOST:PORT for the HTTP endpoints; empty disables");
LATCHD_FLAG(socket_path, socket_path, "Unix socket path; empty disables");
LATCHD_FLAG(lease_margin, lease_margin, "Lease = negotiated session timeout x (1 - margin)");
LATCHD_FLAG(activation_ack_timeout_ms, activation_ack_timeout_ms,
            "If > 0, stay BECOMING_ACTIVE until a socket client sends 'ack <epoch>'; give "
            "leadership up if none arrives within this time");
LATCHD_FLAG(on_transition, on_transition,
            "Executable run on every role change (new role, previous role, epoch, leader id, leader "
            "address); a failure while BECOMING_ACTIVE gives leadership up");
LATCHD_FLAG(on_transition_timeout_ms, on_transition_timeout_ms, "Time limit of one --on_transition run");
LATCHD_FLAG(socket_mode, socket_mode, "Permissions of the Unix socket (octal)");
LATCHD_FLAG(socket_group, socket_group, "Group of the Unix socket (the co-located server's group)");
LATCHD_FLAG(journal, journal,
            "Append every role change as a JSON line (monotonic and wall time) to this file");
// ZooKeeper SASL and TLS (lib/api/zk_security_config.h validates them).
LATCHD_FLAG(zk_sasl_mechanism, zk_security.sasl_mechanism,
            "SASL authentication to ZooKeeper: GSSAPI (Kerberos) or DIGEST-MD5; empty: none. "
            "Not together with --zk_tls_*: the ZooKeeper 3.8 C client has no SASL over TLS");
LATCHD_FLAG(zk_sasl_service, zk_security.sasl_service,
            "SASL service name (the servers' principal zookeeper/<host>)");
LATCHD_FLAG(zk_sasl_host, zk_security.sasl_host,
            "SASL server name, one for every server; empty: GSSAPI uses the address of the "
            "server connected to (canonicalized by Kerberos), DIGEST-MD5 uses zk-sasl-md5");
LATCHD_FLAG(zk_sasl_user, zk_security.sasl_user,
            "DIGEST-MD5 user (a user_<name> of the servers' JAAS Server section)");
LATCHD_FLAG(zk_sasl_password_file, zk_security.sasl_password_file,
            "DIGEST-MD5: file whose first line is the password");
LATCHD_FLAG(zk_sasl_keytab, zk_security.sasl_keytab,
            "GSSAPI: client keytab (tickets are obtained and renewed from it)");
LATCHD_FLAG(zk_sasl_principal, zk_security.sasl_principal,
            "GSSAPI: client principal, e.g. atlas/_HOST@EXAMPLE.COM (_HOST: this host's name); "
            "empty: the keytab's first");
LATCHD_FLAG(zk_tls_ca, zk_security.tls_ca,
            "TLS to ZooKeeper's secureClientPort: PEM file of the CA that signed the servers");
LATCHD_FLAG(zk_tls_cert, zk_security.tls_cert, "TLS: PEM file of this client's certificate (chain)");
LATCHD_FLAG(zk_tls_key, zk_security.tls_key,
            "TLS: PEM file of the certificate's unencrypted private key");

// The server binding (lib/api/server_binding.h validates them).
LATCHD_FLAG(server_hold, server_hold,
            "Stand for election only while the server holds a connection to the agent (socket "
            "command `hold`); when the last one closes, hand over (or leave the latch)");
LATCHD_FLAG(hold_timeout_ms, hold_timeout_ms,
            "With --server_hold: a hold connection silent this long counts as closed (a hung "
            "server); 0: off");
LATCHD_FLAG(health_url, health_url,
            "Probe: HTTP GET of this http:// URL (IP address or localhost), 2xx = healthy");
LATCHD_FLAG(health_exec, health_exec, "Probe: run this program, exit 0 = healthy");
LATCHD_FLAG(health_interval_ms, health_interval_ms, "Time between the starts of two probes");
LATCHD_FLAG(health_timeout_ms, health_timeout_ms,
            "A probe not finished this long failed (the program is killed)");
LATCHD_FLAG(health_fall, health_fall, "Failures in a row that make the server unhealthy");
LATCHD_FLAG(health_rise, health_rise, "Successes in a row that make the server healthy");

#undef LATCHD_FLAG

// Not a setting of its own: where to take settings from.
std::string g_atlas_properties;
std::string g_atlas_properties_default;
gflags::FlagRegisterer flag_atlas_properties(
    "atlas_properties",
    "Apache Atlas's atlas-application.properties: take --id, --advertise, --zk_connect, "
    "--zk_root, --zk_session_timeout_ms, --zk_acl and the ZooKeeper auth from its HA "
    "settings, and the --zk_sasl_* settings from its JAAS section atlas.jaas.Client; flags "
    "given explicitly win (docs/atlas.md)",
    __FILE__, &g_atlas_properties, &g_atlas_properties_default);

}  // namespace
}  // namespace latchd


namespace latchd {
namespace {

// Checks that `arg` ("--name" or "--name=value") names a known flag and, for
// numeric and bool flags, that the value parses, so that gflags (which would
// exit 1) never sees a bad one.
Status CheckName(const std::string& arg) {
  std::string name = arg.substr(arg.find_first_not_of('-'));
  size_t eq = name.find('=');
  std::string value = eq == std::string::npos ? "" : name.substr(eq + 1);
  name = name.substr(0, eq);
  if (name.empty()) return Status::Ok();
  gflags::CommandLineFlagInfo info;
  if (gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
    if (eq == std::string::npos || info.type == "string") return Status::Ok();
    // Parse the value the way gflags will; the saver puts the flag back as it
    // was (value and "given" mark): the real parse sets it again, in order
    // with the other flags.
    gflags::FlagSaver saver;
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      return Status::Error("--" + name + ": bad value '" + value + "': not a valid " + info.type);
    }
    return Status::Ok();
  }
  if (name.rfind("no", 0) == 0 && gflags::GetCommandLineFlagInfo(name.substr(2).c_str(), &info) &&
      info.type == "bool") {
    return Status::Ok();
  }
  return Status::Error("--" + name + ": unknown flag");
}

Status CheckFlagFile(const std::string& path, int depth) {
  std::ifstream in(path);
  if (!in) return Status::Error("--flagfile: cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start);
    if (line[0] != '-') continue;  // gflags treats other lines as file names to match
    Status s = CheckName(line);
    if (!s.ok()) return Status::Error(s.message() + " (in " + path + ")");
    if (line.rfind("--flagfile=", 0) == 0 && depth < 8) {
      Status nested = CheckFlagFile(line.substr(11), depth + 1);
      if (!nested.ok()) return nested;
    }
  }
  return Status::Ok();
}

// True if the flag `name` (a gflags bool, e.g. "help") is set.
bool BoolFlagSet(const char* name) {
  std::string value;
  return gflags::GetCommandLineOption(name, &value) && value == "true";
}

// Appends `text` to *out word-wrapped at kHelpWidth columns, each line indented
// by `indent` spaces.
void AppendWrapped(std::string_view text, size_t indent, std::string* out) {
  constexpr size_t kHelpWidth = 80;
  size_t column = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (column > 0 && column + 1 + word.size() > kHelpWidth) {
      out->push_back('\n');
      column = 0;
    }
    if (column == 0) {
      out->append(indent, ' ');
      column = indent;
    } else {
      out->push_back(' ');
      ++column;
    }
    out->append(word);
    column += word.size();
  }
  out->push_back('\n');
}

// One flag of the help text: "--name=TYPE (default D)" and its description.
void AppendFlag(const gflags::CommandLineFlagInfo& flag, std::string* out) {
  auto shown = [&flag](const std::string& value) {
    return flag.type == "string" ? "\"" + value + "\"" : value;
  };
  std::string head = "--" + flag.name + "=" + flag.type + " (default " +
                     shown(flag.default_value);
  if (flag.current_value != flag.default_value) head += "; now " + shown(flag.current_value);
  head += ")";
  AppendWrapped(head, 2, out);
  AppendWrapped(flag.description, 6, out);
}

}  // namespace

std::string AgentHelpText(bool full) {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);  // sorted by file, then name
  std::string own;
  std::string common;  // the library flags worth knowing without --helpfull
  std::map<std::string, std::string> by_file;  // the other flags, for --helpfull
  for (const gflags::CommandLineFlagInfo& flag : all) {
    if (flag.filename == __FILE__) {
      AppendFlag(flag, &own);
    } else if (full) {
      AppendFlag(flag, &by_file[flag.filename]);
    } else if (flag.name == "flagfile" || flag.name == "v") {
      AppendFlag(flag, &common);
    }
  }
  std::string text = "latchd: " + std::string(gflags::ProgramUsage()) + "\n\n";
  text += "latchd's flags:\n" + own;
  if (full) {
    for (const auto& [file, flags] : by_file) text += "\nflags from " + file + ":\n" + flags;
  } else {
    text += "\nlibrary flags (--helpfull lists all of them, glog's and gflags'):\n" + common;
  }
  text += "\n--version prints the version. See latchd(8).\n";
  return text;
}

Status CheckKnownFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') {
      return Status::Error("unexpected argument \"" + arg + "\" (flags are --name=value)");
    }
    Status s = CheckName(arg);
    if (!s.ok()) return s;
    std::string name = arg.substr(arg.find_first_not_of('-'));
    if (name.rfind("flagfile=", 0) == 0) {
      Status f = CheckFlagFile(name.substr(9), 0);
      if (!f.ok()) return f;
    }
  }
  return Status::Ok();
}

Result<AgentConfig> ParseAgentFlags(int* argc, char*** argv, std::vector<std::string>* notes) {
  Status known = CheckKnownFlags(*argc, *argv);
  if (!known.ok()) return known;
  gflags::ParseCommandLineNonHelpFlags(argc, argv, true);
  bool full = BoolFlagSet("helpfull");
  if (full || BoolFlagSet("help") || BoolFlagSet("helpshort")) {
    std::fputs(AgentHelpText(full).c_str(), stdout);
    std::fflush(stdout);
    std::exit(0);
  }
  gflags::HandleCommandLineHelpFlags();  // --version, --helpxml, --helpon, ...: exit
  RawFlags raw = g_flags;
  if (!g_atlas_properties.empty()) {
    // Explicit: given on the command line or in a --flagfile, even if equal to the default.
    auto is_explicit = [](const std::string& name) {
      gflags::CommandLineFlagInfo info;
      return gflags::GetCommandLineFlagInfo(name.c_str(), &info) && !info.is_default;
    };
    Status applied = ApplyAtlasProperties(g_atlas_properties, is_explicit, &raw, notes);
    if (!applied.ok()) return applied;
  }
  return ValidateFlags(raw);
}

}  // namespace latchd
