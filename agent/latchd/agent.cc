#include "agent/latchd/agent.h"

#include <signal.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include <glog/logging.h>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

#include "lib/api/protocol.h"
#include "lib/api/session_file.h"
#include "lib/api/status_json.h"
#include "lib/util/uuid.h"
#include "lib/zk/acl.h"
#include "lib/zk/zookeeper_client.h"

namespace latchd {
namespace {

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* kText = "text/plain; charset=utf-8";
const char* kJson = "application/json";

}  // namespace

Agent::Agent(AgentConfig config) : config_(std::move(config)) {}

Agent::~Agent() {
  watchers_.clear();
  hooks_.reset();
  socket_.reset();
  http_.reset();
  zk_.reset();
  if (signal_fd_ >= 0) close(signal_fd_);
  if (journal_fd_ >= 0) close(journal_fd_);
}

Status Agent::Start() {
  auto loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  loop_ = std::move(loop).value();

  LatchConfig lc;
  lc.id = config_.id;
  lc.advertise = config_.advertise;
  lc.zk_root = config_.zk_root;
  lc.lease_margin = config_.lease_margin;
  lc.new_uuid = NewUuid;
  lc.require_ack = config_.activation_ack_timeout.count() > 0;
  lc.require_hook = !config_.on_transition.empty();
  // The ack has its own limit; a hook is bounded by the runner's timeout (a
  // timed-out hook is a failed hook), with a second of slack here.
  lc.activation_timeout = lc.require_ack ? Duration(config_.activation_ack_timeout)
                                         : config_.on_transition_timeout + std::chrono::seconds(1);
  // A record left by a previous run of this agent (killed, restarted by
  // systemd): resume its session so a restart is not a failover.
  std::optional<ZkSessionCredentials> resume;
  session_file_ = SessionFilePath(config_.socket_path);
  if (!session_file_.empty()) {
    auto record = ReadSessionRecord(session_file_);
    if (record.ok() && record->id == config_.id && record->zk_connect == config_.zk_connect &&
        record->zk_root == config_.zk_root) {
      LOG(INFO) << "found session " << SessionIdHex(record->session_id) << " of a previous run in "
                << session_file_ << "; trying to resume it";
      resume = ZkSessionCredentials{record->session_id, record->password};
      lc.resume_session = record->session_id;
      lc.resume_node = record->node;
    } else if (record.ok()) {
      LOG(INFO) << "ignoring " << session_file_ << ": it belongs to another configuration";
    } else if (access(session_file_.c_str(), F_OK) == 0) {
      LOG(WARNING) << record.status().message() << "; starting a new session";
    }
  }
  core_ = std::make_unique<LatchCore>(lc);
  metrics_.SetRole(Role::kPassive);

  // Signals arrive on the loop through a signalfd (blocked in main()).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return Status::Error("signalfd failed");
  Status watched = loop_->Watch(signal_fd_, EPOLLIN, [this](uint32_t) { OnSignal(); });
  if (!watched.ok()) return watched;

  if (!config_.journal.empty()) {
    journal_fd_ = open(config_.journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (journal_fd_ < 0) {
      return Status::Error("--journal: cannot open " + config_.journal + ": " + std::strerror(errno));
    }
  }
  if (!config_.socket_path.empty()) {
    LineServerOptions options;
    options.path = config_.socket_path;
    options.mode = config_.socket_mode;
    options.group = config_.socket_group;
    LineServerCallbacks cb;
    cb.on_line = [this](LineConn& c, std::string_view line) { OnLine(c, line); };
    cb.on_oversize = [this](LineConn& c) {
      LOG(WARNING) << "socket client pid " << c.peer().pid << " sent a line over 4096 bytes";
      ReplyLine(c, std::nullopt, ErrorLine("request line longer than 4096 bytes"), false);
    };
    cb.on_close = [this](LineConn& c) {
      watchers_.erase(&c);
      metrics_.SetSocketClients(socket_ ? socket_->clients() : 0);
    };
    auto server = LineServer::Start(*loop_, options, cb);
    if (!server.ok()) return Status::Error("--socket_path: " + server.status().message());
    socket_ = std::move(server).value();
  }
  if (!config_.http_listen.empty()) {
    auto server = HttpServer::Start(*loop_, config_.http_listen,
                                    [this](const HttpRequest& r) { return OnHttp(r); });
    if (!server.ok()) return Status::Error("--http_listen: " + server.status().message());
    http_ = std::move(server).value();
  }
  if (!config_.on_transition.empty()) {
    hooks_ = std::make_unique<HookRunner>(
        config_.on_transition, config_.on_transition_timeout,
        [this](const HookJob& job, bool ok, const std::string& detail) {
          loop_->Post([this, job, ok, detail] {
            metrics_.OnHookRun(ok);
            if (!ok) {
              LOG(WARNING) << "on_transition hook for " << RoleName(job.to) << " epoch " << job.epoch
                           << " failed: " << detail;
            }
            Feed(HookDoneEvent{job.to, job.epoch, ok, detail});
          });
        });
  }

  ZkClientOptions zo;
  zo.connect = config_.zk_connect;
  zo.session_timeout = config_.session_timeout;
  zo.acl = AclForCreate(config_.acl);
  zo.auth = config_.auth;
  zo.resume = resume;
  zo.security = config_.zk_security;
  ZkClientCallbacks zc;
  zc.post = [this](std::function<void()> fn) { loop_->Post(std::move(fn)); };
  zc.on_session = [this](ZkSessionEvent e, ZkSessionInfo info) { OnSession(e, info); };
  zc.on_watch = [this](const ZkWatchEvent& w) { Feed(WatchEvent{w}); };
  zc.on_result = [this](ZkResult r) { Feed(ResultEvent{std::move(r)}); };
  zk_ = MakeZookeeperClient(zo, zc);

  // After a pause (SIGSTOP, a long stall), the first thing the loop does is
  // let the core see the time, before any request is answered.
  loop_->SetBeforeDispatch([this] {
    auto deadline = core_->NextDeadline();
    if (deadline && *deadline <= clock_.Now()) Feed(TickEvent{});
  });
  OpenSession();
  loop_->AddTimer(clock_.Now() + config_.session_timeout, [this] {
    if (!ever_connected_) {
      LOG(WARNING) << "ZooKeeper " << config_.zk_connect << " unreachable for "
                   << config_.session_timeout.count() << " ms; staying PASSIVE and retrying";
    }
  });
  LOG(INFO) << "latchd " << LATCHD_VERSION << " id=" << config_.id << " zk=" << config_.zk_connect
            << " root=" << config_.zk_root << " session_timeout=" << config_.session_timeout.count()
            << "ms lease_margin=" << config_.lease_margin
            << (http_ ? " http=" + config_.http_listen : std::string())
            << (socket_ ? " socket=" + config_.socket_path : std::string())
            << (lc.require_ack ? " ack_timeout=" + std::to_string(config_.activation_ack_timeout.count()) + "ms"
                               : std::string())
            << (hooks_ ? " on_transition=" + config_.on_transition : std::string());
  // The socket and the HTTP port are bound and the session is opening: ready.
  notifier_->Ready();
  notifier_->Status("role PASSIVE, connecting to ZooKeeper " + config_.zk_connect);
  if (auto interval = notifier_->WatchdogInterval()) {
    // The first ping as soon as the loop runs, then one every interval.
    loop_->Post([this, d = *interval] { PingWatchdog(d); });
  }
  return Status::Ok();
}

void Agent::PingWatchdog(Duration interval) {
  notifier_->Watchdog();
  loop_->AddTimer(clock_.Now() + interval, [this, interval] { PingWatchdog(interval); });
}

void Agent::OpenSession() {
  Status s = zk_->Open();
  if (!s.ok()) {
    LOG(ERROR) << "cannot open a ZooKeeper session: " << s.message() << "; retrying in 1 s";
    loop_->AddTimer(clock_.Now() + std::chrono::seconds(1), [this] { OpenSession(); });
  }
}

int Agent::Run() {
  loop_->Run();
  return 0;
}

void Agent::RequestStop() {
  loop_->Post([this] {
    if (stop_requested_) return;
    stop_requested_ = true;
    notifier_->Stopping();
    Feed(StopEvent{});
  });
}

void Agent::OnSignal() {
  signalfd_siginfo info;
  while (read(signal_fd_, &info, sizeof info) == sizeof info) {
    if (info.ssi_signo == SIGHUP) {
      // Reload is not supported (docs/operations.md): restart to apply flags.
      LOG(WARNING) << "SIGHUP from pid " << info.ssi_pid
                   << ": reload is not supported; restart latchd to apply new flags";
      continue;
    }
    LOG(INFO) << "signal " << info.ssi_signo << " from pid " << info.ssi_pid << ": stopping";
    if (stop_requested_) {
      LOG(WARNING) << "second stop signal: exiting now";
      zk_->Close();
      loop_->Stop();
      return;
    }
    stop_requested_ = true;
    notifier_->Stopping();
    Feed(StopEvent{});
  }
}

void Agent::OnSession(ZkSessionEvent event, ZkSessionInfo info) {
  switch (event) {
    case ZkSessionEvent::kConnected:
      ever_connected_ = true;
      if (!connected_ && info.session_id == last_session_) metrics_.OnReconnect();
      connected_ = true;
      last_session_ = info.session_id;
      session_password_ = info.password;
      metrics_.SetZkConnected(true);
      Feed(SessionUpEvent{info.session_id, info.negotiated_timeout});
      break;
    case ZkSessionEvent::kConnecting:
      connected_ = false;
      metrics_.SetZkConnected(false);
      Feed(SessionDownEvent{});
      break;
    case ZkSessionEvent::kExpired:
    case ZkSessionEvent::kAuthFailed:
      connected_ = false;
      metrics_.SetZkConnected(false);
      metrics_.OnSessionExpired();
      Feed(SessionExpiredEvent{event == ZkSessionEvent::kExpired ? "ZooKeeper session expired"
                                                                 : "ZooKeeper authentication failed"});
      break;
  }
}

std::vector<Action> Agent::Feed(const Event& event) {
  if (finished_) return {};
  std::vector<Action> actions = core_->Handle(event, clock_.Now());
  Apply(actions);
  ArmTimer();
  RecordSession();
  return actions;
}

// Keeps the session record in step with the session and the own node.
void Agent::RecordSession() {
  if (session_file_.empty() || finished_ || stop_requested_) return;
  CoreStatus s = core_->StatusAt(clock_.Now());
  if (s.session_id == 0 || session_password_.empty()) return;
  std::pair<int64_t, std::string> now{s.session_id, s.own_node};
  if (now == recorded_) return;
  Status w = WriteSessionRecord(session_file_, SessionRecord{s.session_id, session_password_, s.own_node,
                                                             config_.id, config_.zk_connect,
                                                             config_.zk_root});
  if (!w.ok()) {
    LOG(WARNING) << w.message() << " (a restart will start a new session)";
    return;
  }
  recorded_ = now;
}

void Agent::Apply(const std::vector<Action>& actions) {
  // Role changes first, and their lines out to the watchers, then the
  // ZooKeeper requests: a role given up (a yield, a stop) reaches the
  // co-located server before the write that lets another agent take over
  // leaves, and no ZooKeeper traffic competes with the fan-out.
  for (const auto& action : actions) {
    if (auto* role = std::get_if<RoleChangeAction>(&action)) OnRoleChange(*role);
  }
  FlushWatchLines();
  for (const auto& action : actions) {
    if (auto* send = std::get_if<SendAction>(&action)) {
      zk_->Submit(send->request);
    } else if (auto* log = std::get_if<LogAction>(&action)) {
      switch (log->level) {
        case LogAction::kInfo: LOG(INFO) << log->message; break;
        case LogAction::kWarning: LOG(WARNING) << log->message; break;
        case LogAction::kError: LOG(ERROR) << log->message; break;
      }
    } else if (auto* reopen = std::get_if<ReopenSessionAction>(&action)) {
      LOG(WARNING) << reopen->reason << ": opening a new ZooKeeper session";
      OpenSession();
    } else if (auto* failed = std::get_if<ActivationFailedAction>(&action)) {
      metrics_.OnActivationTimeout();
      LOG(WARNING) << "activation of epoch " << failed->epoch << " failed: " << failed->reason;
    } else if (std::get_if<FinishedAction>(&action)) {
      finished_ = true;
      zk_->Close();
      RemoveSessionRecord(session_file_);
      LOG(INFO) << "stopped";
      loop_->Stop();
    }
  }
}

void Agent::OnRoleChange(const RoleChangeAction& change) {
  LOG(INFO) << "role " << RoleName(change.from) << " -> " << RoleName(change.to)
            << " epoch=" << change.epoch << " reason: " << change.reason;
  MonoTime now = clock_.Now();
  metrics_.OnRoleChange(change.from, change.to);
  metrics_.SetEpoch(change.epoch);
  if (change.to == Role::kBecomingActive) becoming_active_at_ = now;
  if (change.to == Role::kActive && change.from == Role::kBecomingActive) {
    metrics_.ObserveActivation(std::chrono::duration<double>(now - becoming_active_at_).count());
  }
  BroadcastToWatchers(change);
  std::string leader = core_->StatusAt(now).leader.id;
  notifier_->Status(std::string(RoleName(change.to)) + " epoch " + std::to_string(change.epoch) +
                    " leader " + (leader.empty() ? "unknown" : leader));
  if (journal_fd_ >= 0) {
    // One line per change with the monotonic time of the change, so journals
    // of agents on one host can be merged and compared with an observer.
    timespec mono{};
    clock_gettime(CLOCK_MONOTONIC, &mono);
    std::string line =
        nlohmann::json{{"mono_ns", static_cast<int64_t>(mono.tv_sec) * 1000000000 + mono.tv_nsec},
                       {"wall_ms", WallNowMs()},
                       {"id", config_.id},
                       {"from", std::string(RoleName(change.from))},
                       {"to", std::string(RoleName(change.to))},
                       {"epoch", change.epoch},
                       {"reason", change.reason}}
            .dump() + "\n";
    if (write(journal_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      LOG(WARNING) << "--journal: write to " << config_.journal << " failed";
    }
  }
  if (hooks_) {
    CoreStatus s = core_->StatusAt(now);
    hooks_->Enqueue(HookJob{change.from, change.to, change.epoch, config_.id, s.leader.id,
                            s.leader.address});
  }
}

void Agent::ArmTimer() {
  if (finished_) return;
  auto deadline = core_->NextDeadline();
  if (!deadline) {
    if (timer_) loop_->CancelTimer(timer_);
    timer_ = 0;
    return;
  }
  if (timer_ && timer_at_ == *deadline) return;
  if (timer_) loop_->CancelTimer(timer_);
  timer_at_ = *deadline;
  timer_ = loop_->AddTimer(*deadline, [this] {
    timer_ = 0;
    Feed(TickEvent{});
  });
}

const std::string& Agent::StatusLine(MonoTime now) {
  answer_.clear();  // keeps its capacity: no allocation per answer
  AppendStatusJson(&answer_, config_.id, core_->StatusAt(now), now, WallNowMs());
  return answer_;
}

// One line per change, carrying that change's role and epoch, so a watcher
// sees every step even when several happen in one event. The lines of one
// event are sent together (see FlushWatchLines).
void Agent::BroadcastToWatchers(const RoleChangeAction& change) {
  if (watchers_.empty()) return;
  MonoTime now = clock_.Now();
  StatusChange c{change.from, change.to, change.epoch, change.reason};
  if (!watch_lines_.empty()) watch_lines_.push_back('\n');
  AppendStatusJson(&watch_lines_, config_.id, core_->StatusAt(now), now, WallNowMs(), &c);
}

void Agent::FlushWatchLines() {
  if (watch_lines_.empty()) return;
  std::string lines;
  lines.swap(watch_lines_);
  // Send may drop a slow watcher, but on_close (which edits watchers_) runs
  // later on the loop, never inside Send.
  for (LineConn* w : watchers_) w->Send(lines);
  LOG(INFO) << "sent the change to " << watchers_.size() << " watcher(s)";
}

void Agent::ReplyLine(LineConn& conn, std::optional<Command> command, const std::string& line,
                      bool ok) {
  conn.Send(line);
  // The counter of each (command, ok) pair is looked up once, then kept.
  size_t index = command ? static_cast<size_t>(*command) + 1 : 0;
  prometheus::Counter*& counter = request_counters_.at(index)[ok ? 0 : 1];
  if (counter == nullptr) {
    counter = &metrics_.RequestCounter(kInterfaceSocket,
                                       command ? CommandName(*command) : kOtherCommand, ok ? 0 : 1);
  }
  counter->Increment();
}

void Agent::OnLine(LineConn& conn, std::string_view line) {
  auto req = ParseRequestLine(line);
  if (!req.ok()) {
    ReplyLine(conn, std::nullopt, ErrorLine(req.status().message()), false);
    return;
  }
  const Command command = req->command;
  MonoTime now = clock_.Now();
  switch (command) {
    case Command::kStatus:
      return ReplyLine(conn, command, StatusLine(now), true);
    case Command::kWatch:
      watchers_.insert(&conn);
      return ReplyLine(conn, command, StatusLine(now), true);
    case Command::kLeader:
      return ReplyLine(conn, command, LeaderJson(core_->StatusAt(now).leader), true);
    case Command::kParticipants: {
      nlohmann::json ids = nlohmann::json::array();
      nlohmann::json nodes = nlohmann::json::array();
      for (const Participant& p : core_->Participants()) {
        ids.push_back(p.id);
        nodes.push_back({{"id", p.id}, {"node", p.node}});
      }
      // Ids are ZooKeeper data written by others: invalid UTF-8 becomes U+FFFD.
      return ReplyLine(conn, command,
                       nlohmann::json{{"participants", ids}, {"nodes", nodes}}.dump(
                           -1, ' ', false, nlohmann::json::error_handler_t::replace),
                       true);
    }
    case Command::kYield: {
      PeerCred peer = conn.peer();
      LOG(INFO) << "yield requested over the socket by pid " << peer.pid << " uid " << peer.uid
                << " gid " << peer.gid;
      Feed(YieldEvent{});
      return ReplyLine(conn, command,
                       nlohmann::json{{"ok", true},
                                      {"role", std::string(RoleName(core_->RoleAt(clock_.Now())))}}
                           .dump(),
                       true);
    }
    case Command::kAck: {
      PeerCred peer = conn.peer();
      LOG(INFO) << "ack " << req->epoch << " from pid " << peer.pid << " uid " << peer.uid << " gid "
                << peer.gid;
      for (const auto& a : Feed(AckEvent{req->epoch})) {
        if (auto* r = std::get_if<AckResultAction>(&a)) {
          if (!r->ok) return ReplyLine(conn, command, ErrorLine("ack: " + r->message), false);
          return ReplyLine(conn, command,
                           nlohmann::json{{"ok", true},
                                          {"message", r->message},
                                          {"role", std::string(RoleName(core_->RoleAt(clock_.Now())))}}
                               .dump(),
                           true);
        }
      }
      return ReplyLine(conn, command, ErrorLine("ack: the agent is stopping"), false);
    }
    case Command::kHelp:
      return ReplyLine(conn, command, nlohmann::json{{"help", ProtocolHelp()}}.dump(), true);
  }
}

HttpResponse Agent::OnHttp(const HttpRequest& request) {
  struct Endpoint {
    const char* path;
    const char* help;
  };
  static const Endpoint kEndpoints[] = {
      {"/api/atlas/admin/status", "Atlas's status: always 200, {\"Status\":\"<ROLE>\"}"},
      {"/active", "200 only while ACTIVE (for load balancer checks), 503 otherwise"},
      {"/passive", "200 only while PASSIVE with a healthy ZooKeeper session, 503 otherwise"},
      {"/leader", "the leader's id, address and epoch as this agent sees it; 503 if unknown"},
      {"/status", "the same JSON as the socket's status command"},
      {"/healthz", "200 while the agent's event loop runs (liveness, not role)"},
      {"/metrics", "Prometheus metrics"},
      {"/", "this list"},
  };
  MonoTime now = clock_.Now();
  CoreStatus s = core_->StatusAt(now);
  Role role = s.role;
  HttpResponse response{404, kText, "not found; GET / lists the endpoints\n"};
  const std::string& path = request.path;
  if (path == "/api/atlas/admin/status") {
    response = {200, kJson, AtlasStatusBody(role)};
  } else if (path == "/active") {
    response = {role == Role::kActive ? 200 : 503, kText, std::string(RoleName(role)) + "\n"};
  } else if (path == "/passive") {
    bool healthy = s.connected && s.lease_remaining && s.lease_remaining->count() > 0;
    response = {role == Role::kPassive && healthy ? 200 : 503, kText,
                std::string(RoleName(role)) + (healthy ? "" : " (ZooKeeper session not healthy)") + "\n"};
  } else if (path == "/leader") {
    response = {s.leader.id.empty() ? 503 : 200, kJson, LeaderJson(s.leader) + "\n"};
  } else if (path == "/status") {
    response = {200, kJson, StatusJson(config_.id, s, now, WallNowMs()) + "\n"};
  } else if (path == "/healthz") {
    response = {200, kText, "ok\n"};
  } else if (path == "/metrics") {
    metrics_.SetLeaseRemaining(
        s.lease_remaining ? std::chrono::duration<double>(*s.lease_remaining).count() : 0.0);
    metrics_.SetParticipants(s.participants);
    metrics_.SetSocketClients(socket_ ? socket_->clients() : 0);
    response = {200, kMetricsContentType, metrics_.Serialize()};
  } else if (path == "/") {
    std::string body;
    for (const auto& e : kEndpoints) body += std::string(e.path) + "  " + e.help + "\n";
    response = {200, kText, body};
  }
  metrics_.OnRequest(kInterfaceHttp, path, response.status);
  return response;
}

}  // namespace latchd
