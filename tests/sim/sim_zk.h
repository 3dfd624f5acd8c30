// SimZk: a simulated ZooKeeper ensemble and its clients, on simulated time —
// the one ZooKeeper every simulation of latchd runs against (the core cluster
// tests/unit/sim_cluster.h, the agents tests/sim/sim_agents.h, fuzz_core).
//
// What it models, as ZooKeeper 3.8 and its C client do it:
//  * The ensemble: one leader commits writes in zxid order; every server has
//    its own copy of the tree (SimTree) holding an applied prefix of the
//    commit log. A follower applies a commit `quorum_latency` after the
//    leader, plus its commit lag (SetCommitLag); reads on it see its prefix
//    until the client sends a sync (the follower then catches up to the
//    leader's last commit at the instant the sync reached the leader). A
//    write or sync is answered once the client's server applied it, so a
//    session reads its own writes. Watches are kept per session and fire when
//    the client's current server applies the change; a reconnect to another
//    server fires those whose node changed meanwhile (setWatches).
//  * Per-client connections: one server at a time, latency per direction
//    with seeded jitter, FIFO both ways (answers and watch events of one
//    session in order), reordering across clients and servers.
//  * Sessions: the negotiated timeout is the requested one clamped to
//    [2, 20] x tick; the leader checks expiry on tick boundaries, a session
//    expiring at the first boundary after its last touch + timeout
//    (ZooKeeper's ExpiryQueue); followers report touches to the leader once
//    per tick. Expiry deletes the session's ephemerals (watches fire) and
//    closes its connection; the client learns of it only when it reconnects
//    (kExpired). The client pings after timeout/3 without sending, and drops
//    a connection silent for 2/3 of the timeout (kConnecting; requests in
//    flight fail with kConnectionLoss), or at once on a reset; it then tries
//    the next live server every `reconnect_delay`.
//  * Faults: error answers by rule (FaultRule: kind of request, path prefix,
//    client, rate, count), a connection lost before or after the request was
//    applied, server kill and restart (a killed leader is replaced; every
//    connection of the ensemble is reset), partitions, paused processes
//    (nothing delivered, no pings, time passes), ACLs and third-party writes.
//  * Checks: a client sending more than max_requests_per_second within any
//    simulated second, or a Settle that does not quiesce, fails the run with
//    a trace of the last requests of every client (failure(), on_failure).
//
// Approximations: a request submitted while not connected is answered
// kConnectionLoss at once (the C client queues it until the reconnect); a
// killed leader is replaced at once by the lowest live server, which has
// every commit; session creation and close are not transactions.
//
// Deterministic: one seed, no threads, no clocks, no sleeps. Client events
// are delivered through the client's callback from inside Run/Settle (never
// from inside a call the client makes: Submit and Open never call back).
//
// Thread-safety: none; one thread. Errors: requests fail with ZkResult codes;
// misuse of the simulator (an unknown client index) is undefined.
#ifndef LATCHD_TESTS_SIM_SIM_ZK_H_
#define LATCHD_TESTS_SIM_SIM_ZK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "lib/util/clock.h"
#include "lib/zk/zk_client.h"
#include "tests/sim/sim_tree.h"

namespace latchd::sim {

using std::chrono::milliseconds;

struct LinkLatency {
  Duration send = milliseconds(1);     // client -> server
  Duration receive = milliseconds(1);  // server -> client
  Duration jitter = milliseconds(1);   // up to this much more, per message (seeded)
};

struct SimClientOptions {
  std::string name;                        // for traces
  Duration session_timeout = std::chrono::seconds(10);  // requested
  LinkLatency latency;
  int server = -1;                         // first server tried; -1: index % servers
  std::string identity;                    // "scheme:id" it authenticates as; "" none
  std::vector<ZkAclEntry> acl;             // ACL of the nodes it creates; empty: open
  int max_requests_per_second = 0;         // 0: SimZkOptions's
};

struct SimZkOptions {
  uint64_t seed = 1;
  int servers = 3;
  Duration tick = milliseconds(500);  // tickTime: timeouts clamp to [1 s, 10 s]
  Duration quorum_latency = milliseconds(1);
  Duration reconnect_delay = milliseconds(100);
  int max_requests_per_second = 200;  // per client, any simulated second
  Duration settle_limit = std::chrono::seconds(60);
  size_t trace_depth = 20;            // requests per client in a failure trace
  MonoTime start{std::chrono::seconds(1000)};
  // Called once, with the failure and its trace (e.g. ADD_FAILURE).
  std::function<void(const std::string&)> on_failure;
};

// What a client's callback receives.
struct SessionChange {
  ZkSessionEvent event = ZkSessionEvent::kConnected;
  ZkSessionInfo info;
};
using ClientEvent = std::variant<SessionChange, ZkResult, ZkWatchEvent>;

enum class FaultKind {
  kAnswer,           // answer `code` without applying the request
  kLossNotApplied,   // the server drops the connection before applying it
  kLossApplied,      // the server applies it, then drops the connection unanswered
};

struct FaultRule {
  FaultKind kind = FaultKind::kAnswer;
  ZkCode code = ZkCode::kNoAuth;  // kAnswer: NOAUTH, INVALIDACL, BADVERSION, SESSIONMOVED, ...
  std::optional<ZkRequestKind> request;  // nullopt: any kind
  std::string path_prefix;        // "" any path
  int client = -1;                // -1 any client
  double rate = 1.0;              // chance per matching request (seeded)
  int remaining = -1;             // -1 unlimited
};

class SimZk {
 public:
  using Deliver = std::function<void(const ClientEvent&)>;
  // The driver's own timers (a core's NextDeadline and what it does then).
  struct Host {
    std::function<std::optional<MonoTime>()> next_deadline;
    std::function<void(MonoTime)> fire;
  };

