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

DEFINE_string(id, "", "This participant's id (required; no ',' or '/'), e.g. the Atlas server id");
DEFINE_string(advertise, "", "URL published in <zk_root>/active_server_info while ACTIVE");
DEFINE_string(zk_connect, "", "ZooKeeper connect string host:port[,host:port...][/chroot] (required)");
DEFINE_string(zk_root, "/latchd", "Root znode; the latch is <zk_root>/leader_elector_path");
DEFINE_int64(zk_session_timeout_ms, 10000, "Requested session timeout; the negotiated one is used");
DEFINE_string(zk_acl, "", "Comma-separated scheme:id entries granted all permissions on created nodes");
DEFINE_string(zk_auth_file, "", "File holding scheme:auth (e.g. digest:user:password)");
DEFINE_string(http_listen, "127.0.0.1:21100", "HOST:PORT for the HTTP endpoints; empty disables");
DEFINE_string(socket_path, "/run/latchd/latchd.sock", "Unix socket path; empty disables");
DEFINE_double(lease_margin, 0.25, "Lease = negotiated session timeout x (1 - margin)");
DEFINE_int64(activation_ack_timeout_ms, 0,
             "If > 0, stay BECOMING_ACTIVE until a socket client sends 'ack <epoch>'; give "
             "leadership up if none arrives within this time");
DEFINE_string(on_transition, "", "Executable run on every role change (new role, previous role, "
              "epoch, leader id, leader address); a failure while BECOMING_ACTIVE gives leadership up");
DEFINE_int64(on_transition_timeout_ms, 30000, "Time limit of one --on_transition run");
DEFINE_string(socket_mode, "0660", "Permissions of the Unix socket (octal)");
DEFINE_string(socket_group, "", "Group of the Unix socket (the co-located server's group)");
DEFINE_string(atlas_properties, "",
              "Apache Atlas's atlas-application.properties: take --id, --advertise, --zk_connect, "
              "--zk_root, --zk_session_timeout_ms and --zk_acl from its HA settings; flags given "
              "explicitly win (docs/atlas.md)");
DEFINE_string(journal, "", "Append every role change as a JSON line (monotonic and wall time) to this file");

// ---- ZooKeeper SASL and TLS (lib/api/zk_security_config.h validates them) -----------------
DEFINE_string(zk_sasl_mechanism, "",
              "SASL authentication to ZooKeeper: GSSAPI (Kerberos) or DIGEST-MD5; empty: none. "
              "Not together with --zk_tls_*: the ZooKeeper 3.8 C client has no SASL over TLS");
DEFINE_string(zk_sasl_service, "zookeeper", "SASL service name (the servers' principal zookeeper/<host>)");
DEFINE_string(zk_sasl_host, "",
              "SASL server name, one for every server; empty: GSSAPI uses the address of the "
              "server connected to (canonicalized by Kerberos), DIGEST-MD5 uses zk-sasl-md5");
DEFINE_string(zk_sasl_user, "", "DIGEST-MD5 user (a user_<name> of the servers' JAAS Server section)");
DEFINE_string(zk_sasl_password_file, "", "DIGEST-MD5: file whose first line is the password");
DEFINE_string(zk_sasl_keytab, "", "GSSAPI: client keytab (tickets are obtained and renewed from it)");
DEFINE_string(zk_sasl_principal, "",
              "GSSAPI: client principal, e.g. atlas/_HOST@EXAMPLE.COM (_HOST: this host's name); "
              "empty: the keytab's first");
DEFINE_string(zk_tls_ca, "", "TLS to ZooKeeper's secureClientPort: PEM file of the CA that signed the servers");
DEFINE_string(zk_tls_cert, "", "TLS: PEM file of this client's certificate (chain)");
DEFINE_string(zk_tls_key, "", "TLS: PEM file of the certificate's unencrypted private key");

namespace latchd {
namespace {

RawZkSecurity ZkSecurityFlags() {
  RawZkSecurity raw;
  raw.sasl_mechanism = FLAGS_zk_sasl_mechanism;
  raw.sasl_service = FLAGS_zk_sasl_service;
  raw.sasl_host = FLAGS_zk_sasl_host;
  raw.sasl_user = FLAGS_zk_sasl_user;
  raw.sasl_password_file = FLAGS_zk_sasl_password_file;
  raw.sasl_keytab = FLAGS_zk_sasl_keytab;
  raw.sasl_principal = FLAGS_zk_sasl_principal;
  raw.tls_ca = FLAGS_zk_tls_ca;
  raw.tls_cert = FLAGS_zk_tls_cert;
  raw.tls_key = FLAGS_zk_tls_key;
  return raw;
}

}  // namespace
}  // namespace latchd
// ---- end of ZooKeeper SASL and TLS ----------------------------------------------------------

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
  RawFlags raw;
  raw.id = FLAGS_id;
  raw.advertise = FLAGS_advertise;
  raw.zk_connect = FLAGS_zk_connect;
  raw.zk_root = FLAGS_zk_root;
  raw.zk_session_timeout_ms = FLAGS_zk_session_timeout_ms;
  raw.zk_acl = FLAGS_zk_acl;
  raw.zk_auth_file = FLAGS_zk_auth_file;
  raw.http_listen = FLAGS_http_listen;
  raw.socket_path = FLAGS_socket_path;
  raw.lease_margin = FLAGS_lease_margin;
  raw.activation_ack_timeout_ms = FLAGS_activation_ack_timeout_ms;
  raw.on_transition = FLAGS_on_transition;
  raw.on_transition_timeout_ms = FLAGS_on_transition_timeout_ms;
  raw.socket_mode = FLAGS_socket_mode;
  raw.socket_group = FLAGS_socket_group;
  raw.journal = FLAGS_journal;
  raw.zk_security = ZkSecurityFlags();
  if (!FLAGS_atlas_properties.empty()) {
    // Explicit: given on the command line or in a --flagfile, even if equal to the default.
    auto is_explicit = [](const std::string& name) {
      gflags::CommandLineFlagInfo info;
      return gflags::GetCommandLineFlagInfo(name.c_str(), &info) && !info.is_default;
    };
    Status applied = ApplyAtlasProperties(FLAGS_atlas_properties, is_explicit, &raw, notes);
    if (!applied.ok()) return applied;
  }
  return ValidateFlags(raw);
}

}  // namespace latchd
