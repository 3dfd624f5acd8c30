// Prober: runs the server's health probes on the event loop, without
// blocking it and without threads — an HTTP GET (2xx = healthy) or a program
// (exit 0 = healthy) — each finished, or stopped, within its timeout.
//
// Promises: `done` is called exactly once per Run, on the loop thread, never
// inside Run; a probe past its timeout is stopped (connection closed, program
// and its process group killed and reaped) and reported as failed. The HTTP
// probe connects to an IP literal or localhost (no name resolution), sends
// one "GET <path> HTTP/1.0" and reads only the status line.
//
// Thread-safety: loop thread only. Destroying the Prober stops every probe
// (kills programs) without calling `done`.
// Errors: reported through `done` with a one-line detail.
#ifndef LATCHD_LIB_IO_PROBER_H_
#define LATCHD_LIB_IO_PROBER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "lib/io/event_loop.h"
#include "lib/util/clock.h"

namespace latchd {

class Prober {
 public:
  using Done = std::function<void(uint64_t id, bool ok, const std::string& detail)>;
  Prober(EventLoop& loop, Done done) : loop_(loop), done_(std::move(done)) {}
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // GET `url` (http://HOST[:PORT][/PATH], validated by ParseHttpProbeUrl).
  void RunHttp(uint64_t id, const std::string& url, Duration timeout);
  // Runs `program` (no arguments) in a process group of its own.
  void RunExec(uint64_t id, const std::string& program, Duration timeout);

 private:
  struct Probe {
    int fd = -1;     // the HTTP connection or the pidfd
    int pid = -1;    // exec probes
    bool sent = false;
    std::string request;
    std::string response;
    EventLoop::TimerId timer = 0;
  };
  void Finish(uint64_t id, bool ok, const std::string& detail);
  void OnHttpEvent(uint64_t id, uint32_t events);
  void OnExit(uint64_t id);

  EventLoop& loop_;
  Done done_;
  std::map<uint64_t, std::unique_ptr<Probe>> probes_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_PROBER_H_
