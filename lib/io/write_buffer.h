// The output queue of one non-blocking stream socket, shared by LineServer
// and HttpServer: bytes are appended at the back and sent from the front
// with send(MSG_NOSIGNAL), as much as the socket takes; what it does not take
// waits for the next SendTo.
//
// Promises: bytes go out in the order appended, each exactly once. SendTo
// never blocks and never raises SIGPIPE. Sent bytes are compacted away once
// they are more than half of the buffer, so memory stays within about twice
// pending(). When everything is sent the buffer keeps its memory for the next
// answer (no allocation in steady state) unless it grew over `keep_capacity`,
// in which case the memory is released (an idle connection holds no big
// buffer). `limit` is the caller's cap on unsent bytes: Fits/over_limit tell
// whether it is kept; what to do about a reader that falls behind (drop it)
// is the caller's decision.
// Thread-safety: none; one owner.
// Errors: SendTo returns kFailed and leaves errno as send() set it.
#ifndef LATCHD_LIB_IO_WRITE_BUFFER_H_
#define LATCHD_LIB_IO_WRITE_BUFFER_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace latchd {

class WriteBuffer {
 public:
  static constexpr size_t kDefaultKeepCapacity = 16 * 1024;

  enum class SendResult {
    kDrained,  // nothing left to send
    kBlocked,  // the socket took what it could (EAGAIN); bytes remain
    kFailed,   // send() failed (peer gone...); errno says why
  };

  explicit WriteBuffer(size_t limit, size_t keep_capacity = kDefaultKeepCapacity)
      : limit_(limit), keep_capacity_(keep_capacity) {}

  void Append(std::string_view bytes) { buf_.append(bytes); }
  void Append(char c) { buf_.push_back(c); }

  size_t pending() const { return buf_.size() - sent_; }  // unsent bytes
  bool empty() const { return pending() == 0; }
  size_t limit() const { return limit_; }
  // Whether `more` bytes can be appended without pending() exceeding limit().
  bool Fits(size_t more) const { return pending() + more <= limit_; }
  bool over_limit() const { return pending() > limit_; }
  size_t capacity() const { return buf_.capacity(); }  // memory held

  // Sends what the socket takes now. *sent (if given) receives the number of
  // bytes sent by this call, also on kFailed.
  SendResult SendTo(int fd, size_t* sent = nullptr);

  // Drops everything, sent or not, and releases the memory.
  void Reset();

 private:
  std::string buf_;
  size_t sent_ = 0;  // bytes at the front of buf_ already sent
  const size_t limit_;
  const size_t keep_capacity_;
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_WRITE_BUFFER_H_
