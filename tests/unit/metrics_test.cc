#include "lib/metrics/metrics.h"

#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/core/role.h"

namespace latchd {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// The parsed exposition: samples plus the families named in # HELP / # TYPE.
struct Exposition {
  std::vector<Sample> samples;
  std::set<std::string> help;             // families with a # HELP line
  std::map<std::string, std::string> type;  // family -> counter/gauge/...
  std::vector<std::string> bad_lines;     // neither comment nor sample
};

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// Parses `name{k="v",...} value [timestamp]` (labels optional). nullopt if the
// line is not a well-formed sample.
std::optional<Sample> ParseSample(std::string_view line) {
  Sample s;
  size_t i = 0;
  while (i < line.size() && IsNameChar(line[i], i == 0)) ++i;
  if (i == 0) return std::nullopt;
  s.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t k = i;
      while (i < line.size() && IsNameChar(line[i], i == k)) ++i;
      if (i == k || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        return std::nullopt;
      }
      std::string key(line.substr(k, i - k));
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          if (++i >= line.size()) return std::nullopt;
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
        ++i;
      }
      if (i >= line.size()) return std::nullopt;
      ++i;  // closing quote
      if (!s.labels.emplace(key, value).second) return std::nullopt;  // duplicate label
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return std::nullopt;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return std::nullopt;
  std::string rest(line.substr(i + 1));
  std::istringstream in(rest);
  std::string value_text;
  in >> value_text;
  if (value_text.empty()) return std::nullopt;
  if (value_text == "+Inf") {
    s.value = std::numeric_limits<double>::infinity();
  } else if (value_text == "-Inf") {
    s.value = -std::numeric_limits<double>::infinity();
  } else {
    char* end = nullptr;
    s.value = std::strtod(value_text.c_str(), &end);
    if (*end != '\0') return std::nullopt;
  }
  std::string timestamp;
  if (in >> timestamp) {
    char* end = nullptr;
    std::strtoll(timestamp.c_str(), &end, 10);
    if (*end != '\0') return std::nullopt;
  }
  std::string extra;
  if (in >> extra) return std::nullopt;
  return s;
}

Exposition Parse(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string family;
      std::string rest;
      words >> family;
      std::getline(words, rest);
      if (family.empty() || rest.size() < 2) {
        e.bad_lines.push_back(line);
      } else if (line[2] == 'H') {
        e.help.insert(family);
      } else {
        e.type[family] = rest.substr(1);
      }
      continue;
    }
    if (line[0] == '#') continue;  // other comments are allowed
    std::optional<Sample> s = ParseSample(line);
    if (s) {
      e.samples.push_back(*std::move(s));
    } else {
      e.bad_lines.push_back(line);
    }
  }
  return e;
}

