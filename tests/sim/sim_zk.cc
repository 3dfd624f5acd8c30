// SimZk: time, links and the client side (the C client's behaviour). The
// servers are in sim_ensemble.cc, traces and checks in sim_trace.cc.
#include "tests/sim/sim_zk.h"

#include <algorithm>

namespace latchd::sim {

SimZk::SimZk(SimZkOptions options)
    : options_(std::move(options)), now_(options_.start), rng_(options_.seed) {
  servers_.resize(std::max(1, options_.servers));
  next_tick_ = MonoTime((now_.time_since_epoch() / options_.tick + 1) * options_.tick);
}

Duration SimZk::NegotiatedTimeout(Duration requested) const {
  return std::clamp(requested, Duration(options_.tick * 2), Duration(options_.tick * 20));
}

void SimZk::Schedule(MonoTime at, std::function<void()> fn) {
  queue_.emplace(std::make_pair(std::max(at, now_), seq_++), std::move(fn));
}

Duration SimZk::Latency(Duration base, Duration jitter) {
  if (jitter <= Duration::zero()) return base;
  std::uniform_int_distribution<int64_t> d(0, jitter.count());
  return base + Duration(d(rng_));
}

// ---- Time ---------------------------------------------------------------------

std::optional<MonoTime> SimZk::ClientDue(int c) const {
  const Client& cl = clients_[c];
  if (cl.paused) return std::nullopt;
  const Duration t = cl.timeout;
  switch (cl.state) {
    case State::kConnected: return std::min(cl.last_send + t / 3, cl.last_recv + t * 2 / 3);
    case State::kConnecting:
      if (cl.handshaking) return cl.last_recv + t * 2 / 3;
      return cl.attempt_at;
    default: return std::nullopt;
  }
}

bool SimZk::Step(const Host& host, MonoTime limit) {
  std::optional<MonoTime> h = host.next_deadline ? host.next_deadline() : std::nullopt;
  MonoTime own = next_tick_;
  int kind = 2, who = -1;  // 0 queue, 1 a client's timer, 2 the leader's tick
  if (!queue_.empty() && queue_.begin()->first.first <= own) {
    own = queue_.begin()->first.first;
    kind = 0;
  }
  for (size_t c = 0; c < clients_.size(); ++c) {
    std::optional<MonoTime> due = ClientDue(static_cast<int>(c));
    if (due && (*due < own || (*due == own && kind == 2))) {
      own = std::max(*due, now_);
      kind = 1;
      who = static_cast<int>(c);
    }
  }
  if (h && *h <= own) {  // the host's timers first at the same instant
    MonoTime t = std::max(*h, now_);
    if (t > limit) return false;
    if (t == now_ && ++spins_ > 1000) {
      Fail("busy loop: the host's deadline stays at the current instant");
      return false;
    }
    if (t > now_) spins_ = 0;
    now_ = t;
    host.fire(now_);
    return true;
  }
  if (own > limit) return false;
  if (own > now_) spins_ = 0;
  now_ = std::max(now_, own);
  if (kind == 0) {
    auto fn = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    fn();
  } else if (kind == 1) {
    ClientTimers(who);
  } else {
    OnTickBoundary();
    next_tick_ += options_.tick;
  }
  return true;
}

void SimZk::Run(MonoTime end, const Host& host) {
  while (!failure_ && Step(host, end)) {
  }
  now_ = std::max(now_, end);
}

bool SimZk::Settle(const Host& host) {
  const MonoTime start = now_;
  while (!Quiet()) {
    if (failure_) return false;
    if (now_ - start > options_.settle_limit) {
      Fail("the run did not quiesce within " +
           std::to_string(std::chrono::duration_cast<milliseconds>(options_.settle_limit).count()) +
           " ms of simulated time (" + InFlightText() + ")");
      return false;
    }
    Step(host, MonoTime::max());
  }
  return !failure_;
}

bool SimZk::Quiet() const {
  bool server_alive = std::any_of(servers_.begin(), servers_.end(), [](const Server& s) { return s.alive; });
  for (const Client& cl : clients_) {
    if (cl.paused || cl.partitioned) continue;
    if (cl.in_air > 0 || !cl.pending.empty() || cl.handshaking) return false;
    if (cl.state == State::kConnecting && server_alive) return false;
  }
  return true;
}

// ---- Links --------------------------------------------------------------------

void SimZk::ToServer(int c, std::function<void()> at_server) {
  Client& cl = clients_[c];
  const uint64_t epoch = cl.epoch;
  MonoTime at = std::max(now_ + Latency(cl.options.latency.send, cl.options.latency.jitter), cl.out_free);
  cl.out_free = at;
  Schedule(at, [this, c, epoch, fn = std::move(at_server)]() mutable {
    Client& cl = clients_[c];
    if (cl.epoch != epoch || cl.server_closed || !servers_[cl.server].alive) return;
    if (cl.partitioned) {
      cl.held.push_back([this, c, fn]() { ToServer(c, fn); });
      return;
    }
    if (cl.session != 0) Touch(cl.server, cl.session);
    fn();
  });
}

void SimZk::ToClientRaw(int c, std::function<void()> at_client) {
  Client& cl = clients_[c];
  const uint64_t epoch = cl.epoch;
  MonoTime at =
      std::max(now_ + Latency(cl.options.latency.receive, cl.options.latency.jitter), cl.in_free);
  cl.in_free = at;
  ++cl.in_air;
  Schedule(at, [this, c, epoch, fn = std::move(at_client)]() mutable {
    Client& cl = clients_[c];
    --cl.in_air;
    if (cl.epoch != epoch) return;
    if (cl.partitioned) {
      cl.held.push_back([this, c, fn]() { ToClientRaw(c, fn); });
      return;
    }
    if (cl.paused) {  // the bytes wait in the socket
      cl.inbox.push_back(std::move(fn));
      return;
    }
    cl.last_recv = now_;
    fn();
  });
}

void SimZk::ToClient(int c, ClientEvent event) {
  ToClientRaw(c, [this, c, e = std::move(event)] { Hand(c, e); });
}

void SimZk::Later(int c, ClientEvent event) {
  Client& cl = clients_[c];
  const uint64_t handle = cl.handle;
  ++cl.in_air;
  Schedule(now_, [this, c, handle, e = std::move(event)] {
    --clients_[c].in_air;
    if (clients_[c].handle == handle) Hand(c, e);
  });
}

void SimZk::Hand(int c, const ClientEvent& event) {
  Client& cl = clients_[c];
  if (cl.paused) {
    cl.inbox.push_back([this, c, event] { Hand(c, event); });
    return;
  }
  if (const auto* r = std::get_if<ZkResult>(&event)) NoteAnswer(c, *r);
  if (cl.deliver) cl.deliver(event);
}

// ---- Clients --------------------------------------------------------------------

int SimZk::AddClient(SimClientOptions options, Deliver deliver) {
  Client cl;
  const int c = static_cast<int>(clients_.size());
  cl.server = options.server >= 0 ? options.server % static_cast<int>(servers_.size())
                                  : c % static_cast<int>(servers_.size());
  cl.timeout = NegotiatedTimeout(options.session_timeout);
  cl.options = std::move(options);
  cl.deliver = std::move(deliver);
  clients_.push_back(std::move(cl));
  return c;
}

void SimZk::Drop(int c) {
  Client& cl = clients_[c];
  ++cl.epoch;
  ++cl.handle;
  cl.state = State::kIdle;
  cl.session = 0;
  cl.handshaking = false;
  cl.attempt_at.reset();
  cl.pending.clear();
  cl.inbox.clear();
  cl.held.clear();
  cl.at_server.clear();
  cl.server_busy = false;
}

void SimZk::Open(int c, int64_t resume) {
  Client& cl = clients_[c];
  if (cl.state == State::kConnected || cl.state == State::kConnecting) Close(c);
  Drop(c);
  cl.session = resume;
  cl.timeout = NegotiatedTimeout(cl.options.session_timeout);
  cl.state = State::kConnecting;
  cl.rotate = false;
  cl.attempt_at = now_;
}

void SimZk::Close(int c) {
  Client& cl = clients_[c];
  if (cl.state == State::kConnected && !cl.partitioned && !cl.server_closed &&
      servers_[cl.server].alive) {
    const int64_t session = cl.session;
    Schedule(now_ + Latency(cl.options.latency.send, cl.options.latency.jitter) + options_.quorum_latency,
             [this, session] { EndSession(session); });
  }
  Drop(c);
}

void SimZk::Abandon(int c) { Drop(c); }

void SimZk::Submit(int c, const ZkRequest& request) {
  Client& cl = clients_[c];
  if (cl.state == State::kIdle) return;
  cl.log.push_back(Sent{now_, request, std::nullopt, {}});
  CheckRate(c);
  if (cl.state != State::kConnected) {
    ZkResult r;
    r.id = request.id;
    r.code = cl.state == State::kDead ? ZkCode::kInvalidState : ZkCode::kConnectionLoss;
    Later(c, r);
    return;
  }
  cl.pending[request.id] = request;
  cl.last_send = now_;
  ToServer(c, [this, c, request] {
    clients_[c].at_server.push_back(Queued{Queued::kRequest, request});
    Process(c);
  });
}

void SimZk::NoteAnswer(int c, const ZkResult& r) {
  Client& cl = clients_[c];
  cl.pending.erase(r.id);
  for (auto it = cl.log.rbegin(); it != cl.log.rend(); ++it) {
    if (it->request.id == r.id && !it->code) {
      it->code = r.code;
      it->answered = now_;
      break;
    }
  }
}

void SimZk::SetPartitioned(int c, bool on) {
  Client& cl = clients_[c];
  cl.partitioned = on;
  if (on) return;
  std::vector<std::function<void()>> held;
  held.swap(cl.held);
  for (auto& fn : held) fn();  // each goes on its way again, in order
}

void SimZk::SetPaused(int c, bool on) {
  Client& cl = clients_[c];
  cl.paused = on;
  if (on || cl.inbox.empty()) return;
  cl.last_recv = now_;  // the socket had data waiting
  const uint64_t handle = cl.handle;
  ++cl.in_air;
  Schedule(now_, [this, c, handle] {
    Client& cl = clients_[c];
    --cl.in_air;
    while (cl.handle == handle && !cl.paused && !cl.inbox.empty()) {
      std::function<void()> fn = std::move(cl.inbox.front());
      cl.inbox.pop_front();
      fn();
    }
  });
}

void SimZk::ResetConnection(int c) {
  Client& cl = clients_[c];
  if (cl.state == State::kConnected || cl.handshaking) LoseConnection(c);
}

void SimZk::LoseConnection(int c) {
  Client& cl = clients_[c];
  const bool was_connected = cl.state == State::kConnected;
  if (!was_connected && cl.state != State::kConnecting) return;
  ++cl.epoch;
  cl.state = State::kConnecting;
  cl.handshaking = false;
  cl.held.clear();
  cl.at_server.clear();
  cl.server_busy = false;
  cl.rotate = true;
  cl.attempt_at = now_;
  std::map<uint64_t, ZkRequest> pending;
  pending.swap(cl.pending);
  if (was_connected) Later(c, SessionChange{ZkSessionEvent::kConnecting, {}});
  for (const auto& [id, req] : pending) {
    ZkResult r;
    r.id = id;
    r.code = ZkCode::kConnectionLoss;
    Later(c, r);
  }
}

void SimZk::Attempt(int c) {
  Client& cl = clients_[c];
  const int n = static_cast<int>(servers_.size());
  int pick = -1;
  for (int k = 0; k < n; ++k) {
    int s = (cl.server + (cl.rotate ? 1 : 0) + k) % n;
    if (servers_[s].alive) {
      pick = s;
      break;
    }
  }
  cl.rotate = true;
  if (pick < 0 || cl.partitioned) {
    if (pick >= 0) cl.server = pick;
    cl.attempt_at = now_ + options_.reconnect_delay;
    return;
  }
  ++cl.epoch;
  cl.server = pick;
  cl.server_closed = false;
  cl.handshaking = true;
  cl.attempt_at.reset();
  cl.last_send = cl.last_recv = cl.out_free = cl.in_free = now_;
  ToServer(c, [this, c, pick] { OnConnect(c, pick); });
}

void SimZk::ClientTimers(int c) {
  Client& cl = clients_[c];
  const Duration t = cl.timeout;
  if (cl.state == State::kConnected) {
    if (now_ >= cl.last_recv + t * 2 / 3) {
      LoseConnection(c);  // silent for 2/3 of the timeout (the C client's rule)
    } else if (now_ >= cl.last_send + t / 3) {
      cl.last_send = now_;  // a ping
      ToServer(c, [this, c] {
        clients_[c].at_server.push_back(Queued{Queued::kPing, {}});
        Process(c);
      });
    }
    return;
  }
  if (cl.state != State::kConnecting) return;
  if (cl.handshaking) {
    if (now_ >= cl.last_recv + t * 2 / 3) {
      cl.handshaking = false;
      ++cl.epoch;
      Attempt(c);
    }
  } else if (cl.attempt_at && *cl.attempt_at <= now_) {
    Attempt(c);
  }
}

void SimZk::CheckRate(int c) {
  Client& cl = clients_[c];
  cl.recent.push_back(now_);
  while (cl.recent.front() <= now_ - std::chrono::seconds(1)) cl.recent.pop_front();
  const int limit = cl.options.max_requests_per_second > 0 ? cl.options.max_requests_per_second
                                                           : options_.max_requests_per_second;
  if (!cl.rate_failed && static_cast<int>(cl.recent.size()) > limit) {
    cl.rate_failed = true;
    Fail("client " + std::to_string(c) + " (" + cl.options.name + ") sent " +
         std::to_string(cl.recent.size()) + " requests within one simulated second (limit " +
         std::to_string(limit) + ")");
  }
}

}  // namespace latchd::sim
