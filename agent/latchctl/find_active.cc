#include "agent/latchctl/find_active.h"

#include <poll.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/latchctl/http_get.h"

namespace latchd {
namespace latchctl {
namespace {

constexpr char kAtlasStatusPath[] = "/api/atlas/admin/status";

struct Server {
  std::string url;  // as given
  HttpUrl parsed;
  std::string answer;  // the last answer: a role word, "HTTP 503", or "error: ..."
};

// One probe: the role word the server answered, or why there is none.
Result<std::string> Probe(const Server& s, std::chrono::milliseconds timeout) {
  auto r = HttpGet(s.parsed, kAtlasStatusPath, timeout);
  if (!r.ok()) return r.status();
  if (r->status != 200) return Status::Error("HTTP " + std::to_string(r->status));
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_object()) {
    auto it = j.find("Status");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return Status::Error("not an Atlas status answer: " + r->body.substr(0, 80));
}

void SleepMs(int ms) {
  // poll with no fds: an interruptible-by-signal sleep with a plain deadline.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return;
    poll(nullptr, 0, static_cast<int>(left));
  }
}

}  // namespace

int FindActive(const CliOptions& o) {
  if (!o.args.empty()) {
    std::fprintf(stderr, "latchctl: find-active takes no arguments; use --servers=URL,URL\n%s\n",
                 UsageLine().c_str());
    return kExitUsage;
  }
  if (o.servers.empty()) {
    std::fprintf(stderr, "latchctl: find-active needs --servers=URL[,URL...]\n%s\n", UsageLine().c_str());
    return kExitUsage;
  }
  std::vector<Server> servers;
  for (const auto& url : o.servers) {
    auto parsed = ParseHttpUrl(url);
    if (!parsed.ok()) {
      std::fprintf(stderr, "latchctl: find-active: %s\n", parsed.status().message().c_str());
      return kExitUsage;
    }
    servers.push_back(Server{url, std::move(parsed).value(), ""});
  }
  const auto timeout = std::chrono::milliseconds(o.timeout_ms);
  for (int round = 1; round <= o.retries; ++round) {
    for (auto& s : servers) {
      auto role = Probe(s, timeout);
      s.answer = role.ok() ? *role : "error: " + role.status().message();
      if (role.ok() && *role == "ACTIVE") {
        if (o.json) {
          nlohmann::json answers = nlohmann::json::object();
          for (const auto& x : servers) {
            if (!x.answer.empty()) answers[x.url] = x.answer;
          }
          std::printf("%s\n", nlohmann::json{{"active", s.url}, {"answers", answers}}.dump().c_str());
        } else {
          std::printf("%s\n", s.url.c_str());
        }
        return kExitOk;
      }
    }
    if (round < o.retries) SleepMs(o.retry_interval_ms);
  }
  std::string summary;
  nlohmann::json answers = nlohmann::json::object();
  for (const auto& s : servers) {
    if (!summary.empty()) summary += "; ";
    summary += s.url + " -> " + s.answer;
    answers[s.url] = s.answer;
  }
  if (o.json) {
    std::printf("%s\n", nlohmann::json{{"active", nullptr}, {"answers", answers}}.dump().c_str());
  }
  std::fprintf(stderr, "latchctl: no ACTIVE server after %d round%s: %s\n", o.retries,
               o.retries == 1 ? "" : "s", summary.c_str());
  return kExitFailed;
}

}  // namespace latchctl
}  // namespace latchd
