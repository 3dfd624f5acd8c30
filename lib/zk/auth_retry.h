// What the adapter needs to survive failed SASL authentications without a session storm:
//
//  * AuthRetryDelay: how long a new session waits after N authentication failures in a row
//    (each failed attempt is a session the server creates and closes again);
//  * PollUntil: calls a predicate on its own thread every interval until it holds, then a
//    function once; the 3.8 C client marks a handle ZOO_AUTH_FAILED_STATE after a failed
//    SASL authentication without telling any watcher, so the adapter polls zoo_state();
//  * DelayedCall: runs a function once after a delay, on its own thread, unless cancelled
//    (a PollUntil whose predicate always holds).
//
// Thread-safety: AuthRetryDelay is pure. A PollUntil is owned by one thread; its functions
// run on the object's own thread. Destroying the object (or Cancel) stops it and waits until
// no function of it is running; none runs afterwards.
// Errors: none (a thread that cannot be started throws std::system_error, as std::jthread).
#ifndef LATCHD_LIB_ZK_AUTH_RETRY_H_
#define LATCHD_LIB_ZK_AUTH_RETRY_H_

#include <chrono>
#include <functional>
#include <thread>

namespace latchd {

// 0 for 0 failures, then 1 s, 2 s, 4 s, ... doubling up to 30 s.
std::chrono::milliseconds AuthRetryDelay(int consecutive_failures);

class PollUntil {
 public:
  PollUntil() = default;
  PollUntil(std::chrono::milliseconds interval, std::function<bool()> predicate,
            std::function<void()> then);
  PollUntil(PollUntil&&) = default;
  PollUntil& operator=(PollUntil&&) = default;
  ~PollUntil() { Cancel(); }
  void Cancel();

 private:
  std::jthread thread_;
};

// Runs `fn` once after `delay` unless the returned object is cancelled or destroyed first.
PollUntil DelayedCall(std::chrono::milliseconds delay, std::function<void()> fn);

}  // namespace latchd

#endif  // LATCHD_LIB_ZK_AUTH_RETRY_H_
