// RoleClient: how a C++ server asks the co-located latchd agent, over its Unix
// socket, whether this host is ACTIVE, and follows role changes.
//
// Installed with the `latchd::client` CMake package; this header includes only
// lib/client/client_status.h, lib/core/role.h, lib/util/status.h and the
// standard library.
//
//   latchd::RoleClient latch("/run/latchd/latchd.sock");
//   if (latch.IsActive()) { /* accept the write */ }
//   latch.Watch([&](const latchd::ClientStatus& s) { /* role changed */ });
//
// WHAT "NEVER STALE" MEANS FOR IsActive()
//   IsActive() returns true at local monotonic time t only if all of these
//   hold (else false):
//   1. the background watch connection to the agent is open, and everything
//      the agent has pushed on it was read *by this call* (IsActive drains the
//      socket before answering), so a role change the agent wrote to the
//      socket before t is never missed;
//   2. the newest status line read (watch push or status answer) says ACTIVE;
//   3. a `status` request sent at time s was answered ACTIVE with lease_ms L,
//      no role change was pushed between s and the answer's arrival, and
//      t < s + L. The agent computed that answer after s, and it never claims
//      beyond its own lease, so this bounds the claim by the agent's lease
//      however late the answer was read (even if this process was paused);
//   4. no status request has been waiting for its answer longer than the
//      deadline (RoleClientOptions::deadline, 2 s by default).
//   Consequences: an agent that exits or crashes makes the very next call
//   false (it reads EOF); a stopped (SIGSTOP) or hung agent, within the poll
//   interval + the deadline, and by the end of the lease it last reported at
//   the latest (the lease keeps counting on CLOCK_MONOTONIC); a lapsed lease,
//   at its end even if the agent has not said so. What it cannot promise: an
//   answer describes the instant it is computed, and a change the agent has
//   decided but not yet written to the socket (microseconds) is not seen.
//   The background thread sends `status` every lease_ms/3 while the role is a
//   claim (clamped to [100 ms, 1 s]) and every 1 s otherwise.
//
// Thread-safety: every member function may be called from any thread at the
// same time as any other, except the destructor. Watch callbacks run on that
// watch's own thread, one at a time and in order; they may call any member
// function except the destructor, and must not throw.
// Errors: values (latchd::Status / latchd::Result); every message is one line
// naming the socket path and what failed. Nothing throws.
#ifndef LATCHD_LIB_CLIENT_ROLE_CLIENT_H_
#define LATCHD_LIB_CLIENT_ROLE_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lib/client/client_status.h"
#include "lib/core/role.h"
#include "lib/util/status.h"

namespace latchd {

// The agent's default socket.
inline constexpr char kDefaultAgentSocket[] = "/run/latchd/latchd.sock";

struct RoleClientOptions {
  // Bound on every request: connect + send + answer. Also how long a
  // background `status` may stay unanswered before IsActive() turns false.
  std::chrono::milliseconds deadline{2000};
};

class RoleClient {
 public:
  explicit RoleClient(std::string socket_path);
  RoleClient(std::string socket_path, RoleClientOptions options);
  // Stops the background threads promptly (they wait on an eventfd, never in
  // an uninterruptible sleep); waits for a Watch callback that is running to
  // return. Must not be called from a Watch callback.
  ~RoleClient();
  RoleClient(const RoleClient&) = delete;
  RoleClient& operator=(const RoleClient&) = delete;

  const std::string& socket_path() const;

  // The agent's `status`, on a connection of its own, within the deadline.
  // Errors: agent unreachable, no answer in time, an unparsable answer.
  Result<ClientStatus> Status();

  // See "never stale" above. The first call starts the background thread and
  // waits (at most the deadline) for its first answer; later calls take a
  // mutex and make one non-blocking recv(): microseconds, no round trip.
  bool IsActive();
  // Same rule as IsActive(); when ACTIVE, the epoch of the status answer that
  // makes it so (use it as the fencing token of writes done now), else nullopt.
  // IsActive() == ActiveEpoch().has_value().
  std::optional<int64_t> ActiveEpoch();

  // Starts a background thread that connects, sends `watch` and calls
  // `callback` for every status line, in order: the current status at once,
  // then one per role change. When the connection is lost (or cannot be made)
  // it delivers one synthetic status (agent_reachable false, PASSIVE,
  // zk_connected false) and reconnects with backoff 100 ms doubling to 2 s; a
  // new connection starts again with the current status. The synthetic status
  // is delivered once per outage, not once per failed attempt. Every call
  // starts an independent watch; all stop with the client.
  // Watch reports what the agent says: a stopped (SIGSTOP) agent looks like a
  // quiet one. Gate work on IsActive(), not on the last callback.
  void Watch(std::function<void(const ClientStatus&)> callback);

  // Binds the agent to this process (socket command `hold`; the agent runs
  // with --server_hold): starts a background thread that keeps one hold
  // connection open for the life of the client and sends `ping` on it every
  // `ping_interval`, or every third of the agent's --hold_timeout_ms when that
  // is shorter, so that only a hung or dead process lets the hold lapse. When
  // the connection is lost or refused it reconnects with backoff 100 ms
  // doubling to 2 s. The hold ends when the process dies (the kernel closes
  // the socket) or the client is destroyed. A hung process stops pinging (the
  // thread shares its fate only when the whole process is stopped or starved;
  // a server whose request threads deadlock while this one runs should also
  // be probed: --health_url). Calling it again starts a second hold.
  void Hold(std::chrono::milliseconds ping_interval = std::chrono::milliseconds(1000));
  // True while a hold started by Hold() is established (its `hold` was
  // answered and no ping has failed since).
  bool Holding() const;

  // `ack <epoch>`: the server finished activating for `epoch`. Errors carry
  // the agent's refusal ("latchd refused ack 42: ...") or the transport error.
  latchd::Status Ack(int64_t epoch);
  // `yield`: the agent steps down and rejoins at the back of the latch.
  latchd::Status Yield();

  // One raw request line (no newline) and the raw answer line, within the
  // deadline; for requests without a typed method (`leader`, `participants`,
  // `help`). An {"error":...} answer is returned as a line, not an error.
  Result<std::string> Request(std::string_view request_line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_CLIENT_ROLE_CLIENT_H_
