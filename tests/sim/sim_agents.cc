#include "tests/sim/sim_agents.h"

#include <signal.h>

#include <cstdio>

#include "lib/core/latch_node.h"

namespace latchd::sim {
namespace {

std::optional<Role> RoleOfLine(std::string_view line) {
  static constexpr std::string_view kKey = "\"role\":\"";
  size_t at = line.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  size_t end = line.find('"', at + kKey.size());
  std::string_view name = line.substr(at + kKey.size(), end - at - kKey.size());
  for (Role r : kAllRoles) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

// The lease a status line reports ("lease_ms"); nullopt without one.
std::optional<Duration> LeaseOfLine(std::string_view line) {
  static constexpr std::string_view kKey = "\"lease_ms\":";
  size_t at = line.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  long long ms = 0;
  if (std::sscanf(std::string(line.substr(at + kKey.size(), 20)).c_str(), "%lld", &ms) != 1) {
    return std::nullopt;
  }
  return milliseconds(ms);
}

bool IsPublishWrite(const ZkRequest& r, const std::string& asi) {
  return r.path == asi && (r.kind == ZkRequestKind::kCreate || r.kind == ZkRequestKind::kSetData);
}

}  // namespace

SimAgents::SimAgents(SimAgentsOptions options) : options_(std::move(options)), zk_(options_.zk) {
  procs_.resize(options_.agents);
  for (int i = 0; i < options_.agents; ++i) {
    SimClientOptions client;
    client.name = "host" + std::to_string(i);
    client.session_timeout = options_.session_timeout;
    zk_.AddClient(client, [this, i](const ClientEvent& e) { OnZk(i, e); });
  }
}

Instant SimAgents::At() const {
  auto ms = std::chrono::duration_cast<milliseconds>(now() - zk_.options().start).count();
  return Instant{now(), 1'700'000'000'000 + ms};
}

void SimAgents::Start(int i) {
  Process& p = procs_[i];
  std::optional<SessionRecord> record = p.record;
  std::vector<Line> watcher = std::move(p.watcher);
  p = Process{};
  p.record = record;
  p.watcher = std::move(watcher);
  p.first_line = p.watcher.size();  // a new process, a new watcher connection
  AgentConfig c;
  const std::string id = "host" + std::to_string(i);
  c.latch.id = id;
  c.latch.advertise = "http://" + id + ":21000";
  c.zk_connect = "zk1:2181,zk2:2181,zk3:2181";
  c.session_timeout = std::chrono::duration_cast<milliseconds>(options_.session_timeout);
  c.socket_path = "/run/latchd/" + id + ".sock";
  if (options_.configure) options_.configure(i, c);
  AgentCoreOptions o;
  o.new_uuid = [this] {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", ++uuids_);
    return std::string(buf);
  };
  o.session_file = c.socket_path + ".session";
  if (record) o.previous_record = Result<SessionRecord>(*record);
  p.metrics = std::make_unique<Metrics>("sim");
  p.asi = ActiveServerInfoPath(c.latch.zk_root);
  p.core = std::make_unique<AgentCore>(c, std::move(o), *p.metrics);
  p.running = true;
  zk_.SetPaused(i, false);
  Handle(i, agent::Started{});
  Handle(i, agent::ConnOpened{kWatcherConn, Peer{}});
  Handle(i, agent::LineReceived{kWatcherConn, "watch"});
}

void SimAgents::Crash(int i) {
  procs_[i].running = false;
  zk_.Abandon(i);
  Check();
}

void SimAgents::Stop(int i) { Handle(i, agent::SignalReceived{SIGTERM, 1}); }

void SimAgents::SetPaused(int i, bool on) {
  procs_[i].paused = on;
  zk_.SetPaused(i, on);
}

void SimAgents::Handle(int i, const agent::Event& event) {
  Process& p = procs_[i];
  p.queue.push_back(event);
  while (!p.queue.empty() && p.running) {
    agent::Event next = std::move(p.queue.front());
    p.queue.pop_front();
    Apply(i, p.core->Handle(next, At()));
    Check();
  }
}

void SimAgents::Apply(int i, const std::vector<agent::Action>& actions) {
  Process& p = procs_[i];
  for (const agent::Action& a : actions) {
    if (const auto* s = std::get_if<agent::SendBytes>(&a)) {
      if (s->conn == kWatcherConn) OnWatcherBytes(i, s->bytes);
    } else if (const auto* z = std::get_if<agent::ZkSubmit>(&a)) {
      if (IsPublishWrite(z->request, p.asi)) p.publish_ids.insert(z->request.id);
      zk_.Submit(i, z->request);
    } else if (std::holds_alternative<agent::ZkOpen>(a)) {
      const auto& resume = p.core->resume();
      zk_.Open(i, !p.opened && resume ? resume->session_id : 0);
      p.opened = true;
    } else if (std::holds_alternative<agent::ZkClose>(a)) {
      zk_.Close(i);
    } else if (const auto* w = std::get_if<agent::SessionRecordWrite>(&a)) {
      p.record = w->record;
    } else if (std::holds_alternative<agent::SessionRecordRemove>(a)) {
      p.record.reset();
    } else if (const auto* h = std::get_if<agent::HookRun>(&a)) {
      p.queue.push_back(agent::HookFinished{h->job, true, "simulated"});
    } else if (const auto* pr = std::get_if<agent::ProbeRun>(&a)) {
      p.queue.push_back(agent::ProbeFinished{pr->probe.id, true, "simulated"});
    } else if (const auto* l = std::get_if<agent::Log>(&a)) {
      p.logs.push_back(*l);
    } else if (std::holds_alternative<agent::Exit>(a)) {
      p.running = false;
      zk_.Abandon(i);
    }
  }
}

void SimAgents::OnWatcherBytes(int i, std::string_view bytes) {
  Process& p = procs_[i];
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl);
    bytes = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
    Line l{now(), std::string(line), RoleOfLine(line), LeaseOfLine(line)};
    if (l.role) {
      std::optional<Role> last = WatcherRole(i);
      const std::string where = "host" + std::to_string(i) + "'s watcher at +" +
                                std::to_string((now() - zk_.options().start) / milliseconds(1)) + " ms: ";
      if (last && IsClaim(*last) && *l.role == Role::kPassive) {
        violations_.push_back(where + "PASSIVE right after " + std::string(RoleName(*last)));
      }
      if (*l.role == Role::kBecomingActive) p.publish_answered = false;
      if (*l.role == Role::kActive && !p.publish_answered && last != Role::kActive) {
        violations_.push_back(where + "ACTIVE before the answer of its publish");
      }
    }
    p.watcher.push_back(std::move(l));
  }
}