// The value of the series with exactly these labels, nullopt if absent.
std::optional<double> Value(const Exposition& e, std::string_view name,
                            const Labels& labels = {}) {
  for (const Sample& s : e.samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

// All series of a metric.
std::vector<Sample> Series(const Exposition& e, std::string_view name) {
  std::vector<Sample> out;
  for (const Sample& s : e.samples) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

Exposition Scrape(const Metrics& m) { return Parse(m.Serialize()); }

Labels Transition(Role from, Role to) {
  return {{"from", std::string(RoleName(from))}, {"to", std::string(RoleName(to))}};
}

void ExpectOnlyRole(const Exposition& e, Role role) {
  for (Role r : kAllRoles) {
    EXPECT_EQ(Value(e, kRoleMetric, {{"role", std::string(RoleName(r))}}),
              r == role ? 1.0 : 0.0)
        << RoleName(r);
  }
  EXPECT_EQ(Series(e, kRoleMetric).size(), 4u);
}

TEST(MetricsTest, ParserReadsSamples) {
  std::optional<Sample> s = ParseSample(R"(a_b{x="1",y="q\"z"} 2.5)");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "a_b");
  EXPECT_EQ(s->labels, (Labels{{"x", "1"}, {"y", "q\"z"}}));
  EXPECT_EQ(s->value, 2.5);
  EXPECT_TRUE(ParseSample("plain 3 1700000000000").has_value());
  EXPECT_FALSE(ParseSample("plain").has_value());
  EXPECT_FALSE(ParseSample("x{a=1} 2").has_value());
  EXPECT_FALSE(ParseSample("x 2 3 4").has_value());
}

TEST(MetricsTest, BuildInfoCarriesVersion) {
  Metrics m("1.2.3");
  Exposition e = Scrape(m);
  EXPECT_EQ(Value(e, kBuildInfoMetric, {{"version", "1.2.3"}}), 1.0);
  EXPECT_EQ(Series(e, kBuildInfoMetric).size(), 1u);
}

TEST(MetricsTest, StartsPassiveWithAllRoleSeries) {
  Metrics m("v");
  Exposition e = Scrape(m);
  ExpectOnlyRole(e, Role::kPassive);
  EXPECT_EQ(Value(e, kLeaderMetric), 0.0);
}

TEST(MetricsTest, SetRolePassive) {
  Metrics m("v");
  m.SetRole(Role::kActive);
  m.SetRole(Role::kPassive);
  Exposition e = Scrape(m);
  ExpectOnlyRole(e, Role::kPassive);
  EXPECT_EQ(Value(e, kLeaderMetric), 0.0);
  // SetRole is not a transition.
  for (const Sample& s : Series(e, kTransitionsMetric)) EXPECT_EQ(s.value, 0.0);
}

TEST(MetricsTest, RoleChangesUpToActive) {
  Metrics m("v");
  m.SetRole(Role::kPassive);
  m.OnRoleChange(Role::kPassive, Role::kBecomingActive);
  Exposition e = Scrape(m);
  ExpectOnlyRole(e, Role::kBecomingActive);
  EXPECT_EQ(Value(e, kLeaderMetric), 0.0) << "BECOMING_ACTIVE is not a leader yet";

  m.OnRoleChange(Role::kBecomingActive, Role::kActive);
  e = Scrape(m);
  ExpectOnlyRole(e, Role::kActive);
  EXPECT_EQ(Value(e, kLeaderMetric), 1.0);
  EXPECT_EQ(Value(e, kTransitionsMetric, Transition(Role::kPassive, Role::kBecomingActive)),
            1.0);
  EXPECT_EQ(Value(e, kTransitionsMetric, Transition(Role::kBecomingActive, Role::kActive)),
            1.0);
  EXPECT_EQ(Value(e, kTransitionsMetric, Transition(Role::kActive, Role::kBecomingPassive)),
            0.0)
      << "transition counters exist before their first increment";

  m.OnRoleChange(Role::kActive, Role::kBecomingPassive);
  m.OnRoleChange(Role::kBecomingPassive, Role::kPassive);
  m.OnRoleChange(Role::kPassive, Role::kBecomingActive);
  e = Scrape(m);
  ExpectOnlyRole(e, Role::kBecomingActive);
  EXPECT_EQ(Value(e, kLeaderMetric), 0.0);
  EXPECT_EQ(Value(e, kTransitionsMetric, Transition(Role::kPassive, Role::kBecomingActive)),
            2.0);
  EXPECT_EQ(Value(e, kTransitionsMetric, Transition(Role::kActive, Role::kBecomingPassive)),
            1.0);
  EXPECT_EQ(Value(e, kTransitionsMetric, Transition(Role::kBecomingPassive, Role::kPassive)),
            1.0);
}

TEST(MetricsTest, SameRoleIsNotATransition) {
  Metrics m("v");
  m.OnRoleChange(Role::kActive, Role::kActive);
  Exposition e = Scrape(m);
  ExpectOnlyRole(e, Role::kActive);
  for (const Sample& s : Series(e, kTransitionsMetric)) {
    EXPECT_NE(s.labels.at("from"), s.labels.at("to"));
    EXPECT_EQ(s.value, 0.0);
  }
}

TEST(MetricsTest, ActivationHistogram) {
  Metrics m("v");
  m.ObserveActivation(0.004);
  m.ObserveActivation(1.5);
  Exposition e = Scrape(m);
  std::string name = kActivationMetric;
  EXPECT_EQ(Value(e, name + "_count"), 2.0);
  EXPECT_DOUBLE_EQ(*Value(e, name + "_sum"), 1.504);
  EXPECT_EQ(Value(e, name + "_bucket", {{"le", "0.001"}}), 0.0);
  EXPECT_EQ(Value(e, name + "_bucket", {{"le", "0.005"}}), 1.0);
  EXPECT_EQ(Value(e, name + "_bucket", {{"le", "1"}}), 1.0);
  EXPECT_EQ(Value(e, name + "_bucket", {{"le", "60"}}), 2.0);
  EXPECT_EQ(Value(e, name + "_bucket", {{"le", "+Inf"}}), 2.0);
  EXPECT_EQ(e.type.at(name), "histogram");
}

TEST(MetricsTest, RequestsFoldUnknownHttpPaths) {
  Metrics m("v");
  m.OnRequest(kInterfaceHttp, "/active", 200);
  m.OnRequest(kInterfaceHttp, "/active", 503);
  m.OnRequest(kInterfaceHttp, "/active", 503);
  m.OnRequest(kInterfaceHttp, "/wp-login.php", 404);
  m.OnRequest(kInterfaceHttp, "/etc/passwd", 404);
  m.OnRequest(kInterfaceSocket, "status", 0);
  m.OnRequest(kInterfaceSocket, "frobnicate", 1);
  Exposition e = Scrape(m);
  auto labels = [](std::string i, std::string c, std::string code) {
    return Labels{{"interface", i}, {"command", c}, {"code", code}};
  };
  EXPECT_EQ(Value(e, kRequestsMetric, labels("http", "/active", "200")), 1.0);
  EXPECT_EQ(Value(e, kRequestsMetric, labels("http", "/active", "503")), 2.0);
  EXPECT_EQ(Value(e, kRequestsMetric, labels("http", kOtherCommand, "404")), 2.0);
  EXPECT_EQ(Value(e, kRequestsMetric, labels("socket", "status", "0")), 1.0);
  EXPECT_EQ(Value(e, kRequestsMetric, labels("socket", kOtherCommand, "1")), 1.0);
  for (const Sample& s : Series(e, kRequestsMetric)) {
    EXPECT_NE(s.labels.at("command"), "/wp-login.php");
    EXPECT_NE(s.labels.at("command"), "/etc/passwd");
    EXPECT_NE(s.labels.at("command"), "frobnicate");
  }
  EXPECT_EQ(Series(e, kRequestsMetric).size(), 5u);
}

TEST(MetricsTest, GaugesAndCounters) {
  Metrics m("v");
  m.SetEpoch(4294967296);
  m.SetZkConnected(true);
  m.OnSessionExpired();
  m.OnReconnect();
  m.OnReconnect();
  m.SetLeaseRemaining(7.25);
  m.SetParticipants(3);
  m.SetSocketClients(2);
  m.OnActivationTimeout();
  m.OnHookRun(true);
  m.OnHookRun(false);
  m.OnHookRun(false);
  Exposition e = Scrape(m);
  EXPECT_EQ(Value(e, kEpochMetric), 4294967296.0);
  EXPECT_EQ(Value(e, kZkConnectedMetric), 1.0);
  EXPECT_EQ(Value(e, kZkSessionExpirationsMetric), 1.0);
  EXPECT_EQ(Value(e, kZkReconnectsMetric), 2.0);
  EXPECT_EQ(Value(e, kLeaseRemainingMetric), 7.25);
  EXPECT_EQ(Value(e, kParticipantsMetric), 3.0);
  EXPECT_EQ(Value(e, kSocketClientsMetric), 2.0);
  EXPECT_EQ(Value(e, kActivationTimeoutsMetric), 1.0);
  EXPECT_EQ(Value(e, kHookRunsMetric, {{"result", kHookOk}}), 1.0);
  EXPECT_EQ(Value(e, kHookRunsMetric, {{"result", kHookFailed}}), 2.0);

  m.SetZkConnected(false);
  m.SetLeaseRemaining(-0.5);
  e = Scrape(m);
  EXPECT_EQ(Value(e, kZkConnectedMetric), 0.0);
  EXPECT_EQ(Value(e, kLeaseRemainingMetric), 0.0) << "a lapsed lease reads 0, not negative";
}

TEST(MetricsTest, TheServerBindingIsCountedByProbeAndHandoverReason) {
  Metrics m("v");
  m.SetServer(false, 2, true);
  m.OnProbe("http", true);
  m.OnProbe("exec", false);
  m.OnProbe("exec", false);
  m.OnHandover("server_unhealthy");
  m.OnHandover("nonsense");
  Exposition e = Scrape(m);
  EXPECT_EQ(Value(e, kServerHealthyMetric, {}), 0.0);
  EXPECT_EQ(Value(e, kServerHoldsMetric, {}), 2.0);
  EXPECT_EQ(Value(e, kLeaderWaitingMetric, {}), 1.0);
  EXPECT_EQ(Value(e, kHealthProbesMetric, Labels{{"probe", "http"}, {"result", "ok"}}), 1.0);
  EXPECT_EQ(Value(e, kHealthProbesMetric, Labels{{"probe", "exec"}, {"result", "failed"}}), 2.0);
  EXPECT_EQ(Value(e, kHandoversMetric, Labels{{"reason", "server_unhealthy"}}), 1.0);
  EXPECT_EQ(Value(e, kHandoversMetric, Labels{{"reason", "other"}}), 1.0);
  EXPECT_EQ(Value(e, kHandoversMetric, Labels{{"reason", "stop"}}), 0.0) << "every reason exists from the start";
}

TEST(MetricsTest, EveryMetricIsExportedFromTheStart) {
  Metrics m("v");
  Exposition e = Scrape(m);
  // requests_total has no series (and so no HELP/TYPE) before the first request.
  EXPECT_EQ(e.type.count(kRequestsMetric), 0u);
  m.OnRequest(kInterfaceHttp, "/healthz", 200);
  e = Scrape(m);
  const std::map<std::string, std::string> expected = {
      {kBuildInfoMetric, "gauge"},
      {kRoleMetric, "gauge"},
      {kLeaderMetric, "gauge"},
      {kTransitionsMetric, "counter"},
      {kEpochMetric, "gauge"},
      {kZkConnectedMetric, "gauge"},
      {kZkSessionExpirationsMetric, "counter"},
      {kZkReconnectsMetric, "counter"},
      {kLeaseRemainingMetric, "gauge"},
      {kActivationMetric, "histogram"},
      {kParticipantsMetric, "gauge"},
      {kSocketClientsMetric, "gauge"},
      {kRequestsMetric, "counter"},
      {kActivationTimeoutsMetric, "counter"},
      {kHookRunsMetric, "counter"},
      {kServerHealthyMetric, "gauge"},
      {kServerHoldsMetric, "gauge"},
      {kHealthProbesMetric, "counter"},
      {kHandoversMetric, "counter"},
      {kLeaderWaitingMetric, "gauge"},
  };
  for (const auto& [name, type] : expected) {
    EXPECT_THAT(e.help, Contains(name));
    ASSERT_EQ(e.type.count(name), 1u) << name;
    EXPECT_EQ(e.type.at(name), type) << name;
  }
  EXPECT_EQ(e.type.size(), expected.size()) << "a metric not listed in this test";
  for (const auto& [name, type] : expected) {
    std::string sample_name = type == "histogram" ? name + "_count" : name;
    EXPECT_FALSE(Series(e, sample_name).empty()) << name;
  }
}

TEST(MetricsTest, OutputIsCommentsAndSamplesWithHelpForEveryFamily) {
  Metrics m("0.1.0");
  m.OnRoleChange(Role::kPassive, Role::kBecomingActive);
  m.ObserveActivation(0.2);
  m.OnRequest(kInterfaceHttp, "/metrics", 200);
  m.OnRequest(kInterfaceSocket, "status", 0);
  m.OnHookRun(true);
  std::string text = m.Serialize();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  Exposition e = Parse(text);
  EXPECT_THAT(e.bad_lines, IsEmpty());
  // Every line is a # HELP / # TYPE comment or a sample.
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    bool comment = line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0;
    EXPECT_TRUE(comment || ParseSample(line).has_value()) << line;
  }
  // Every sample belongs to a family that has HELP and TYPE.
  for (const Sample& s : e.samples) {
    std::string family = s.name;
    for (std::string_view suffix : {"_bucket", "_count", "_sum"}) {
      std::string base = family.size() > suffix.size() &&
                                 family.compare(family.size() - suffix.size(), suffix.size(),
                                                suffix) == 0
                             ? family.substr(0, family.size() - suffix.size())
                             : "";
      if (!base.empty() && e.type.count(base) && e.type.at(base) == "histogram") {
        family = base;
        break;
      }
    }
    EXPECT_EQ(e.help.count(family), 1u) << s.name;
    EXPECT_EQ(e.type.count(family), 1u) << s.name;
  }
  for (const auto& [family, type] : e.type) EXPECT_EQ(e.help.count(family), 1u) << family;
}

TEST(MetricsTest, ScrapeNeverSeesTwoRoles) {
  Metrics m("v");
  std::thread writer([&m] {
    Role r = Role::kPassive;
    for (int i = 0; i < 2000; ++i) {
      Role next = kAllRoles[(static_cast<size_t>(r) + 1) % 4];
      m.OnRoleChange(r, next);
      m.OnRequest(kInterfaceHttp, "/status", 200);
      r = next;
    }
  });
  for (int i = 0; i < 200; ++i) {
    Exposition e = Scrape(m);
    double sum = 0;
    for (const Sample& s : Series(e, kRoleMetric)) sum += s.value;
    ASSERT_EQ(sum, 1.0);
    double leader = *Value(e, kLeaderMetric);
    ASSERT_EQ(leader, *Value(e, kRoleMetric, {{"role", "ACTIVE"}}));
  }
  writer.join();
}

}  // namespace
}  // namespace latchd
