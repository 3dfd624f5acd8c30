#include "lib/agent/agent_core.h"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

#include "lib/api/status_json.h"
#include "lib/util/session_id.h"

namespace latchd {

AgentCore::AgentCore(AgentConfig config, AgentCoreOptions options, Metrics& metrics)
    : config_(std::move(config)), options_(std::move(options)), metrics_(metrics) {
  LatchConfig lc = config_.latch;
  lc.new_uuid = options_.new_uuid;
#ifdef LATCHD_VERSION
  lc.version = LATCHD_VERSION;
#endif
  // A record left by a previous run of this agent (killed, restarted by
  // systemd): resume its session so a restart is not a failover.
  if (options_.previous_record) {
    const Result<SessionRecord>& record = *options_.previous_record;
    if (record.ok() && record->id == lc.id && record->zk_connect == config_.zk_connect &&
        record->zk_root == lc.zk_root) {
      LogAtStart(LogAction::kInfo, "found session " + SessionIdHex(record->session_id) +
                                " of a previous run in " + options_.session_file +
                                "; trying to resume it");
      resume_ = ZkSessionCredentials{record->session_id, record->password};
      lc.resume_session = record->session_id;
      lc.resume_node = record->node;
    } else if (record.ok()) {
      LogAtStart(LogAction::kInfo, "ignoring " + options_.session_file +
                                ": it belongs to another configuration");
    } else {
      LogAtStart(LogAction::kWarning, record.status().message() + "; starting a new session");
    }
  }
  core_ = std::make_unique<LatchCore>(std::move(lc));
  metrics_.SetRole(Role::kPassive);
}

const std::vector<agent::Action>& AgentCore::Handle(const agent::Event& event, Instant now) {
  out_.clear();
  wire_.clear();
  sends_.clear();
  now_.mono = std::max(now_.mono, now.mono);
  now_.wall_ms = now.wall_ms;
  if (finished_) {
    out_.clear();
    return out_;
  }
  std::visit(
      [this](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, agent::Started>) {
          OnStarted();
        } else if constexpr (std::is_same_v<T, agent::ConnOpened>) {
          conns_[e.conn] = Conn{e.peer};
          metrics_.SetSocketClients(conns_.size());
        } else if constexpr (std::is_same_v<T, agent::LineReceived>) {
          OnLine(e.conn, e.line);
        } else if constexpr (std::is_same_v<T, agent::LineTooLong>) {
          Log(LogAction::kWarning, "socket client pid " + std::to_string(conns_[e.conn].peer.pid) +
                                       " sent a line over 4096 bytes");
          Reply(e.conn, std::nullopt, ErrorLine("request line longer than 4096 bytes"), false);
        } else if constexpr (std::is_same_v<T, agent::ConnClosed>) {
          auto it = conns_.find(e.conn);
          if (it != conns_.end()) {
            if (it->second.watching) --watchers_;
            conns_.erase(it);
          }
          metrics_.SetSocketClients(conns_.size());
          if (health_) health_->Closed(e.conn, now_.mono);
          UpdateHealth();
        } else if constexpr (std::is_same_v<T, agent::ZkSession>) {
          if (!close_at_) OnZkSession(e);  // a handed-over stop only waits to close
        } else if constexpr (std::is_same_v<T, agent::ZkAnswer>) {
          if (!close_at_) Feed(ResultEvent{e.result});
        } else if constexpr (std::is_same_v<T, agent::ZkWatch>) {
          if (!close_at_) Feed(WatchEvent{e.watch});
        } else if constexpr (std::is_same_v<T, agent::ZkOpenFailed>) {
          Log(LogAction::kError, "cannot open a ZooKeeper session: " + e.message + "; retrying in 1 s");
          open_retry_at_ = now_.mono + std::chrono::seconds(1);
        } else if constexpr (std::is_same_v<T, agent::TimerFired>) {
          OnTimer();
        } else if constexpr (std::is_same_v<T, agent::HookFinished>) {
          metrics_.OnHookRun(e.ok);
          if (!e.ok) {
            Log(LogAction::kWarning, "on_transition hook for " + std::string(RoleName(e.job.change.to)) +
                                         " epoch " + std::to_string(e.job.change.epoch) +
                                         " failed: " + e.detail);
          }
          Feed(HookDoneEvent{e.job.change.to, e.job.change.epoch, e.ok, e.detail});
        } else if constexpr (std::is_same_v<T, agent::SignalReceived>) {
          OnSignal(e);
        } else if constexpr (std::is_same_v<T, agent::SessionRecordFailed>) {
          Log(LogAction::kWarning, e.message + " (a restart will start a new session)");
          recorded_ = {0, ""};
        } else if constexpr (std::is_same_v<T, agent::ProbeFinished>) {
          if (health_) health_->ProbeDone(e.id, e.ok, e.detail, now_.mono);
          UpdateHealth();
        }
      },
      event);
  UpdateSessionRecord();
  for (const PendingSend& s : sends_) {
    std::get<agent::SendBytes>(out_[s.index]).bytes = std::string_view(wire_).substr(s.offset, s.size);
  }
  return out_;
}