  explicit SimZk(SimZkOptions options = {});
  SimZk(const SimZk&) = delete;
  SimZk& operator=(const SimZk&) = delete;

  MonoTime now() const { return now_; }
  const SimZkOptions& options() const { return options_; }

  // ---- Clients (one handle at a time each, like ZkClient) ----------------
  int AddClient(SimClientOptions options, Deliver deliver);
  // A new handle: closes the previous one, connects, and delivers kConnected
  // (a new session, or `resume` if it is alive) or kExpired.
  void Open(int c, int64_t resume = 0);
  // One request; its answer is delivered exactly once unless the handle is
  // closed or abandoned first.
  void Submit(int c, const ZkRequest& request);
  // Closes the handle: the session ends (its ephemerals go) when the close
  // reaches a server; nothing more is delivered.
  void Close(int c);
  // The process died: nothing more is delivered, the session is left to expire.
  void Abandon(int c);
  void SetPartitioned(int c, bool on);
  void SetPaused(int c, bool on);  // paused: events wait, no pings, no timeouts
  void ResetConnection(int c);     // the connection breaks; the client notices at once

  int64_t session(int c) const { return clients_[c].session; }
  bool connected(int c) const { return clients_[c].state == State::kConnected; }
  int server_of(int c) const { return clients_[c].server; }
  bool paused(int c) const { return clients_[c].paused; }
  bool partitioned(int c) const { return clients_[c].partitioned; }
  Duration NegotiatedTimeout(Duration requested) const;

  // ---- The ensemble ---------------------------------------------------------
  void KillServer(int s);
  void RestartServer(int s);
  void SetCommitLag(int s, Duration lag);
  int leader() const { return leader_; }
  int AddFault(FaultRule rule);
  void ClearFaults() { faults_.clear(); }
  // A server's tree (what reads on it see).
  const SimTree& TreeOf(int s) const { return servers_[s].tree; }

  // ---- Time ---------------------------------------------------------------
  // Runs everything due up to `end` (SimZk's events and the host's timers, in
  // time order), then sets now() to `end`.
  void Run(MonoTime end, const Host& host = {});
  // Runs until Quiet(); fails the run (and returns false) if that takes more
  // than settle_limit of simulated time.
  bool Settle(const Host& host = {});
  // No request in flight and no event on its way to a client that can
  // receive it (partitioned and paused clients do not count).
  bool Quiet() const;

  // ---- The leader's tree, and an operator's writes (committed at once) ------
  bool Alive(int64_t session) const { return sessions_.count(session) > 0; }
  bool Exists(const std::string& path) const { return Leader().tree.Exists(path); }
  const SimNode* Get(const std::string& path) const { return Leader().tree.Get(path); }
  std::vector<std::string> Children(const std::string& path) const {
    return Leader().tree.Children(path);
  }
  ZkCode Create(const std::string& path, const std::string& data, int64_t owner = 0);
  ZkCode Delete(const std::string& path);  // with its subtree
  ZkCode SetData(const std::string& path, const std::string& data);
  ZkCode SetAcl(const std::string& path, std::vector<ZkAclEntry> acl);
  void Expire(int64_t session);  // as the leader's session tracker does

  // ---- Checks -----------------------------------------------------------------
  // Fails the run (once): failure() then holds `why` and the trace.
  void Fail(const std::string& why);
  const std::optional<std::string>& failure() const { return failure_; }
  // The last requests of every client: send time, id, kind, path, answer.
  std::string Trace() const;
  // Requests client `c` sent to paths starting with `prefix` in [from, to).
  int CountRequests(int c, const std::string& prefix, MonoTime from, MonoTime to) const;

