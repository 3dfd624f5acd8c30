// ServerHealth: whether the server this agent stands for is alive, judged
// from the connections it holds (`hold` on the socket) and from probes, with
// HAProxy's and keepalived's meanings (docs/design.md, "Server binding").
//
//   healthy = (no --server_hold, or at least one hold connection open)
//             and every configured probe is up
//
// A probe is up after `rise` successes in a row and down after `fall`
// failures in a row (a probe that takes longer than its timeout failed); it
// starts down, so an agent beside a server that is still starting does not
// stand. A hold connection that sends nothing for hold_timeout counts as
// closed (a hung server that still has its socket). The damping: the health
// changes at most once per fall (or rise) probes; with holds, once per close
// and reopen.
//
// Sans I/O: fed the time; says which probe to start and when to be called.
// Thread-safety: none (owned by AgentCore).
#ifndef LATCHD_LIB_AGENT_SERVER_HEALTH_H_
#define LATCHD_LIB_AGENT_SERVER_HEALTH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/api/server_binding.h"
#include "lib/util/clock.h"

namespace latchd {

// A probe to run now, finished within `timeout` (the runner kills it then and
// reports a failure).
struct ProbeStart {
  uint64_t id = 0;
  ProbeKind kind = ProbeKind::kHttp;
  std::string target;  // the URL or the program
  Duration timeout{};
};

class ServerHealth {
 public:
  ServerHealth(ServerHealthConfig config, MonoTime now);

  const ServerHealthConfig& config() const { return config_; }
  bool healthy() const { return healthy_; }
  // Why, one line.
  const std::string& reason() const { return reason_; }
  MonoTime since() const { return since_; }
  size_t holds() const { return holds_.size(); }

  // `hold` on `conn`; false if it already held.
  bool Hold(uint64_t conn, MonoTime now);
  // Anything received on `conn` (it keeps a hold alive).
  void Heard(uint64_t conn, MonoTime now);
  // The connection closed (a process death closes it at once).
  void Closed(uint64_t conn, MonoTime now);
  // Hold connections silent for hold_timeout at `now`: released; the caller closes them.
  std::vector<uint64_t> TakeSilentHolds(MonoTime now);

  // Probes due at `now` (at most one running per kind). A probe whose result
  // has not come within its timeout + 1 s (the runner lost it) counts as failed.
  std::vector<ProbeStart> TakeDueProbes(MonoTime now);
  // A probe's result; a late or unknown one is ignored.
  void ProbeDone(uint64_t id, bool ok, const std::string& detail, MonoTime now);

  // True once after healthy() changed.
  bool TakeChange();
  std::optional<MonoTime> NextDeadline() const;

 private:
  struct Probe {
    ProbeKind kind;
    std::string target;
    bool up = false;
    int successes = 0;  // in a row
    int failures = 0;   // in a row
    std::string last;   // the last result, for the reason
    uint64_t running = 0;
    MonoTime started{};
    MonoTime next{};
  };
  void Evaluate(MonoTime now);

  const ServerHealthConfig config_;
  std::vector<Probe> probes_;
  std::map<uint64_t, MonoTime> holds_;  // conn -> last heard
  uint64_t next_probe_id_ = 1;
  bool healthy_;
  bool changed_ = false;
  std::string reason_;
  MonoTime since_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_AGENT_SERVER_HEALTH_H_
