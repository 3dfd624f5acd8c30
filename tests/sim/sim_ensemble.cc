// SimZk: the servers — sessions and their expiry, the per-session request
// pipeline, the leader's commits, the followers' applied prefixes, watches,
// faults, and an operator's writes.
#include <algorithm>

#include "tests/sim/sim_zk.h"

namespace latchd::sim {
namespace {

MonoTime NextBoundary(MonoTime t, Duration tick) {
  return MonoTime((t.time_since_epoch() / tick + 1) * tick);
}

bool IsRead(ZkRequestKind kind) {
  return kind == ZkRequestKind::kGetData || kind == ZkRequestKind::kGetChildren;
}

}  // namespace

// ---- Sessions -------------------------------------------------------------------

void SimZk::Touch(int server, int64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  if (server == leader_) {
    // ExpiryQueue: the session expires at the first tick boundary after
    // last touch + timeout.
    it->second.expires = NextBoundary(now_ + it->second.timeout, options_.tick);
  } else {
    servers_[server].touched.insert(session);  // reported at the next tick
  }
}

void SimZk::OnTickBoundary() {
  if (leader_ < 0) return;
  for (size_t s = 0; s < servers_.size(); ++s) {
    if (static_cast<int>(s) == leader_ || !servers_[s].alive) continue;
    std::set<int64_t> touched;
    touched.swap(servers_[s].touched);
    for (int64_t id : touched) Touch(leader_, id);
  }
  std::vector<int64_t> due;
  for (const auto& [id, s] : sessions_) {
    if (s.expires <= now_) due.push_back(id);
  }
  for (int64_t id : due) Expire(id);
}

void SimZk::Expire(int64_t session) {
  if (!sessions_.count(session)) return;
  EndSession(session);
  for (size_t c = 0; c < clients_.size(); ++c) {
    Client& cl = clients_[c];
    if (cl.session == session && (cl.state == State::kConnected || cl.handshaking)) {
      ServerDrops(static_cast<int>(c));  // the server closes the expired session's connection
    }
  }
}

void SimZk::EndSession(int64_t session) {
  if (!sessions_.erase(session) || leader_ < 0) return;
  std::vector<SimChange> changes = Leader().tree.EphemeralsOf(session);
  if (!changes.empty()) Commit(std::move(changes));
  watches_.erase(std::remove_if(watches_.begin(), watches_.end(),
                                [&](const Watch& w) { return w.session == session; }),
                 watches_.end());
}

void SimZk::OnConnect(int c, int s) {
  Client& cl = clients_[c];
  ZkSessionInfo info;
  bool expired = false;
  if (cl.session == 0) {
    info.session_id = next_session_++;
    sessions_[info.session_id] = Session{cl.timeout, now_};
    Touch(leader_, info.session_id);
  } else if (!Alive(cl.session)) {
    expired = true;
  } else {
    info.session_id = cl.session;
    // A server never serves a client that has seen more than it has applied.
    if (servers_[s].tree.last_zxid() < cl.seen_zxid) ApplyTo(s, log_.size());
    Touch(s, cl.session);
  }
  info.negotiated_timeout = std::chrono::duration_cast<milliseconds>(cl.timeout);
  info.password = "simulated-password";
  ToClientRaw(c, [this, c, info, expired] {
    Client& cl = clients_[c];
    cl.handshaking = false;
    if (expired) {
      cl.state = State::kDead;
      Hand(c, SessionChange{ZkSessionEvent::kExpired, {}});
      return;
    }
    cl.state = State::kConnected;
    cl.session = info.session_id;
    Hand(c, SessionChange{ZkSessionEvent::kConnected, info});
  });
  if (!expired) FireSetWatches(c, s);
}

void SimZk::FireSetWatches(int c, int s) {
  const int64_t session = clients_[c].session;
  const SimTree& tree = servers_[s].tree;
  for (auto it = watches_.begin(); it != watches_.end();) {
    std::optional<WatchEventType> type;
    const SimNode* n = tree.Get(it->path);
    if (it->session != session) {
    } else if (n == nullptr) {
      type = WatchEventType::kDeleted;
    } else if (!it->child && n->stat.mzxid > it->zxid) {
      type = WatchEventType::kDataChanged;
    } else if (it->child && n->pzxid > it->zxid) {
      type = WatchEventType::kChildrenChanged;
    }
    if (!type) {
      ++it;
      continue;
    }
    ToClient(c, ZkWatchEvent{*type, it->path});
    it = watches_.erase(it);
  }
}

SimCaller SimZk::CallerOf(int c) const {
  const Client& cl = clients_[c];
  return SimCaller{cl.session, cl.options.identity, cl.options.acl, false};
}

// ---- The request pipeline ------------------------------------------------------

std::optional<FaultRule> SimZk::MatchFault(int c, const ZkRequest& req) {
  for (FaultRule& rule : faults_) {
    if (rule.remaining == 0 || (rule.request && *rule.request != req.kind) ||
        (rule.client >= 0 && rule.client != c) ||
        req.path.compare(0, rule.path_prefix.size(), rule.path_prefix) != 0) {
      continue;
    }
    if (rule.rate < 1.0 && std::uniform_real_distribution<double>(0, 1)(rng_) >= rule.rate) continue;
    if (rule.remaining > 0) --rule.remaining;
    return rule;
  }
  return std::nullopt;
}

int SimZk::AddFault(FaultRule rule) {
  faults_.push_back(std::move(rule));
  return static_cast<int>(faults_.size()) - 1;
}

void SimZk::ServerDrops(int c) {
  Client& cl = clients_[c];
  cl.server_closed = true;
  cl.at_server.clear();
  cl.server_busy = false;
  ToClientRaw(c, [this, c] { LoseConnection(c); });
}

void SimZk::Process(int c) {
  Client& cl = clients_[c];
  const int s = cl.server;
  while (!cl.server_busy && !cl.at_server.empty() && !cl.server_closed) {
    Queued q = std::move(cl.at_server.front());
    cl.at_server.pop_front();
    if (q.kind == Queued::kPing) {
      ToClientRaw(c, [] {});  // the pong: only proof of life
      continue;
    }
    const ZkRequest& req = q.request;
    std::optional<FaultRule> fault = MatchFault(c, req);
    if (fault && fault->kind == FaultKind::kLossNotApplied) {
      ServerDrops(c);
      return;
    }
    if (fault && fault->kind == FaultKind::kAnswer) {
      ZkResult r;
      r.id = req.id;
      r.code = fault->code;
      Answer(c, cl.epoch, r, false);
      continue;
    }
    const bool drop = fault.has_value();  // kLossApplied
    if (IsRead(req.kind)) {
      const SimTree& tree = servers_[s].tree;
      ZkResult r = tree.Read(req, CallerOf(c));
      if (req.watch && r.code == ZkCode::kOk) {
        watches_.push_back(Watch{cl.session, req.path, req.kind == ZkRequestKind::kGetChildren,
                                 tree.last_zxid()});
      }
      Answer(c, cl.epoch, r, drop);
      continue;
    }
    cl.server_busy = true;  // a write or sync: the session's later requests wait for it
    const uint64_t epoch = cl.epoch;
    const SimCaller caller = CallerOf(c);
    Schedule(now_ + (s == leader_ ? Duration::zero() : options_.quorum_latency),
             [this, c, epoch, s, req, caller, drop] { OnLeaderWrite(c, epoch, s, req, caller, drop); });
    return;
  }
}

void SimZk::OnLeaderWrite(int c, uint64_t epoch, int origin, const ZkRequest& req,
                          const SimCaller& caller, bool drop) {
  if (leader_ < 0 || !servers_[origin].alive) return;  // lost with the server
  Parked p{c, epoch, ZkResult{}, 0, drop, req.kind == ZkRequestKind::kSync};
  p.result.id = req.id;
  if (!Alive(caller.session)) {
    p.result.code = ZkCode::kSessionExpired;
  } else if (p.sync) {
    p.result.code = ZkCode::kOk;
  } else {
    SimTree::Outcome out = Leader().tree.Write(req, caller, zxid_ + 1);
    if (!out.changes.empty()) Commit(std::move(out.changes));
    p.result = out.result;
  }
  p.need = log_.size();
  auto park = [this, origin, p] {
    if (!servers_[origin].alive) return;
    if (p.sync) ApplyTo(origin, p.need);  // sync: catch up with the leader
    servers_[origin].parked.push_back(p);
    ServeParked(origin);
  };
  if (origin == leader_) {
    park();
  } else {
    Schedule(now_ + options_.quorum_latency, park);
  }
}

void SimZk::Answer(int c, uint64_t epoch, const ZkResult& r, bool drop) {
  Client& cl = clients_[c];
  if (cl.epoch != epoch || cl.server_closed) return;
  if (drop) {
    ServerDrops(c);
    return;
  }
  cl.seen_zxid = std::max(cl.seen_zxid, servers_[cl.server].tree.last_zxid());
  ToClient(c, r);
}

void SimZk::ServeParked(int s) {
  std::vector<Parked> ready;
  auto& parked = servers_[s].parked;
  for (auto it = parked.begin(); it != parked.end();) {
    if (it->need <= servers_[s].applied) {
      ready.push_back(std::move(*it));
      it = parked.erase(it);
    } else {
      ++it;
    }
  }
  for (const Parked& p : ready) {
    Client& cl = clients_[p.client];
    if (cl.epoch != p.epoch) continue;
    cl.server_busy = false;
    Answer(p.client, p.epoch, p.result, p.drop);
    Process(p.client);
  }
}

// ---- Commits and the followers ---------------------------------------------------

void SimZk::Commit(std::vector<SimChange> changes) {
  log_.push_back(SimTxn{++zxid_, std::move(changes)});
  const size_t upto = log_.size();
  ApplyTo(leader_, upto);
  for (size_t s = 0; s < servers_.size(); ++s) {
    if (static_cast<int>(s) == leader_ || !servers_[s].alive) continue;
    Schedule(now_ + options_.quorum_latency + servers_[s].lag, [this, s, upto] {
      if (servers_[s].alive) ApplyTo(static_cast<int>(s), upto);
    });
  }
}

void SimZk::ApplyTo(int s, size_t upto) {
  Server& sv = servers_[s];
  while (sv.applied < upto && sv.applied < log_.size()) {
    for (const ZkWatchEvent& e : sv.tree.Apply(log_[sv.applied])) {
      for (auto it = watches_.begin(); it != watches_.end();) {
        const bool match =
            it->path == e.path &&
            (it->child ? (e.type == WatchEventType::kChildrenChanged || e.type == WatchEventType::kDeleted)
                       : e.type != WatchEventType::kChildrenChanged);
        int holder = -1;
        for (size_t c = 0; c < clients_.size() && match; ++c) {
          const Client& cl = clients_[c];
          if (cl.session == it->session && cl.state == State::kConnected && cl.server == s &&
              !cl.server_closed) {
            holder = static_cast<int>(c);
          }
        }
        if (holder < 0) {
          ++it;  // fires where its client is connected, or at its reconnect
          continue;
        }
        ToClient(holder, e);
        it = watches_.erase(it);
      }
    }
    ++sv.applied;
  }
  ServeParked(s);
}

void SimZk::SetCommitLag(int s, Duration lag) { servers_[s].lag = lag; }

void SimZk::KillServer(int s) {
  Server& sv = servers_[s];
  if (!sv.alive) return;
  sv.alive = false;
  sv.parked.clear();
  sv.touched.clear();
  const bool was_leader = s == leader_;
  if (was_leader) {
    leader_ = -1;
    for (size_t k = 0; k < servers_.size(); ++k) {
      if (servers_[k].alive) {
        leader_ = static_cast<int>(k);
        break;
      }
    }
    if (leader_ >= 0) {
      ApplyTo(leader_, log_.size());
      for (auto& [id, session] : sessions_) {  // a new leader restarts every session's clock
        session.expires = NextBoundary(now_ + session.timeout, options_.tick);
      }
    }
  }
  for (size_t c = 0; c < clients_.size(); ++c) {
    // Clients of the dead server see a reset; after a leader change every
    // server drops its clients.
    if (clients_[c].server == s || was_leader) ResetConnection(static_cast<int>(c));
  }
}

void SimZk::RestartServer(int s) {
  Server& sv = servers_[s];
  if (sv.alive) return;
  sv.alive = true;
  if (leader_ < 0) {
    leader_ = s;
    for (auto& [id, session] : sessions_) {
      session.expires = NextBoundary(now_ + session.timeout, options_.tick);
    }
  }
  ApplyTo(s, log_.size());  // it syncs with the leader before serving
}

// ---- An operator's writes ---------------------------------------------------------

ZkCode SimZk::OperatorWrite(ZkRequest req, int64_t owner) {
  if (leader_ < 0) return ZkCode::kConnectionLoss;
  SimCaller super{owner, "", {}, true};
  SimTree::Outcome out = Leader().tree.Write(req, super, zxid_ + 1);
  if (!out.changes.empty()) Commit(std::move(out.changes));
  return out.result.code;
}

ZkCode SimZk::Create(const std::string& path, const std::string& data, int64_t owner) {
  ZkRequest req;
  req.kind = ZkRequestKind::kCreate;
  req.path = path;
  req.data = data;
  req.mode = owner != 0 ? CreateMode::kEphemeral : CreateMode::kPersistent;
  return OperatorWrite(std::move(req), owner);
}

ZkCode SimZk::Delete(const std::string& path) {
  for (const auto& child : Children(path)) Delete(path == "/" ? "/" + child : path + "/" + child);
  ZkRequest req;
  req.kind = ZkRequestKind::kDelete;
  req.path = path;
  return OperatorWrite(std::move(req), 0);
}

ZkCode SimZk::SetData(const std::string& path, const std::string& data) {
  ZkRequest req;
  req.kind = ZkRequestKind::kSetData;
  req.path = path;
  req.data = data;
  return OperatorWrite(std::move(req), 0);
}

ZkCode SimZk::SetAcl(const std::string& path, std::vector<ZkAclEntry> acl) {
  if (leader_ < 0) return ZkCode::kConnectionLoss;
  const SimNode* n = Get(path);
  if (n == nullptr) return ZkCode::kNoNode;
  SimNode changed = *n;
  changed.acl = std::move(acl);
  Commit({SimChange{path, changed}});
  return ZkCode::kOk;
}

}  // namespace latchd::sim
