#include "agent/latchd/agent.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <glog/logging.h>

#include "lib/api/session_file.h"
#include "lib/util/uuid.h"
#include "lib/zk/acl.h"
#include "lib/zk/zookeeper_client.h"

namespace latchd {

Agent::Agent(AgentConfig config, AgentDeps deps)
    : config_(std::move(config)), clock_(deps.clock ? *deps.clock : steady_), deps_(std::move(deps)) {
  if (!deps_.make_zk_client) deps_.make_zk_client = MakeZookeeperClient;
}

Agent::~Agent() {
  prober_.reset();
  hooks_.reset();
  socket_.reset();
  http_.reset();
  zk_.reset();
  if (signal_fd_ >= 0) close(signal_fd_);
  if (journal_fd_ >= 0) close(journal_fd_);
}

Instant Agent::Now() const {
  return Instant{clock_.Now(), std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count()};
}

Status Agent::Start() {
  auto loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  loop_ = std::move(loop).value();

  AgentCoreOptions options;
  options.new_uuid = NewUuid;
  options.watchdog_interval = notifier_->WatchdogInterval();
  session_file_ = options.session_file = SessionFilePath(config_.socket_path);
  if (!session_file_.empty() && access(session_file_.c_str(), F_OK) == 0) {
    options.previous_record = ReadSessionRecord(session_file_);
  }
  core_ = std::make_unique<AgentCore>(config_, std::move(options), metrics_);

  // Signals arrive on the loop through a signalfd (blocked in main()).
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return Status::Error("signalfd failed");
  Status watched = loop_->Watch(signal_fd_, EPOLLIN, [this](uint32_t) {
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == sizeof info) {
      Dispatch(agent::SignalReceived{static_cast<int>(info.ssi_signo), static_cast<int>(info.ssi_pid)});
    }
  });
  if (!watched.ok()) return watched;

