// JsonWriter and the status documents: what a client parsing the socket's
// lines relies on.
#include "lib/api/status_json.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "lib/util/json_writer.h"

namespace latchd {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(JsonWriterTest, EscapesLikeNlohmannForValidUtf8) {
  const std::string cases[] = {
      "",
      "plain host-1.example:21000",
      "quote\" backslash\\ slash/",
      std::string("controls \b\f\n\r\t \x01\x1f\x7f end"),
      std::string("nul\0inside", 10),
      "utf8 \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF",
  };
  for (const std::string& s : cases) {
    EXPECT_EQ(Quoted(s), nlohmann::json(s).dump()) << "input: " << nlohmann::json(s).dump();
  }
}

TEST(JsonWriterTest, InvalidUtf8BecomesReplacementCharacters) {
  const std::string replacement = "\xEF\xBF\xBD";
  struct Case {
    std::string input;
    std::string decoded;
  } cases[] = {
      {"a\xFF" "b", "a" + replacement + "b"},
      {"\xC0\xAF", replacement + replacement},                   // overlong '/'
      {"\xED\xA0\x80", replacement + replacement + replacement},  // a surrogate
      {"\xF4\x90\x80\x80", replacement + replacement + replacement + replacement},  // > U+10FFFF
      {"cut \xE2\x82", "cut " + replacement + replacement},      // truncated at the end
      {"\x80", replacement},                                     // lone continuation byte
  };
  for (const Case& c : cases) {
    std::string text = Quoted(c.input);
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(parsed.is_discarded()) << "not JSON: " << text;
    EXPECT_EQ(parsed.get<std::string>(), c.decoded);
  }
}

TEST(JsonWriterTest, IntegersAndNull) {
  std::string out;
  AppendJsonInt(&out, -9223372036854775807 - 1);
  out.push_back(' ');
  AppendJsonStringOrNull(&out, "");
  out.push_back(' ');
  AppendJsonStringOrNull(&out, "x");
  EXPECT_EQ(out, "-9223372036854775808 null \"x\"");
}

CoreStatus SampleStatus(MonoTime now) {
  CoreStatus s;
  s.role = Role::kActive;
  s.epoch = 4294967301;
  s.leader = LeaderInfo{"host-a", "host-a:21000", 4294967301};
  s.connected = true;
  s.session_id = 0x100abcdef;
  s.session_timeout = std::chrono::milliseconds(4000);
  s.lease_remaining = std::chrono::milliseconds(3456);
  s.since = now - std::chrono::milliseconds(1500);
  s.participants = 3;
  return s;
}

TEST(StatusJsonTest, StatusCarriesEveryField) {
  MonoTime now = MonoTime{} + std::chrono::hours(5);
  std::string line = StatusJson("host-a", SampleStatus(now), now, 1'700'000'000'000);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["id"], "host-a");
  EXPECT_EQ(j["role"], "ACTIVE");
  EXPECT_EQ(j["epoch"], 4294967301);
  EXPECT_EQ(j["leader"], (nlohmann::json{{"id", "host-a"}, {"address", "host-a:21000"},
                                         {"epoch", 4294967301}}));
  EXPECT_EQ(j["lease_ms"], 3456);
  EXPECT_EQ(j["since"], 1'700'000'000'000 - 1500);
  EXPECT_EQ(j["participants"], 3);
  EXPECT_EQ(j["zk"], (nlohmann::json{{"state", "CONNECTED"}, {"session_id", "0x100abcdef"},
                                     {"timeout_ms", 4000}}));
  EXPECT_FALSE(j.contains("previous_role"));
  EXPECT_EQ(j.size(), 9u);
  // Compact, keys sorted: the bytes nlohmann::json would write.
  EXPECT_EQ(line, j.dump());
}

TEST(StatusJsonTest, WatchLineReportsTheChange) {
  MonoTime now = MonoTime{} + std::chrono::hours(5);
  RoleChangeAction change{Role::kBecomingActive, Role::kActive, 77, "activation acknowledged",
                          SampleStatus(now)};
  ClientStatus cs;
  FillChangeStatus(&cs, "host-a", change, now, 1000);
  std::string line;
  AppendStatusLine(&line, cs);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(line, j.dump());
  EXPECT_EQ(j["role"], "ACTIVE");
  EXPECT_EQ(j["previous_role"], "BECOMING_ACTIVE");
  EXPECT_EQ(j["epoch"], 77);
  EXPECT_EQ(j["reason"], "activation acknowledged");
  EXPECT_EQ(j.size(), 11u);
}

