#include "lib/util/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace latchd {
namespace {

using Failure = ReadFileDetails::Failure;

// Closes a descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes,
                                  ReadFileDetails* details) {
  ReadFileDetails ignored;
  ReadFileDetails& out = details != nullptr ? *details : ignored;
  out = ReadFileDetails();
  auto fail = [&out, &path](Failure failure, int error_number, const std::string& what) {
    out.failure = failure;
    out.error_number = error_number;
    return Status::Error(path + ": " + what);
  };

  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    return fail(Failure::kOpen, err, std::string("cannot open: ") + std::strerror(err));
  }
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    return fail(Failure::kStat, err, std::string("cannot stat: ") + std::strerror(err));
  }
  out.mode = st.st_mode;
  if (!S_ISREG(st.st_mode)) return fail(Failure::kNotRegular, 0, "not a regular file");

  std::string content;
  char buf[16384];
  while (true) {
    // Ask for at most one byte more than the limit allows, so a file that is
    // too large is noticed without holding more of it.
    size_t room = max_bytes - content.size();
    size_t want = room >= sizeof(buf) ? sizeof(buf) : room + 1;
    ssize_t n = read(fd, buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return fail(Failure::kRead, err, std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      return fail(Failure::kTooLarge, 0, "larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return content;
}

}  // namespace latchd