  if (!config_.journal.empty()) {
    journal_fd_ = open(config_.journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (journal_fd_ < 0) {
      return Status::Error("--journal: cannot open " + config_.journal + ": " + std::strerror(errno));
    }
  }
  if (!config_.socket_path.empty()) {
    LineServerOptions o{config_.socket_path, config_.socket_mode, config_.socket_group};
    LineServerCallbacks cb;
    cb.on_open = [this](LineConn& c) {
      conns_[c.id()] = &c;
      PeerCred p = c.peer();
      Dispatch(agent::ConnOpened{c.id(), Peer{p.pid, p.uid, p.gid}});
    };
    cb.on_line = [this](LineConn& c, std::string_view line) {
      Dispatch(agent::LineReceived{c.id(), line});
    };
    cb.on_oversize = [this](LineConn& c) { Dispatch(agent::LineTooLong{c.id()}); };
    cb.on_close = [this](LineConn& c) {
      conns_.erase(c.id());
      Dispatch(agent::ConnClosed{c.id()});
    };
    auto server = LineServer::Start(*loop_, o, cb);
    if (!server.ok()) return Status::Error("--socket_path: " + server.status().message());
    socket_ = std::move(server).value();
  }
  if (!config_.http_listen.empty()) {
    auto server = HttpServer::Start(*loop_, config_.http_listen, [this](const HttpRequest& r) {
      return core_->HandleHttp(r, Now());
    });
    if (!server.ok()) return Status::Error("--http_listen: " + server.status().message());
    http_ = std::move(server).value();
  }
  if (!config_.on_transition.empty()) {
    hooks_ = std::make_unique<HookRunner>(
        config_.on_transition, config_.on_transition_timeout,
        [this](const HookJob& job, bool ok, const std::string& detail) {
          loop_->Post([this, job, ok, detail] { Dispatch(agent::HookFinished{job, ok, detail}); });
        });
  }

  prober_ = std::make_unique<Prober>(*loop_, [this](uint64_t id, bool ok, const std::string& detail) {
    Dispatch(agent::ProbeFinished{id, ok, detail});
  });

  ZkClientOptions zo;
  zo.connect = config_.zk_connect;
  zo.session_timeout = config_.session_timeout;
  zo.acl = AclForCreate(config_.acl);
  zo.auth = config_.auth;
  zo.resume = core_->resume();
  zo.security = config_.zk_security;
  ZkClientCallbacks zc;
  zc.post = [this](std::function<void()> fn) { loop_->Post(std::move(fn)); };
  zc.on_session = [this](ZkSessionEvent e, ZkSessionInfo info) { Dispatch(agent::ZkSession{e, info}); };
  // --v=1 traces every request, answer and watch with glog's µs timestamps (where a handover's
  // time goes: bench/README.md, "Planned handovers").
  zc.on_watch = [this](const ZkWatchEvent& w) {
    VLOG(1) << "zk watch " << static_cast<int>(w.type) << " " << w.path;
    Dispatch(agent::ZkWatch{w});
  };
  zc.on_result = [this](ZkResult r) {
    VLOG(1) << "zk answer #" << r.id << " " << ZkCodeName(r.code);
    Dispatch(agent::ZkAnswer{std::move(r)});
  };
  zk_ = deps_.make_zk_client(zo, zc);

  // After a pause (SIGSTOP, a long stall), the first thing the loop does is
  // let the core see the time, before any request is answered.
  loop_->SetBeforeDispatch([this] {
    auto deadline = core_->NextDeadline();
    if (deadline && *deadline <= clock_.Now()) Dispatch(agent::TimerFired{});
  });
  Dispatch(agent::Started{});
  return Status::Ok();
}

int Agent::Run() {
  loop_->Run();
  return exit_code_;
}

void Agent::Dispatch(const agent::Event& event) {
  Execute(core_->Handle(event, Now()));
  ArmTimer();
}

void Agent::Execute(const std::vector<agent::Action>& actions) {
  for (const agent::Action& action : actions) {
    if (const auto* send = std::get_if<agent::SendBytes>(&action)) {
      // Send may drop a slow client, but on_close runs later on the loop.
      if (auto it = conns_.find(send->conn); it != conns_.end()) it->second->Send(send->bytes);
    } else if (const auto* close = std::get_if<agent::CloseConn>(&action)) {
      if (auto it = conns_.find(close->conn); it != conns_.end()) it->second->Close();
    } else if (const auto* submit = std::get_if<agent::ZkSubmit>(&action)) {
      VLOG(1) << "zk submit #" << submit->request.id << " " << static_cast<int>(submit->request.kind)
              << " " << submit->request.path
              << (submit->request.guard.empty() ? "" : " guard " + submit->request.guard)
              << (submit->request.mark_path.empty() ? "" : " mark");
      zk_->Submit(submit->request);
    } else if (std::holds_alternative<agent::ZkOpen>(action)) {
      Status s = zk_->Open();
      if (!s.ok()) loop_->Post([this, m = s.message()] { Dispatch(agent::ZkOpenFailed{m}); });
    } else if (std::holds_alternative<agent::ZkClose>(action)) {
      VLOG(1) << "zk close";
      zk_->Close();
      VLOG(1) << "zk closed";
    } else if (const auto* line = std::get_if<agent::JournalAppend>(&action)) {
      if (journal_fd_ >= 0 &&
          write(journal_fd_, line->line.data(), line->line.size()) != static_cast<ssize_t>(line->line.size())) {
        LOG(WARNING) << "--journal: write to " << config_.journal << " failed";
      }
    } else if (const auto* record = std::get_if<agent::SessionRecordWrite>(&action)) {
      Status w = WriteSessionRecord(session_file_, record->record);
      if (!w.ok()) loop_->Post([this, m = w.message()] { Dispatch(agent::SessionRecordFailed{m}); });
    } else if (std::holds_alternative<agent::SessionRecordRemove>(action)) {
      RemoveSessionRecord(session_file_);
    } else if (const auto* hook = std::get_if<agent::HookRun>(&action)) {
      if (hooks_) hooks_->Enqueue(hook->job);
    } else if (const auto* n = std::get_if<agent::Notify>(&action)) {
      switch (n->kind) {
        case agent::Notify::kReady: notifier_->Ready(); break;
        case agent::Notify::kStatus: notifier_->Status(n->text); break;
        case agent::Notify::kStopping: notifier_->Stopping(); break;
        case agent::Notify::kWatchdog: notifier_->Watchdog(); break;
      }
    } else if (const auto* log = std::get_if<agent::Log>(&action)) {
      switch (log->level) {
        case LogAction::kInfo: LOG(INFO) << log->message; break;
        case LogAction::kWarning: LOG(WARNING) << log->message; break;
        case LogAction::kError: LOG(ERROR) << log->message; break;
      }
    } else if (const auto* probe = std::get_if<agent::ProbeRun>(&action)) {
      const ProbeStart& p = probe->probe;
      if (p.kind == ProbeKind::kHttp) prober_->RunHttp(p.id, p.target, p.timeout);
      else prober_->RunExec(p.id, p.target, p.timeout);
    } else if (const auto* exit = std::get_if<agent::Exit>(&action)) {
      exit_code_ = exit->code;
      loop_->Stop();
    }
  }
}

void Agent::ArmTimer() {
  auto deadline = core_->NextDeadline();
  if (timer_ && (!deadline || timer_at_ != *deadline)) {
    loop_->CancelTimer(timer_);
    timer_ = 0;
  }
  if (!deadline || timer_) return;
  timer_at_ = *deadline;
  timer_ = loop_->AddTimer(*deadline, [this] {
    timer_ = 0;
    Dispatch(agent::TimerFired{});
  });
}

}  // namespace latchd