void SimAgents::OnZk(int i, const ClientEvent& e) {
  Process& p = procs_[i];
  if (!p.running) return;
  if (const auto* s = std::get_if<SessionChange>(&e)) {
    Handle(i, agent::ZkSession{s->event, s->info});
  } else if (const auto* r = std::get_if<ZkResult>(&e)) {
    // A guarded create answered NODEEXISTS went through the leader too (its
    // guard held); the agent then reads the node and may find its own.
    if ((r->code == ZkCode::kOk || r->code == ZkCode::kNodeExists) && p.publish_ids.count(r->id)) {
      p.publish_answered = true;
    }
    Handle(i, agent::ZkAnswer{*r});
  } else if (const auto* w = std::get_if<ZkWatchEvent>(&e)) {
    Handle(i, agent::ZkWatch{*w});
  }
}

HttpResponse SimAgents::Get(int i, const std::string& path) {
  return procs_[i].core->HandleHttp(HttpRequest{"GET", path, ""}, At());
}

std::optional<Role> SimAgents::WatcherRole(int i) const {
  const Process& p = procs_[i];
  for (size_t k = p.watcher.size(); k > p.first_line; --k) {
    if (p.watcher[k - 1].role) return p.watcher[k - 1].role;
  }
  return std::nullopt;
}

bool SimAgents::WatcherClaimsActive(int i) const {
  const Process& p = procs_[i];
  for (size_t k = p.watcher.size(); k > p.first_line; --k) {
    const Line& l = p.watcher[k - 1];
    if (!l.role) continue;
    return l.role == Role::kActive && l.lease && now() < l.at + *l.lease;
  }
  return false;
}

int SimAgents::ActiveCount() {
  int n = 0;
  for (size_t i = 0; i < procs_.size(); ++i) {
    const Process& p = procs_[i];
    if (!p.running) continue;
    const int k = static_cast<int>(i);
    if (WatcherClaimsActive(k) || (!p.paused && Get(k, "/active").status == 200)) ++n;
  }
  return n;
}

void SimAgents::Check() {
  int n = ActiveCount();
  if (n > 1 && max_active_ <= 1) {
    violations_.push_back(std::to_string(n) + " agents ACTIVE at +" +
                          std::to_string((now() - zk_.options().start) / milliseconds(1)) + " ms");
  }
  max_active_ = std::max(max_active_, n);
}

SimZk::Host SimAgents::Timers() {
  SimZk::Host host;
  host.next_deadline = [this]() -> std::optional<MonoTime> {
    std::optional<MonoTime> next;
    for (const Process& p : procs_) {
      if (!p.running || p.paused) continue;
      auto d = p.core->NextDeadline();
      if (d && (!next || *d < *next)) next = d;
    }
    return next;
  };
  host.fire = [this](MonoTime now) {
    for (size_t i = 0; i < procs_.size(); ++i) {
      Process& p = procs_[i];
      if (!p.running || p.paused) continue;
      auto d = p.core->NextDeadline();
      if (d && *d <= now) Handle(static_cast<int>(i), agent::TimerFired{});
    }
  };
  return host;
}

void SimAgents::Advance(Duration d) { zk_.Run(now() + d, Timers()); }

bool SimAgents::Settle() { return zk_.Settle(Timers()); }

}  // namespace latchd::sim
