#include "tests/unit/sim_cluster.h"

#include <cstdio>

namespace latchd::testing {

SimCluster::SimCluster(int n, Duration session_timeout) : timeout_(session_timeout) {
  agents_.resize(n);
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
  a = Agent{};
  a.core = std::make_unique<LatchCore>(config);
  a.running = true;
  OpenSession(i);
  Pump();
}

void SimCluster::OpenSession(int i) {
  Agent& a = agents_[i];
  a.session = zk_.NewSession(timeout_, now_);
  a.connected = true;
  a.reopen = false;
  Deliver(i, SessionUpEvent{a.session, timeout_});
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
  agents_[i].inbox.clear();
  Check();
}

void SimCluster::Partition(int i) {
  agents_[i].partitioned = true;
  agents_[i].partitioned_at = now_;
}

void SimCluster::Drop(int i) {
  Partition(i);
  NoticeLoss(i);
  Pump();
}

void SimCluster::NoticeLoss(int i) {
  Agent& a = agents_[i];
  if (!a.running || !a.connected) return;
  a.connected = false;
  std::deque<ZkRequest> held;
  held.swap(a.held);
  Deliver(i, SessionDownEvent{});
  for (const auto& req : held) {
    ZkResult r;
    r.id = req.id;
    r.code = ZkCode::kConnectionLoss;
    Deliver(i, ResultEvent{r});
  }
}

void SimCluster::Heal(int i) {
  Agent& a = agents_[i];
  a.partitioned = false;
  if (!a.running) {
    a.held.clear();
    return;
  }
  if (zk_.Alive(a.session)) {
    if (a.connected) {
      // The connection survived: the delayed requests arrive now.
      std::deque<ZkRequest> held;
      held.swap(a.held);
      for (const auto& req : held) a.inbox.push_back(ResultEvent{zk_.Apply(a.session, req, now_)});
    } else {
      a.connected = true;
      Deliver(i, SessionUpEvent{a.session, timeout_});
    }
  } else {
    a.held.clear();
    a.connected = false;
    Deliver(i, SessionExpiredEvent{});
  }
  Pump();
}

void SimCluster::Resume(int i) {
  agents_[i].paused = false;
  Pump();
}

void SimCluster::Deliver(int i, const Event& e) {
  Agent& a = agents_[i];
  if (!a.running) return;
  if (a.paused) {
    a.inbox.push_back(e);
    return;
  }
  Run(i, a.core->Handle(e, now_));
}

void SimCluster::Run(int i, std::vector<Action> actions) {
  Agent& a = agents_[i];
  for (auto& action : actions) {
    a.actions.push_back(action);
    if (auto* send = std::get_if<SendAction>(&action)) {
      if (a.partitioned || !a.connected) {
        if (a.partitioned) a.held.push_back(send->request);
        ZkResult r;
        r.id = send->request.id;
        r.code = ZkCode::kConnectionLoss;
        if (!a.connected) a.inbox.push_back(ResultEvent{r});
        continue;
      }
      a.inbox.push_back(ResultEvent{zk_.Apply(a.session, send->request, now_)});
    } else if (auto* role = std::get_if<RoleChangeAction>(&action)) {
      a.roles.push_back(*role);
    } else if (std::get_if<ReopenSessionAction>(&action)) {
      a.reopen = true;
    } else if (std::get_if<FinishedAction>(&action)) {
      zk_.Expire(a.session);  // closing the session deletes its ephemerals
      a.running = false;
    }
    Check();
  }
}

void SimCluster::Pump() {
  for (int rounds = 0; rounds < 10000; ++rounds) {
    bool work = false;
    for (const auto& fired : zk_.TakeFired()) {
      for (size_t i = 0; i < agents_.size(); ++i) {
        if (agents_[i].running && agents_[i].session == fired.session) {
          agents_[i].inbox.push_back(WatchEvent{fired.event});
        }
      }
    }
    for (size_t i = 0; i < agents_.size(); ++i) {
      Agent& a = agents_[i];
      if (!a.running || a.paused) continue;
      if (a.reopen && !a.partitioned) {
        OpenSession(static_cast<int>(i));
        work = true;
      }
      if (a.partitioned || a.inbox.empty()) continue;
      Event e = a.inbox.front();
      a.inbox.pop_front();
      Run(static_cast<int>(i), a.core->Handle(e, now_));
      work = true;
    }
    if (!work) return;
  }
}

void SimCluster::Advance(Duration d) {
  const Duration step = std::chrono::milliseconds(10);
  MonoTime end = now_ + d;
  while (now_ < end) {
    now_ = std::min(end, now_ + step);
    zk_.ExpireDue(now_);
    Check();
    for (size_t i = 0; i < agents_.size(); ++i) {
      Agent& a = agents_[i];
      if (!a.running || a.paused) continue;
      // The client notices a silent connection after 2/3 of the timeout.
      if (a.partitioned && a.connected && now_ - a.partitioned_at >= timeout_ * 2 / 3) {
        NoticeLoss(static_cast<int>(i));
      }
      auto deadline = a.core->NextDeadline();
      if (deadline && *deadline <= now_) Run(static_cast<int>(i), a.core->Handle(TickEvent{}, now_));
    }
    Pump();
  }
}

int SimCluster::ClaimCount() const {
  int n = 0;
  for (const auto& a : agents_) {
    if (a.core && a.running && IsClaim(a.core->RoleAt(now_))) ++n;
  }
  return n;
}

int SimCluster::ActiveIndex() const {
  int found = -1;
  for (size_t i = 0; i < agents_.size(); ++i) {
    const Agent& a = agents_[i];
    if (a.core && a.running && a.core->RoleAt(now_) == Role::kActive) {
      if (found != -1) return -2;
      found = static_cast<int>(i);
    }
  }
  return found;
}

void SimCluster::Check() { max_claims_ = std::max(max_claims_, ClaimCount()); }

}  // namespace latchd::testing