std::optional<MonoTime> AgentCore::NextDeadline() const {
  if (finished_) return std::nullopt;
  if (close_at_) return close_at_;
  std::optional<MonoTime> next = core_->NextDeadline();
  std::optional<MonoTime> health = health_ ? health_->NextDeadline() : std::nullopt;
  for (const auto& t : {open_retry_at_, unreachable_warning_at_, watchdog_at_, health}) {
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

void AgentCore::Log(LogAction::Level level, std::string message) {
  Emit(agent::Log{level, std::move(message)});
}

// Before the first event there is no call to return actions from: kept for Started.
void AgentCore::LogAtStart(LogAction::Level level, std::string message) {
  startup_logs_.push_back(agent::Log{level, std::move(message)});
}

// ---- Start, signals, timers ------------------------------------------------

void AgentCore::OnStarted() {
  for (auto& log : startup_logs_) Emit(std::move(log));
  startup_logs_.clear();
  health_.emplace(config_.server, now_.mono);
  if (config_.server.binding()) {
    Log(LogAction::kInfo, std::string("server binding:") +
                              (config_.server.server_hold ? " --server_hold" : "") +
                              (config_.server.health_url.empty() ? "" : " --health_url=" + config_.server.health_url) +
                              (config_.server.health_exec.empty() ? "" : " --health_exec=" + config_.server.health_exec) +
                              "; not standing until the server is healthy");
  }
  Emit(agent::ZkOpen{});
  unreachable_warning_at_ = now_.mono + config_.session_timeout;
  const LatchConfig& lc = config_.latch;
  Log(LogAction::kInfo,
      std::string("latchd ") + LATCHD_VERSION + " id=" + lc.id + " zk=" + config_.zk_connect +
          " root=" + lc.zk_root + " session_timeout=" +
          std::to_string(config_.session_timeout.count()) +
          "ms lease_margin=" + nlohmann::json(lc.lease_margin).dump() +
          (config_.http_listen.empty() ? "" : " http=" + config_.http_listen) +
          (config_.socket_path.empty() ? "" : " socket=" + config_.socket_path) +
          (lc.require_ack ? " ack_timeout=" + std::to_string(config_.activation_ack_timeout.count()) + "ms"
                          : "") +
          (config_.on_transition.empty() ? "" : " on_transition=" + config_.on_transition));
  // The socket and the HTTP port are bound and the session is opening: ready.
  Emit(agent::Notify{agent::Notify::kReady, ""});
  Emit(agent::Notify{agent::Notify::kStatus, "role PASSIVE, connecting to ZooKeeper " + config_.zk_connect});
  // The first watchdog ping as soon as the loop runs, then one every interval.
  if (options_.watchdog_interval) watchdog_at_ = now_.mono;
}

void AgentCore::OnSignal(const agent::SignalReceived& e) {
  if (e.signo == SIGHUP) {
    // Reload is not supported (docs/operations.md): restart to apply flags.
    Log(LogAction::kWarning, "SIGHUP from pid " + std::to_string(e.pid) +
                                 ": reload is not supported; restart latchd to apply new flags");
    return;
  }
  Log(LogAction::kInfo, "signal " + std::to_string(e.signo) + " from pid " + std::to_string(e.pid) +
                            ": stopping");
  if (stop_requested_) {
    Log(LogAction::kWarning, "second stop signal: exiting now");
    if (close_at_) return Finish(0);  // handed over already: only the close was waiting
    finished_ = true;
    Emit(agent::ZkClose{});
    Emit(agent::Exit{0});
    return;
  }
  stop_requested_ = true;
  Emit(agent::Notify{agent::Notify::kStopping, ""});
  Feed(StopEvent{});
}

void AgentCore::OnTimer() {
  MonoTime now = now_.mono;
  if (close_at_) {
    if (now >= *close_at_) Finish(0);
    return;
  }
  if (open_retry_at_ && now >= *open_retry_at_) {
    open_retry_at_.reset();
    Emit(agent::ZkOpen{});
  }
  if (unreachable_warning_at_ && now >= *unreachable_warning_at_) {
    unreachable_warning_at_.reset();
    if (!ever_connected_) {
      Log(LogAction::kWarning, "ZooKeeper " + config_.zk_connect + " unreachable for " +
                                   std::to_string(config_.session_timeout.count()) +
                                   " ms; staying PASSIVE and retrying");
    }
  }
  if (watchdog_at_ && now >= *watchdog_at_) {
    Emit(agent::Notify{agent::Notify::kWatchdog, ""});
    watchdog_at_ = now + *options_.watchdog_interval;
  }
  if (health_) {
    for (uint64_t conn : health_->TakeSilentHolds(now)) {
      Log(LogAction::kWarning, "hold connection of pid " + std::to_string(conns_[conn].peer.pid) +
                                   " silent for " + std::to_string(ToMillis(config_.server.hold_timeout)) +
                                   " ms: released");
      Reply(conn, std::nullopt,
            ErrorLine("hold: nothing received for " + std::to_string(ToMillis(config_.server.hold_timeout)) +
                      " ms; the hold is released and the connection closed"),
            false);
      Emit(agent::CloseConn{conn});
    }
    for (const ProbeStart& p : health_->TakeDueProbes(now)) Emit(agent::ProbeRun{p});
    UpdateHealth();
  }
  auto deadline = core_->NextDeadline();
  if (deadline && *deadline <= now) Feed(TickEvent{});
}

void AgentCore::UpdateHealth() {
  if (!health_) return;
  if (health_->TakeChange()) {
    int64_t since_ms = now_.wall_ms;
    Log(health_->healthy() ? LogAction::kInfo : LogAction::kWarning,
        std::string("server ") + (health_->healthy() ? "healthy: " : "unhealthy: ") + health_->reason());
    Feed(CandidacyEvent{health_->healthy(), health_->reason(), since_ms});
  }
}

void AgentCore::FillServer(ClientStatus* s) const {
  if (!health_) return;
  s->server_reason = health_->reason();
  s->server_holds = static_cast<int64_t>(health_->holds());
  s->server_since_ms =
      config_.server.binding() ? now_.wall_ms - ToMillis(now_.mono - health_->since()) : 0;
}

// ---- ZooKeeper -------------------------------------------------------------

void AgentCore::OnZkSession(const agent::ZkSession& e) {
  switch (e.event) {
    case ZkSessionEvent::kConnected:
      ever_connected_ = true;
      if (!connected_ && e.info.session_id == last_session_) metrics_.OnReconnect();
      connected_ = true;
      last_session_ = e.info.session_id;
      session_password_ = e.info.password;
      metrics_.SetZkConnected(true);
      Feed(SessionUpEvent{e.info.session_id, e.info.negotiated_timeout});
      return;
    case ZkSessionEvent::kConnecting:
      connected_ = false;
      metrics_.SetZkConnected(false);
      Feed(SessionDownEvent{});
      return;
    case ZkSessionEvent::kExpired:
    case ZkSessionEvent::kAuthFailed:
      connected_ = false;
      metrics_.SetZkConnected(false);
      metrics_.OnSessionExpired();
      Feed(SessionExpiredEvent{e.event == ZkSessionEvent::kExpired ? "ZooKeeper session expired"
                                                                   : "ZooKeeper authentication failed"});
      return;
  }
}

std::vector<Action> AgentCore::Feed(const Event& event) {
  if (finished_) return {};
  std::vector<Action> actions = core_->Handle(event, now_.mono);
  ApplyCoreActions(actions);
  return actions;
}

// Role changes first, and their lines out to the watchers, then the rest in
// order: a role given up (a yield, a stop) reaches the co-located server
// before the write that lets another agent take over leaves, and no
// ZooKeeper traffic competes with the fan-out.
void AgentCore::ApplyCoreActions(const std::vector<Action>& actions) {
  const size_t lines_begin = wire_.size();
  for (const Action& action : actions) {
    const auto* change = std::get_if<RoleChangeAction>(&action);
    if (change == nullptr || watchers_ == 0) continue;
    // One line per change, carrying that change's role and epoch, so a
    // watcher sees every step even when several happen in one event.
    if (wire_.size() > lines_begin) wire_.push_back('\n');
    FillChangeStatus(&scratch_, config_.latch.id, *change, now_.mono, now_.wall_ms);
    FillServer(&scratch_);
    AppendStatusLine(&wire_, scratch_);
  }
  if (wire_.size() > lines_begin) {
    for (const auto& [id, conn] : conns_) {
      if (conn.watching) Send(id, lines_begin, wire_.size() - lines_begin);
    }
    Log(LogAction::kInfo, "sent the change to " + std::to_string(watchers_) + " watcher(s)");
  }
  for (const Action& action : actions) {
    if (const auto* change = std::get_if<RoleChangeAction>(&action)) OnRoleChange(*change);
  }
  for (const Action& action : actions) {
    if (const auto* send = std::get_if<SendAction>(&action)) {
      Emit(agent::ZkSubmit{send->request});
    } else if (const auto* log = std::get_if<LogAction>(&action)) {
      Log(log->level, log->message);
    } else if (const auto* reopen = std::get_if<ReopenSessionAction>(&action)) {
      Log(LogAction::kWarning, reopen->reason + ": opening a new ZooKeeper session");
      Emit(agent::ZkOpen{});
    } else if (const auto* failed = std::get_if<ActivationFailedAction>(&action)) {
      metrics_.OnActivationTimeout();
      Log(LogAction::kWarning, "activation of epoch " + std::to_string(failed->epoch) +
                                   " failed: " + failed->reason);
    } else if (const auto* node = std::get_if<SessionNodeAction>(&action)) {
      desired_ = {node->session_id, node->node};
    } else if (const auto* h = std::get_if<HandoverAction>(&action)) {
      metrics_.OnHandover(h->reason);
      if (h->reason == "stop") led_at_stop_ = true;
    } else if (const auto* done = std::get_if<FinishedAction>(&action)) {
      if (done->handed_over && led_at_stop_) {
        // Not in front of the successor's sync and publish (kCloseAfterHandover).
        close_at_ = now_.mono + kCloseAfterHandover;
        Log(LogAction::kInfo, "handed over; closing the session in " +
                                  std::to_string(kCloseAfterHandover.count()) + " ms");
      } else {
        Finish(0);
      }
    }
  }
}

void AgentCore::OnRoleChange(const RoleChangeAction& change) {
  const MonoTime now = now_.mono;
  Log(LogAction::kInfo, "role " + std::string(RoleName(change.from)) + " -> " +
                            std::string(RoleName(change.to)) + " epoch=" +
                            std::to_string(change.epoch) + " reason: " + change.reason);
  metrics_.OnRoleChange(change.from, change.to);
  metrics_.SetEpoch(change.epoch);
  if (change.to == Role::kBecomingActive) becoming_active_at_ = now;
  if (change.to == Role::kActive && change.from == Role::kBecomingActive) {
    metrics_.ObserveActivation(std::chrono::duration<double>(now - becoming_active_at_).count());
  }
  const std::string& leader = change.status.leader.id;
  Emit(agent::Notify{agent::Notify::kStatus, std::string(RoleName(change.to)) + " epoch " +
                                                 std::to_string(change.epoch) + " leader " +
                                                 (leader.empty() ? "unknown" : leader)});
  if (!config_.journal.empty()) {
    // One line per change with the monotonic time of the change, so journals
    // of agents on one host can be merged and compared with an observer.
    int64_t mono_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    Emit(agent::JournalAppend{nlohmann::json{{"mono_ns", mono_ns},
                                             {"wall_ms", now_.wall_ms},
                                             {"id", config_.latch.id},
                                             {"from", std::string(RoleName(change.from))},
                                             {"to", std::string(RoleName(change.to))},
                                             {"epoch", change.epoch},
                                             {"reason", change.reason}}
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                              "\n"});
  }
  if (!config_.on_transition.empty()) Emit(agent::HookRun{HookJob{change, config_.latch.id}});
}

void AgentCore::Finish(int code) {
  finished_ = true;
  Emit(agent::ZkClose{});
  if (!options_.session_file.empty()) Emit(agent::SessionRecordRemove{});
  Log(LogAction::kInfo, "stopped");
  Emit(agent::Exit{code});
}

// Keeps the session record in step with the session and the own node.
void AgentCore::UpdateSessionRecord() {
  if (options_.session_file.empty() || finished_ || stop_requested_) return;
  if (desired_.first == 0 || session_password_.empty() || desired_ == recorded_) return;
  Emit(agent::SessionRecordWrite{SessionRecord{desired_.first, session_password_, desired_.second,
                                               config_.latch.id, config_.zk_connect,
                                               config_.latch.zk_root}});
  recorded_ = desired_;
}

// ---- Output ----------------------------------------------------------------

size_t AgentCore::AppendStatus() {
  size_t offset = wire_.size();
  FillClientStatus(&scratch_, config_.latch.id, core_->StatusAt(now_.mono), now_.mono, now_.wall_ms);
  FillServer(&scratch_);
  AppendStatusLine(&wire_, scratch_);
  return offset;
}

void AgentCore::Send(uint64_t conn, size_t offset, size_t size) {
  out_.push_back(agent::SendBytes{conn, {}});
  sends_.push_back(PendingSend{out_.size() - 1, offset, size});
}

void AgentCore::Reply(uint64_t conn, std::optional<Command> command, std::string_view line,
                      bool ok) {
  size_t offset = wire_.size();
  wire_.append(line);
  ReplyFrom(conn, command, offset, ok);
}

void AgentCore::ReplyFrom(uint64_t conn, std::optional<Command> command, size_t offset, bool ok) {
  Send(conn, offset, wire_.size() - offset);
  // The counter of each (command, ok) pair is looked up once, then kept.
  size_t index = command ? static_cast<size_t>(*command) + 1 : 0;
  prometheus::Counter*& counter = request_counters_.at(index)[ok ? 0 : 1];
  if (counter == nullptr) {
    counter = &metrics_.RequestCounter(kInterfaceSocket,
                                       command ? CommandName(*command) : kOtherCommand, ok ? 0 : 1);
  }
  counter->Increment();
}

}  // namespace latchd
