#include "lib/io/write_buffer.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

namespace latchd {
namespace {

// A connected pair of Unix stream sockets; the writer end non-blocking.
class SocketPair {
 public:
  explicit SocketPair(int sndbuf = 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_) != 0) {
      ADD_FAILURE() << "socketpair: " << strerror(errno);
      return;
    }
    fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    fcntl(fds_[1], F_SETFL, O_NONBLOCK);
    if (sndbuf > 0) setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  ~SocketPair() {
    if (fds_[0] >= 0) close(fds_[0]);
    if (fds_[1] >= 0) close(fds_[1]);
  }
  int writer() const { return fds_[0]; }
  void CloseReader() {
    close(fds_[1]);
    fds_[1] = -1;
  }
  // Everything readable now.
  std::string ReadAll() {
    std::string got;
    char chunk[64 * 1024];
    ssize_t n;
    while ((n = recv(fds_[1], chunk, sizeof(chunk), 0)) > 0) got.append(chunk, n);
    return got;
  }

 private:
  int fds_[2] = {-1, -1};
};

std::string Pattern(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (seed + i) % 26);
  return s;
}

TEST(WriteBufferTest, SendsEverythingInOrderAcrossPartialWrites) {
  SocketPair pair(/*sndbuf=*/4096);
  WriteBuffer out(/*limit=*/1 << 20);
  std::string want;
  for (size_t i = 0; i < 64; ++i) {
    std::string piece = Pattern(1000 + i, i);
    out.Append(piece);
    out.Append('\n');
    want += piece + "\n";
  }
  ASSERT_EQ(out.pending(), want.size());
  std::string got;
  bool blocked_once = false;
  for (int round = 0; round < 10000 && !out.empty(); ++round) {
    size_t sent = 0;
    WriteBuffer::SendResult r = out.SendTo(pair.writer(), &sent);
    ASSERT_NE(r, WriteBuffer::SendResult::kFailed) << strerror(errno);
    if (r == WriteBuffer::SendResult::kBlocked) {
      blocked_once = true;
      EXPECT_GT(out.pending(), 0u);
    }
    size_t before = got.size();
    got += pair.ReadAll();
    EXPECT_EQ(got.size() - before, sent);
  }
  EXPECT_TRUE(blocked_once) << "the socket took everything at once; the test proves nothing";
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(got, want);
}

TEST(WriteBufferTest, KeepsSmallBuffersAndReleasesBigOnesWhenDrained) {
  SocketPair pair;
  WriteBuffer out(/*limit=*/1 << 20, /*keep_capacity=*/16 * 1024);
  out.Append(std::string(300, 's'));
  ASSERT_EQ(out.SendTo(pair.writer()), WriteBuffer::SendResult::kDrained);
  size_t kept = out.capacity();
  EXPECT_GE(kept, 300u) << "a small answer's memory is kept for the next one";
  for (int i = 0; i < 100; ++i) {  // steady state: the same memory, no reallocation
    out.Append(std::string(300, 's'));
    ASSERT_EQ(out.SendTo(pair.writer()), WriteBuffer::SendResult::kDrained);
    pair.ReadAll();
    ASSERT_EQ(out.capacity(), kept) << "round " << i;
  }
  out.Append(std::string(64 * 1024, 'b'));
  ASSERT_EQ(out.SendTo(pair.writer()), WriteBuffer::SendResult::kDrained);
  EXPECT_LE(out.capacity(), 16u) << "a big buffer is released once sent";
}

TEST(WriteBufferTest, CompactsSoMemoryFollowsWhatIsPending) {
  SocketPair pair(/*sndbuf=*/4096);
  WriteBuffer out(/*limit=*/1 << 20);
  // Always a few chunks behind: without compaction the buffer would grow by
  // every chunk ever appended (800 KiB here).
  for (int i = 0; i < 100; ++i) {
    out.Append(std::string(8 * 1024, 'c'));
    ASSERT_NE(out.SendTo(pair.writer()), WriteBuffer::SendResult::kFailed);
    pair.ReadAll();
  }
  EXPECT_LT(out.capacity(), 4 * (out.pending() + 8 * 1024) + 64 * 1024)
      << "pending " << out.pending();
}

TEST(WriteBufferTest, LimitIsTheCallersCapOnUnsentBytes) {
  WriteBuffer out(/*limit=*/10);
  EXPECT_TRUE(out.Fits(10));
  EXPECT_FALSE(out.Fits(11));
  out.Append("123456789");
  EXPECT_TRUE(out.Fits(1));
  EXPECT_FALSE(out.Fits(2));
  EXPECT_FALSE(out.over_limit());
  out.Append("ab");
  EXPECT_TRUE(out.over_limit());
  out.Reset();
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.capacity(), std::string().capacity());
}

TEST(WriteBufferTest, AGonePeerIsAnErrorValueNotASignal) {
  SocketPair pair;
  pair.CloseReader();
  WriteBuffer out(/*limit=*/1024);
  out.Append("hello\n");
  // Without MSG_NOSIGNAL this would kill the test process with SIGPIPE.
  EXPECT_EQ(out.SendTo(pair.writer()), WriteBuffer::SendResult::kFailed);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(out.pending(), 6u);
}

}  // namespace
}  // namespace latchd
