// What the agent's shell feeds the agent core (lib/agent/agent_core.h) and
// what it must do in return: the agent's whole contact with the world as
// values. The shell (agent/latchd/agent.cc) only moves bytes and file
// descriptors: it turns socket lines, ZooKeeper callbacks, timer expiries,
// hook results and signals into AgentEvents, and carries out AgentActions in
// the order given.
// Thread-safety: plain values.
#ifndef LATCHD_LIB_AGENT_AGENT_IO_H_
#define LATCHD_LIB_AGENT_AGENT_IO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "lib/agent/server_health.h"
#include "lib/api/session_file.h"
#include "lib/core/core_types.h"
#include "lib/io/hook_runner.h"
#include "lib/util/clock.h"
#include "lib/zk/zk_client.h"

namespace latchd {

// The instant an event was observed, on both clocks: monotonic for every
// decision, wall-clock (Unix ms) only for what is shown to people.
struct Instant {
  MonoTime mono{};
  int64_t wall_ms = 0;
};

// The peer of a Unix-socket connection (SO_PEERCRED at accept).
struct Peer {
  int pid = -1;
  int uid = -1;
  int gid = -1;
};

namespace agent {

// ---- Events ----------------------------------------------------------------
struct Started {};                                       // sockets bound: begin
struct ConnOpened { uint64_t conn = 0; Peer peer; };     // a socket client connected
struct LineReceived { uint64_t conn = 0; std::string_view line; };  // without '\n'
struct LineTooLong { uint64_t conn = 0; };               // a line over the limit (discarded)
struct ConnClosed { uint64_t conn = 0; };
struct ZkSession { ZkSessionEvent event = ZkSessionEvent::kConnected; ZkSessionInfo info; };
struct ZkAnswer { ZkResult result; };
struct ZkWatch { ZkWatchEvent watch; };
struct ZkOpenFailed { std::string message; };            // ZkClient::Open refused
struct TimerFired {};                                    // NextDeadline() reached
struct HookFinished { HookJob job; bool ok = true; std::string detail; };
struct SignalReceived { int signo = 0; int pid = 0; };   // SIGTERM, SIGINT, SIGHUP
struct SessionRecordFailed { std::string message; };     // a SessionRecordWrite failed
struct ProbeFinished { uint64_t id = 0; bool ok = false; std::string detail; };  // of a ProbeRun
using Event = std::variant<Started, ConnOpened, LineReceived, LineTooLong, ConnClosed, ZkSession,
                           ZkAnswer, ZkWatch, ZkOpenFailed, TimerFired, HookFinished,
                           SignalReceived, SessionRecordFailed, ProbeFinished>;

// ---- Actions ---------------------------------------------------------------
// Bytes for a socket connection (whole lines, '\n'-terminated). `bytes` is
// valid until the next call into the core.
struct SendBytes { uint64_t conn = 0; std::string_view bytes; };
struct CloseConn { uint64_t conn = 0; };
struct ZkSubmit { ZkRequest request; };
struct ZkOpen {};    // (re)open a session: the first one resumes the recorded session, if any
struct ZkClose {};
struct JournalAppend { std::string line; };              // one JSON line with its '\n'
struct SessionRecordWrite { SessionRecord record; };
struct SessionRecordRemove {};
struct HookRun { HookJob job; };
struct Notify {
  enum Kind { kReady, kStatus, kStopping, kWatchdog } kind = kStatus;
  std::string text;  // kStatus only
};
struct Log { LogAction::Level level = LogAction::kInfo; std::string message; };
struct Exit { int code = 0; };
// Run a health probe; report it with ProbeFinished (a failure once it takes
// longer than its timeout: the runner stops it then).
struct ProbeRun { ProbeStart probe; };
using Action = std::variant<SendBytes, CloseConn, ZkSubmit, ZkOpen, ZkClose, JournalAppend,
                            SessionRecordWrite, SessionRecordRemove, HookRun, Notify, Log, Exit,
                            ProbeRun>;

}  // namespace agent
}  // namespace latchd

#endif  // LATCHD_LIB_AGENT_AGENT_IO_H_