TEST(StatusJsonTest, EveryFieldRoundTripsThroughTheClientsParser) {
  ClientStatus s;
  s.role = Role::kBecomingPassive;
  s.epoch = 4294967301;
  s.leader_id = "host-b";
  s.leader_address = "http://host-b:21000";
  s.leader_epoch = 4294967300;
  s.lease_ms = 1234;
  s.zk_connected = true;
  s.id = "host-\"a\"";
  s.zk_session_id = "0x100abcdef";
  s.zk_timeout_ms = 4000;
  s.since_ms = 1'700'000'000'000;
  s.participants = 3;
  s.server_healthy = false;
  s.server_reason = "no hold: the server holds no connection to the agent";
  s.server_since_ms = 1'700'000'000'123;
  s.server_holds = 2;
  s.server_waiting = true;
  for (bool change : {false, true}) {
    if (change) {
      s.previous_role = Role::kActive;
      s.reason = "lease lapsed";
    }
    std::string line;
    AppendStatusLine(&line, s);
    auto back = ParseStatusLine(line);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->role, s.role);
    EXPECT_EQ(back->epoch, s.epoch);
    EXPECT_EQ(back->leader_id, s.leader_id);
    EXPECT_EQ(back->leader_address, s.leader_address);
    EXPECT_EQ(back->leader_epoch, s.leader_epoch);
    EXPECT_EQ(back->lease_ms, s.lease_ms);
    EXPECT_EQ(back->zk_connected, s.zk_connected);
    EXPECT_EQ(back->id, s.id);
    EXPECT_EQ(back->zk_session_id, s.zk_session_id);
    EXPECT_EQ(back->zk_timeout_ms, s.zk_timeout_ms);
    EXPECT_EQ(back->since_ms, s.since_ms);
    EXPECT_EQ(back->participants, s.participants);
    EXPECT_EQ(back->previous_role, s.previous_role);
    EXPECT_EQ(back->server_healthy, s.server_healthy);
    EXPECT_EQ(back->server_reason, s.server_reason);
    EXPECT_EQ(back->server_since_ms, s.server_since_ms);
    EXPECT_EQ(back->server_holds, s.server_holds);
    EXPECT_EQ(back->server_waiting, s.server_waiting);
    EXPECT_EQ(back->reason, s.reason);
    // Every key the writer wrote is one the table knows, in sorted order.
    nlohmann::json j = nlohmann::json::parse(line);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    std::vector<std::string_view> table = StatusLineKeys(s);
    std::vector<std::string> expected(table.begin(), table.end());
    EXPECT_EQ(keys, expected);
    EXPECT_EQ(line, j.dump());
  }
}

TEST(StatusJsonTest, UnknownLeaderAndNoSession) {
  MonoTime now = MonoTime{} + std::chrono::hours(5);
  CoreStatus s;  // PASSIVE, nothing known yet
  std::string line = StatusJson("h\"1", s, now, 1000);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(line, j.dump());
  EXPECT_EQ(j["id"], "h\"1");
  EXPECT_EQ(j["role"], "PASSIVE");
  EXPECT_TRUE(j["leader"]["id"].is_null());
  EXPECT_TRUE(j["leader"]["address"].is_null());
  EXPECT_EQ(j["lease_ms"], 0);
  EXPECT_EQ(j["since"], 0);
  EXPECT_EQ(j["zk"]["state"], "DISCONNECTED");
  EXPECT_EQ(j["zk"]["session_id"], "");
}

TEST(StatusJsonTest, LeaderDataThatIsNotUtf8StillGivesJson) {
  LeaderInfo leader{"bad\xFFid", "", 5};
  nlohmann::json j = nlohmann::json::parse(LeaderJson(leader));
  EXPECT_EQ(j["id"], "bad\xEF\xBF\xBDid");
  EXPECT_TRUE(j["address"].is_null());
  EXPECT_EQ(j["epoch"], 5);
}

}  // namespace
}  // namespace latchd
