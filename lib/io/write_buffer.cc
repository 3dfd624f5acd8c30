#include "lib/io/write_buffer.h"

#include <sys/socket.h>

#include <cerrno>

namespace latchd {

WriteBuffer::SendResult WriteBuffer::SendTo(int fd, size_t* sent) {
  size_t total = 0;
  SendResult result = SendResult::kDrained;
  while (pending() > 0) {
    ssize_t n = send(fd, buf_.data() + sent_, pending(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      result = (errno == EAGAIN || errno == EWOULDBLOCK) ? SendResult::kBlocked
                                                         : SendResult::kFailed;
      break;
    }
    sent_ += static_cast<size_t>(n);
    total += static_cast<size_t>(n);
  }
  if (sent != nullptr) *sent = total;
  if (pending() > 0) {
    if (sent_ > buf_.size() / 2) {  // compact: the sent part is the larger one
      int saved = errno;            // keep send()'s errno for kFailed
      buf_.erase(0, sent_);
      sent_ = 0;
      errno = saved;
    }
    return result;
  }
  sent_ = 0;
  if (buf_.capacity() > keep_capacity_) {
    std::string().swap(buf_);
  } else {
    buf_.clear();
  }
  return SendResult::kDrained;
}

void WriteBuffer::Reset() {
  std::string().swap(buf_);
  sent_ = 0;
}

}  // namespace latchd
