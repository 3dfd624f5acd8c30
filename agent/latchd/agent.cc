#include "agent/latchd/agent.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>

#include <glog/logging.h>

#include "lib/api/protocol.h"
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

}  // namespace

Agent::Agent(AgentConfig config) : config_(std::move(config)) {}

Agent::~Agent() {
  socket_.reset();
  http_.reset();
  zk_.reset();
  if (signal_fd_ >= 0) close(signal_fd_);
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
  core_ = std::make_unique<LatchCore>(lc);

  // Signals arrive on the loop through a signalfd (blocked in main()).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return Status::Error("signalfd failed");
  Status watched = loop_->Watch(signal_fd_, EPOLLIN, [this](uint32_t) { OnSignal(); });
  if (!watched.ok()) return watched;

  if (!config_.socket_path.empty()) {
    LineServerOptions options;
    options.path = config_.socket_path;
    LineServerCallbacks cb;
    cb.on_line = [this](LineConn& c, std::string_view line) { OnLine(c, line); };
    cb.on_oversize = [](LineConn& c) { c.Send(ErrorLine("request line longer than 4096 bytes")); };
    cb.on_close = [this](LineConn& c) { watchers_.erase(&c); };
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

  ZkClientOptions zo;
  zo.connect = config_.zk_connect;
  zo.session_timeout = config_.session_timeout;
  zo.acl = AclForCreate(config_.acl);
  zo.auth = config_.auth;
  ZkClientCallbacks zc;
  zc.post = [this](std::function<void()> fn) { loop_->Post(std::move(fn)); };
  zc.on_session = [this](ZkSessionEvent e, ZkSessionInfo info) { OnSession(e, info); };
  zc.on_watch = [this](const ZkWatchEvent& w) { Feed(WatchEvent{w}); };
  zc.on_result = [this](ZkResult r) { Feed(ResultEvent{std::move(r)}); };
  zk_ = MakeZookeeperClient(zo, zc);

  // After a pause (SIGSTOP, a long GC-like stall), the first thing the loop
  // does is let the core see the time, before any request is answered.
  loop_->SetBeforeDispatch([this] {
    auto deadline = core_->NextDeadline();
    if (deadline && *deadline <= clock_.Now()) Feed(TickEvent{});
  });
  OpenSession();
  // Say so when ZooKeeper cannot be reached at start.
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
            << (socket_ ? " socket=" + config_.socket_path : std::string());
  return Status::Ok();
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
    Feed(StopEvent{});
  });
}

void Agent::OnSignal() {
  signalfd_siginfo info;
  while (read(signal_fd_, &info, sizeof info) == sizeof info) {
    LOG(INFO) << "signal " << info.ssi_signo << " from pid " << info.ssi_pid << ": stopping";
    if (stop_requested_) {
      LOG(WARNING) << "second stop signal: exiting now";
      zk_->Close();
      loop_->Stop();
      return;
    }
    stop_requested_ = true;
    Feed(StopEvent{});
  }
}

void Agent::OnSession(ZkSessionEvent event, ZkSessionInfo info) {
  switch (event) {
    case ZkSessionEvent::kConnected:
      ever_connected_ = true;
      Feed(SessionUpEvent{info.session_id, info.negotiated_timeout});
      break;
    case ZkSessionEvent::kConnecting:
      Feed(SessionDownEvent{});
      break;
    case ZkSessionEvent::kExpired:
      Feed(SessionExpiredEvent{"ZooKeeper session expired"});
      break;
    case ZkSessionEvent::kAuthFailed:
      Feed(SessionExpiredEvent{"ZooKeeper authentication failed"});
      break;
  }
}

void Agent::Feed(const Event& event) {
  if (finished_) return;
  Apply(core_->Handle(event, clock_.Now()));
  ArmTimer();
}

void Agent::Apply(std::vector<Action> actions) {
  bool role_changed = false;
  for (auto& action : actions) {
    if (auto* send = std::get_if<SendAction>(&action)) {
      zk_->Submit(send->request);
    } else if (auto* role = std::get_if<RoleChangeAction>(&action)) {
      LOG(INFO) << "role " << RoleName(role->from) << " -> " << RoleName(role->to)
                << " epoch=" << role->epoch << " reason: " << role->reason;
      role_changed = true;
      BroadcastToWatchers();
    } else if (auto* log = std::get_if<LogAction>(&action)) {
      switch (log->level) {
        case LogAction::kInfo: LOG(INFO) << log->message; break;
        case LogAction::kWarning: LOG(WARNING) << log->message; break;
        case LogAction::kError: LOG(ERROR) << log->message; break;
      }
    } else if (auto* reopen = std::get_if<ReopenSessionAction>(&action)) {
      LOG(WARNING) << reopen->reason << ": opening a new ZooKeeper session";
      OpenSession();
    } else if (std::get_if<FinishedAction>(&action)) {
      finished_ = true;
      zk_->Close();
      LOG(INFO) << "stopped";
      loop_->Stop();
    }
  }
  (void)role_changed;
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

std::string Agent::StatusLine() {
  MonoTime now = clock_.Now();
  return StatusJson(config_.id, core_->StatusAt(now), now, WallNowMs()).dump();
}

void Agent::BroadcastToWatchers() {
  if (watchers_.empty()) return;
  std::string line = StatusLine();
  // Send may drop a slow watcher; on_close runs later, so iterate a copy.
  std::set<LineConn*> copy = watchers_;
  for (LineConn* w : copy) w->Send(line);
}

void Agent::OnLine(LineConn& conn, std::string_view line) {
  auto req = ParseRequestLine(line);
  if (!req.ok()) {
    conn.Send(ErrorLine(req.status().message()));
    return;
  }
  MonoTime now = clock_.Now();
  CoreStatus status = core_->StatusAt(now);
  switch (req->command) {
    case Command::kStatus:
      conn.Send(StatusLine());
      return;
    case Command::kWatch:
      watchers_.insert(&conn);
      conn.Send(StatusLine());
      return;
    case Command::kLeader: {
      nlohmann::json j = StatusJson(config_.id, status, now, WallNowMs())["leader"];
      conn.Send(j.dump());
      return;
    }
    case Command::kParticipants: {
      conn.Send(nlohmann::json{{"participants", status.participant_nodes}}.dump());
      return;
    }
    case Command::kYield: {
      PeerCred peer = conn.peer();
      LOG(INFO) << "yield requested by pid " << peer.pid << " uid " << peer.uid;
      Feed(YieldEvent{});
      conn.Send(nlohmann::json{{"ok", true}, {"role", std::string(RoleName(core_->RoleAt(clock_.Now())))}}.dump());
      return;
    }
    case Command::kHelp:
      conn.Send(nlohmann::json{{"help", ProtocolHelp()}}.dump());
      return;
    case Command::kAck:
      conn.Send(ErrorLine("ack: activation handshake is not enabled"));
      return;
  }
}

HttpResponse Agent::OnHttp(const HttpRequest& request) {
  Role role = core_->RoleAt(clock_.Now());
  if (request.path == "/api/atlas/admin/status") {
    return HttpResponse{200, "application/json", AtlasStatusBody(role)};
  }
  if (request.path == "/status") {
    return HttpResponse{200, "application/json", StatusLine() + "\n"};
  }
  if (request.path == "/active") {
    return HttpResponse{role == Role::kActive ? 200 : 503, "text/plain; charset=utf-8",
                        std::string(RoleName(role)) + "\n"};
  }
  if (request.path == "/healthz") {
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
  }
  return HttpResponse{404, "text/plain; charset=utf-8", "not found\n"};
}

}  // namespace latchd
