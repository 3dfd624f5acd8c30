// A single-threaded epoll event loop: file-descriptor readiness callbacks,
// one-shot timers on the monotonic clock, and Post() for handing work in from
// other threads (the ZooKeeper client's completion thread, signal handling).
//
// Thread-safety: Post() and Stop() are safe from any thread. Everything else
// must be called on the loop thread (the thread running Run()).
// Errors: Create() fails with a Status if epoll/eventfd cannot be made;
// Watch() fails if epoll_ctl refuses the descriptor.
#ifndef LATCHD_LIB_IO_EVENT_LOOP_H_
#define LATCHD_LIB_IO_EVENT_LOOP_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "lib/util/clock.h"
#include "lib/util/status.h"

namespace latchd {

class EventLoop {
 public:
  using FdCallback = std::function<void(uint32_t epoll_events)>;
  using TimerId = uint64_t;

  static Result<std::unique_ptr<EventLoop>> Create();
  virtual ~EventLoop() = default;

  // Runs until Stop(). Each iteration: wait for readiness or the nearest timer,
  // then the before-dispatch hook (see SetBeforeDispatch), due timers, ready
  // fds, and posted functions.
  virtual void Run() = 0;
  virtual void Stop() = 0;
  virtual void Post(std::function<void()> fn) = 0;

  // Level-triggered interest in `events` (EPOLLIN/EPOLLOUT...). Replaces an
  // earlier registration of the same fd. The loop never closes fds.
  virtual Status Watch(int fd, uint32_t events, FdCallback cb) = 0;
  virtual void Modify(int fd, uint32_t events) = 0;
  virtual void Unwatch(int fd) = 0;

  // One-shot timer at `when` (monotonic). Cancel is a no-op for fired ids.
  virtual TimerId AddTimer(MonoTime when, std::function<void()> fn) = 0;
  virtual void CancelTimer(TimerId id) = 0;

  // Called once at the start of every iteration, before any timer, fd or
  // posted callback runs (used to re-check the lease after a pause).
  virtual void SetBeforeDispatch(std::function<void()> fn) = 0;
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_EVENT_LOOP_H_
