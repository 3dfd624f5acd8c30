#include "tests/unit/sim_cluster.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace latchd::testing {
namespace {

sim::SimZkOptions WithFailureReport(sim::SimZkOptions options) {
  if (!options.on_failure) {
    options.on_failure = [](const std::string& what) { ADD_FAILURE() << "SimZk: " << what; };
  }
  return options;
}

}  // namespace

SimCluster::SimCluster(int n, Duration session_timeout, sim::SimZkOptions options)
    : zk_(WithFailureReport(std::move(options))), timeout_(zk_.NegotiatedTimeout(session_timeout)) {
  agents_.resize(n);
  for (int i = 0; i < n; ++i) {
    sim::SimClientOptions client;
    client.name = "host" + std::to_string(i);
    client.session_timeout = session_timeout;
    zk_.AddClient(client, [this, i](const sim::ClientEvent& e) { OnZk(i, e); });
  }
}

void SimCluster::Start(int i) {
  Agent& a = agents_[i];
  LatchConfig config;
  config.id = "host" + std::to_string(i);
  config.advertise = "http://host" + std::to_string(i) + ":21000";
  config.zk_root = "/latchd";
  config.new_uuid = [this] {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", ++uuid_counter_);
    return std::string(buf);
  };
  if (configure) configure(i, config);
  bool partitioned = a.partitioned;
  a = Agent{};
  a.partitioned = partitioned;
  a.core = std::make_unique<LatchCore>(config);
  a.running = true;
  zk_.SetPaused(i, false);
  zk_.Open(i, config.resume_session);  // a restarted agent resumes its recorded session
  Pump();
}

void SimCluster::OnZk(int i, const sim::ClientEvent& e) {
  Agent& a = agents_[i];
  if (const auto* s = std::get_if<sim::SessionChange>(&e)) {
    switch (s->event) {
      case ZkSessionEvent::kConnected:
        a.session = s->info.session_id;
        a.connected = true;
        Deliver(i, SessionUpEvent{s->info.session_id, s->info.negotiated_timeout});
        break;
      case ZkSessionEvent::kConnecting:
        a.connected = false;
        Deliver(i, SessionDownEvent{});
        break;
      case ZkSessionEvent::kExpired:
      case ZkSessionEvent::kAuthFailed:
        a.connected = false;
        Deliver(i, SessionExpiredEvent{});
        break;
    }
  } else if (const auto* r = std::get_if<ZkResult>(&e)) {
    Deliver(i, ResultEvent{*r});
  } else if (const auto* w = std::get_if<ZkWatchEvent>(&e)) {
    Deliver(i, WatchEvent{*w});
  }
}

void SimCluster::Stop(int i) {
  Deliver(i, StopEvent{});
  Pump();
}

void SimCluster::Yield(int i) {
  Deliver(i, YieldEvent{});
  Pump();
}

void SimCluster::Crash(int i) {
  agents_[i].running = false;
  zk_.Abandon(i);
  Check();
}

void SimCluster::Partition(int i) {
  agents_[i].partitioned = true;
  zk_.SetPartitioned(i, true);
}

void SimCluster::Heal(int i) {
  agents_[i].partitioned = false;
  zk_.SetPartitioned(i, false);
  Pump();
}

void SimCluster::Drop(int i) {
  Partition(i);
  zk_.ResetConnection(i);
  Pump();
}

void SimCluster::Pause(int i) {
  agents_[i].paused = true;
  zk_.SetPaused(i, true);
}

void SimCluster::Resume(int i) {
  agents_[i].paused = false;
  zk_.SetPaused(i, false);
  Pump();
}

void SimCluster::Deliver(int i, const Event& e) {
  Agent& a = agents_[i];
  if (!a.running) return;
  Run(i, a.core->Handle(e, now()));
}

void SimCluster::Run(int i, std::vector<Action> actions) {
  Agent& a = agents_[i];
  for (auto& action : actions) {
    a.actions.push_back(action);
    if (auto* send = std::get_if<SendAction>(&action)) {
      zk_.Submit(i, send->request);
    } else if (auto* role = std::get_if<RoleChangeAction>(&action)) {
      a.roles.push_back(*role);
    } else if (std::get_if<ReopenSessionAction>(&action)) {
      zk_.Open(i);
    } else if (std::get_if<FinishedAction>(&action)) {
      zk_.Close(i);  // closing the session deletes its ephemerals
      a.running = false;
    }
    Check();
  }
}

sim::SimZk::Host SimCluster::Timers() {
  sim::SimZk::Host host;
  host.next_deadline = [this]() -> std::optional<MonoTime> {
    std::optional<MonoTime> next;
    for (const Agent& a : agents_) {
      if (!a.running || a.paused) continue;
      auto d = a.core->NextDeadline();
      if (d && (!next || *d < *next)) next = d;
    }
    return next;
  };
  host.fire = [this](MonoTime now) {
    for (size_t i = 0; i < agents_.size(); ++i) {
      Agent& a = agents_[i];
      if (!a.running || a.paused) continue;
      auto d = a.core->NextDeadline();
      if (d && *d <= now) Run(static_cast<int>(i), a.core->Handle(TickEvent{}, now));
    }
  };
  return host;
}

void SimCluster::Pump() { zk_.Settle(Timers()); }

void SimCluster::Advance(Duration d) {
  zk_.Run(now() + d, Timers());
  Check();
}

int SimCluster::ClaimCount() const {
  int n = 0;
  for (const auto& a : agents_) {
    if (a.core && a.running && IsClaim(a.core->RoleAt(now()))) ++n;
  }
  return n;
}

int SimCluster::ActiveIndex() const {
  int found = -1;
  for (size_t i = 0; i < agents_.size(); ++i) {
    const Agent& a = agents_[i];
    if (a.core && a.running && a.core->RoleAt(now()) == Role::kActive) {
      if (found != -1) return -2;
      found = static_cast<int>(i);
    }
  }
  return found;
}

void SimCluster::Check() { max_claims_ = std::max(max_claims_, ClaimCount()); }

}  // namespace latchd::testing
