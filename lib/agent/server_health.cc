#include "lib/agent/server_health.h"

namespace latchd {
namespace {
constexpr Duration kLostProbe = std::chrono::seconds(1);
}  // namespace

ServerHealth::ServerHealth(ServerHealthConfig config, MonoTime now)
    : config_(std::move(config)), healthy_(!config_.binding()), since_(now) {
  auto add = [this](ProbeKind kind, const std::string& target) {
    Probe p;
    p.kind = kind;
    p.target = target;
    probes_.push_back(std::move(p));
  };
  if (!config_.health_url.empty()) add(ProbeKind::kHttp, config_.health_url);
  if (!config_.health_exec.empty()) add(ProbeKind::kExec, config_.health_exec);
  for (Probe& p : probes_) p.next = now;
  reason_ = config_.binding() ? "not yet known" : "no server binding configured";
  Evaluate(now);
  changed_ = false;
}

bool ServerHealth::Hold(uint64_t conn, MonoTime now) {
  bool added = holds_.emplace(conn, now).second;
  if (added) Evaluate(now);
  return added;
}

void ServerHealth::Heard(uint64_t conn, MonoTime now) {
  auto it = holds_.find(conn);
  if (it != holds_.end()) it->second = now;
}

void ServerHealth::Closed(uint64_t conn, MonoTime now) {
  if (holds_.erase(conn) > 0) Evaluate(now);
}

std::vector<uint64_t> ServerHealth::TakeSilentHolds(MonoTime now) {
  std::vector<uint64_t> out;
  if (config_.hold_timeout == Duration::zero()) return out;
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (now - it->second >= config_.hold_timeout) {
      out.push_back(it->first);
      it = holds_.erase(it);
    } else {
      ++it;
    }
  }
  if (!out.empty()) Evaluate(now);
  return out;
}

std::vector<ProbeStart> ServerHealth::TakeDueProbes(MonoTime now) {
  std::vector<ProbeStart> out;
  for (Probe& p : probes_) {
    if (p.running != 0 && now >= p.started + config_.timeout + kLostProbe) {
      ProbeDone(p.running, false, "no result within the timeout", now);
    }
    if (p.running != 0 || now < p.next) continue;
    p.running = next_probe_id_++;
    p.started = now;
    p.next = now + config_.interval;
    out.push_back(ProbeStart{p.running, p.kind, p.target, config_.timeout});
  }
  return out;
}

void ServerHealth::ProbeDone(uint64_t id, bool ok, const std::string& detail, MonoTime now) {
  for (Probe& p : probes_) {
    if (p.running != id || id == 0) continue;
    p.running = 0;
    p.last = detail;
    if (ok) {
      p.failures = 0;
      if (++p.successes >= config_.rise) p.up = true;
    } else {
      p.successes = 0;
      if (++p.failures >= config_.fall) p.up = false;
    }
    Evaluate(now);
    return;
  }
}

void ServerHealth::Evaluate(MonoTime now) {
  bool healthy = true;
  std::string reason;
  if (config_.server_hold) {
    if (holds_.empty()) {
      healthy = false;
      reason = "no hold: the server holds no connection to the agent";
    } else {
      reason = std::to_string(holds_.size()) + (holds_.size() == 1 ? " hold" : " holds");
    }
  }
  for (const Probe& p : probes_) {
    std::string what = std::string(kProbeKindNames[static_cast<int>(p.kind)]) + " probe ";
    std::string state =
        p.up ? what + "up" + (p.failures ? " (" + std::to_string(p.failures) + " failed)" : "")
             : what + "down" + (p.last.empty() ? "" : " (" + p.last + ")");
    if (!p.up) healthy = false;
    if (!reason.empty()) reason += ", ";
    reason += state;
  }
  if (reason.empty()) reason = "no server binding configured";
  // The reason of a healthy server changes with every probe result; only a
  // change of health is a change.
  if (healthy != healthy_) {
    healthy_ = healthy;
    since_ = now;
    changed_ = true;
  }
  reason_ = reason;
}

bool ServerHealth::TakeChange() {
  bool c = changed_;
  changed_ = false;
  return c;
}

std::optional<MonoTime> ServerHealth::NextDeadline() const {
  std::optional<MonoTime> next;
  auto consider = [&next](MonoTime t) {
    if (!next || t < *next) next = t;
  };
  for (const Probe& p : probes_) {
    consider(p.running == 0 ? p.next : p.started + config_.timeout + kLostProbe);
  }
  if (config_.hold_timeout != Duration::zero()) {
    for (const auto& [conn, heard] : holds_) consider(heard + config_.hold_timeout);
  }
  return next;
}

}  // namespace latchd
