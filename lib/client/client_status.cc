#include "lib/client/client_status.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "lib/util/json_writer.h"

namespace latchd {
namespace {

using Json = nlohmann::json;

// A string member, or "" when missing or null.
std::string StringOr(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

int64_t IntOr(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  return it->get<int64_t>();
}

int64_t IntOf(const Json& v) { return v.is_number_integer() ? v.get<int64_t>() : 0; }
std::string StringOf(const Json& v) { return v.is_string() ? v.get<std::string>() : ""; }

void AppendRole(std::string* out, Role role) {
  out->push_back('"');
  out->append(RoleName(role));  // role names need no escaping
  out->push_back('"');
}

// One key of the status line: how it is written and read, and whether a
// line of `s` has it. The rows are in the line's (sorted) key order.
struct StatusField {
  const char* key;
  void (*write)(std::string* out, const ClientStatus& s);
  void (*read)(const Json& value, ClientStatus* s);
  bool (*present)(const ClientStatus& s);  // nullptr: always
};

bool IsChange(const ClientStatus& s) { return s.previous_role.has_value(); }

const StatusField kFields[] = {
    {"epoch", [](std::string* o, const ClientStatus& s) { AppendJsonInt(o, s.epoch); },
     [](const Json& v, ClientStatus* s) { s->epoch = IntOf(v); }, nullptr},
    {"id", [](std::string* o, const ClientStatus& s) { AppendJsonString(o, s.id); },
     [](const Json& v, ClientStatus* s) { s->id = StringOf(v); }, nullptr},
    {"leader",
     [](std::string* o, const ClientStatus& s) {
       AppendLeaderObject(o, s.leader_id, s.leader_address, s.leader_epoch);
     },
     [](const Json& v, ClientStatus* s) {
       if (!v.is_object()) return;
       s->leader_id = StringOr(v, "id");
       s->leader_address = StringOr(v, "address");
       s->leader_epoch = IntOr(v, "epoch");
     },
     nullptr},
    {"lease_ms", [](std::string* o, const ClientStatus& s) { AppendJsonInt(o, s.lease_ms); },
     [](const Json& v, ClientStatus* s) { s->lease_ms = std::max<int64_t>(0, IntOf(v)); }, nullptr},
    {"participants",
     [](std::string* o, const ClientStatus& s) { AppendJsonInt(o, s.participants); },
     [](const Json& v, ClientStatus* s) { s->participants = IntOf(v); }, nullptr},
    {"previous_role", [](std::string* o, const ClientStatus& s) { AppendRole(o, *s.previous_role); },
     [](const Json& v, ClientStatus* s) { s->previous_role = ParseRole(StringOf(v)); }, IsChange},
    {"reason", [](std::string* o, const ClientStatus& s) { AppendJsonString(o, s.reason); },
     [](const Json& v, ClientStatus* s) { s->reason = StringOf(v); }, IsChange},
    {"role", [](std::string* o, const ClientStatus& s) { AppendRole(o, s.role); },
     [](const Json& v, ClientStatus* s) {}, nullptr},  // read first, and required (Parse)
    {"server",
     [](std::string* o, const ClientStatus& s) {
       o->append(s.server_healthy ? "{\"healthy\":true,\"holds\":" : "{\"healthy\":false,\"holds\":");
       AppendJsonInt(o, s.server_holds);
       o->append(",\"reason\":");
       AppendJsonString(o, s.server_reason);
       o->append(",\"since\":");
       AppendJsonInt(o, s.server_since_ms);
       o->append(s.server_waiting ? ",\"waiting\":true}" : ",\"waiting\":false}");
     },
     [](const Json& v, ClientStatus* s) {
       if (!v.is_object()) return;
       auto b = v.find("healthy");
       s->server_healthy = b == v.end() || !b->is_boolean() || b->get<bool>();
       s->server_reason = StringOr(v, "reason");
       s->server_since_ms = IntOr(v, "since");
       s->server_holds = IntOr(v, "holds");
       auto w = v.find("waiting");
       s->server_waiting = w != v.end() && w->is_boolean() && w->get<bool>();
     },
     nullptr},
    {"since", [](std::string* o, const ClientStatus& s) { AppendJsonInt(o, s.since_ms); },
     [](const Json& v, ClientStatus* s) { s->since_ms = IntOf(v); }, nullptr},
    {"zk",
     [](std::string* o, const ClientStatus& s) {
       o->append("{\"session_id\":");
       AppendJsonString(o, s.zk_session_id);
       o->append(s.zk_connected ? ",\"state\":\"CONNECTED\",\"timeout_ms\":"
                                : ",\"state\":\"DISCONNECTED\",\"timeout_ms\":");
       AppendJsonInt(o, s.zk_timeout_ms);
       o->push_back('}');
     },
     [](const Json& v, ClientStatus* s) {
       if (!v.is_object()) return;
       s->zk_connected = StringOr(v, "state") == "CONNECTED";
       s->zk_session_id = StringOr(v, "session_id");
       s->zk_timeout_ms = IntOr(v, "timeout_ms");
     },
     nullptr},
};

}  // namespace

void AppendLeaderObject(std::string* out, std::string_view id, std::string_view address,
                        int64_t epoch) {
  out->append("{\"address\":");
  AppendJsonStringOrNull(out, address);
  out->append(",\"epoch\":");
  AppendJsonInt(out, epoch);
  out->append(",\"id\":");
  AppendJsonStringOrNull(out, id);
  out->push_back('}');
}

void AppendStatusLine(std::string* out, const ClientStatus& s) {
  // Written from the table's fragments (this runs for every `status`
  // request); the keys in sorted order, as nlohmann::json writes them.
  char sep = '{';
  for (const StatusField& f : kFields) {
    if (f.present && !f.present(s)) continue;
    out->push_back(sep);
    sep = ',';
    out->push_back('"');
    out->append(f.key);
    out->append("\":");
    f.write(out, s);
  }
  out->push_back('}');
}

std::vector<std::string_view> StatusLineKeys(const ClientStatus& s) {
  std::vector<std::string_view> keys;
  for (const StatusField& f : kFields) {
    if (!f.present || f.present(s)) keys.emplace_back(f.key);
  }
  return keys;
}

Result<ClientStatus> ParseStatusLine(std::string_view line) {
  auto j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Error("latchd answered with something that is not a JSON object: " +
                         std::string(line.substr(0, 200)));
  }
  if (auto err = j.find("error"); err != j.end()) {
    return Status::Error("latchd: " + (err->is_string() ? err->get<std::string>() : err->dump()));
  }
  std::optional<Role> role = ParseRole(StringOr(j, "role"));
  if (!role) {
    return Status::Error("latchd answered without a valid \"role\": " +
                         std::string(line.substr(0, 200)));
  }
  ClientStatus s;
  s.role = *role;
  for (const StatusField& f : kFields) {
    auto it = j.find(f.key);
    if (it != j.end()) f.read(*it, &s);
  }
  return s;
}

}  // namespace latchd