 private:
  enum class State { kIdle, kConnecting, kConnected, kDead };
  struct Sent {
    MonoTime at;
    ZkRequest request;
    std::optional<ZkCode> code;
    MonoTime answered{};
  };
  struct Queued {  // a packet at the client's server, in arrival order
    enum Kind { kRequest, kPing } kind = kRequest;
    ZkRequest request;
  };
  struct Client {
    SimClientOptions options;
    Deliver deliver;
    State state = State::kIdle;
    uint64_t epoch = 0;        // bumps on every new connection or handle
    uint64_t handle = 0;       // bumps on every Open, Close, Abandon
    int64_t session = 0;
    Duration timeout{};        // negotiated (requested until connected)
    int server = 0;
    bool handshaking = false;
    bool rotate = false;       // the next attempt tries the next server
    bool server_closed = false;  // the server dropped this connection
    std::optional<MonoTime> attempt_at;
    MonoTime last_send{}, last_recv{};
    MonoTime out_free{}, in_free{};  // FIFO: no packet overtakes the previous one
    bool partitioned = false, paused = false;
    std::vector<std::function<void()>> held;  // packets that met the partition
    std::deque<std::function<void()>> inbox;   // arrived while paused
    std::map<uint64_t, ZkRequest> pending;     // sent, unanswered
    std::deque<Queued> at_server;              // arrived, not yet processed
    bool server_busy = false;                  // a write of it is at the leader
    int64_t seen_zxid = 0;
    int in_air = 0;                            // events on their way to it
    std::deque<Sent> log;                      // for traces
    std::deque<MonoTime> recent;               // send times in the last second
    bool rate_failed = false;
  };
  struct Watch {
    int64_t session;
    std::string path;
    bool child;
    int64_t zxid;  // what the client had seen when it set the watch
  };
  struct Parked {  // a write's answer waiting for the server to apply it
    int client;
    uint64_t epoch;
    ZkResult result;
    size_t need;   // log entries the server must have applied
    bool drop;     // kLossApplied: reset instead of answering
    bool sync;
  };
  struct Server {
    bool alive = true;
    SimTree tree;
    size_t applied = 0;
    Duration lag{};
    std::set<int64_t> touched;  // to report to the leader at the next tick
    std::vector<Parked> parked;
  };
  struct Session {
    Duration timeout;
    MonoTime expires;
  };

  const Server& Leader() const { return servers_[leader_ < 0 ? 0 : leader_]; }
  void Schedule(MonoTime at, std::function<void()> fn);
  Duration Latency(Duration base, Duration jitter);
  // One step: the earliest of SimZk's events and the host's timers, if not
  // after `limit`; false if there was none.
  bool Step(const Host& host, MonoTime limit);
  std::optional<MonoTime> ClientDue(int c) const;
  void OnTickBoundary();
  void ClientTimers(int c);
  std::string InFlightText() const;

  // Links.
  void ToServer(int c, std::function<void()> at_server);
  void ToClient(int c, ClientEvent event);
  void ToClientRaw(int c, std::function<void()> at_client);
  void Hand(int c, const ClientEvent& event);
  // An event of the client library itself (a loss, a refused request),
  // delivered at the current instant from the event loop.
  void Later(int c, ClientEvent event);

  // Client side.
  void Drop(int c);  // forgets the handle
  void Attempt(int c);
  void LoseConnection(int c);
  void NoteAnswer(int c, const ZkResult& r);
  void CheckRate(int c);

  // Server side.
  void Touch(int server, int64_t session);
  void OnConnect(int c, int s);
  void Process(int c);
  void OnLeaderWrite(int c, uint64_t epoch, int origin, const ZkRequest& req,
                     const SimCaller& caller, bool drop);
  void Answer(int c, uint64_t epoch, const ZkResult& r, bool drop);
  void ApplyTo(int s, size_t upto);
  void ServeParked(int s);
  void Commit(std::vector<SimChange> changes);
  std::optional<FaultRule> MatchFault(int c, const ZkRequest& req);
  ZkCode OperatorWrite(ZkRequest req, int64_t owner);
  void ServerDrops(int c);
  void FireSetWatches(int c, int s);
  SimCaller CallerOf(int c) const;
  void EndSession(int64_t session);

  SimZkOptions options_;
  MonoTime now_;
  std::mt19937_64 rng_;
  std::map<std::pair<MonoTime, uint64_t>, std::function<void()>> queue_;
  uint64_t seq_ = 0;
  int spins_ = 0;  // host timers fired at the same instant in a row
  MonoTime next_tick_;
  std::vector<Client> clients_;
  std::vector<Server> servers_;
  int leader_ = 0;
  std::vector<SimTxn> log_;
  int64_t zxid_ = 0x100000000;
  std::map<int64_t, Session> sessions_;
  int64_t next_session_ = 0x1000;
  std::vector<Watch> watches_;
  std::vector<FaultRule> faults_;
  std::optional<std::string> failure_;
};

}  // namespace latchd::sim

#endif  // LATCHD_TESTS_SIM_SIM_ZK_H_
