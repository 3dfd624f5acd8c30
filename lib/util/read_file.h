// Reads a small configuration file (a credentials file, a .properties file)
// whole into memory, refusing anything that is not a regular file or is larger
// than the caller's limit.
//
// Promise: on success the result is the file's complete content (possibly
// empty, any bytes, no decoding), at most `max_bytes` long. The file is opened
// O_RDONLY | O_CLOEXEC | O_NONBLOCK, so a FIFO or device never blocks the
// caller: it is refused as "not a regular file". No more than max_bytes + 1
// bytes are ever held. The descriptor is always closed before returning.
//
// Thread-safety: safe from any thread; touches only the file system and its
// own locals. A file that changes while it is read gives whatever read(2)
// returned (no snapshot is promised).
// Errors: returned as values, one line each, naming the path:
//   "<path>: cannot open: <strerror>"      (missing, permission denied, ...)
//   "<path>: cannot stat: <strerror>"
//   "<path>: not a regular file"           (directory, FIFO, device, socket)
//   "<path>: cannot read: <strerror>"
//   "<path>: larger than <max_bytes> bytes"
// Callers that word their own messages pass a ReadFileDetails, which says
// which step failed and the errno. Content is never part of a message, so
// reading a secret cannot leak it into an error.
#ifndef LATCHD_LIB_UTIL_READ_FILE_H_
#define LATCHD_LIB_UTIL_READ_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "lib/util/status.h"

namespace latchd {

// How far ReadSmallFile got: for callers that word their own error messages
// or look at the file's mode.
struct ReadFileDetails {
  enum class Failure {
    kNone,        // success
    kOpen,        // open(2) failed (ENOENT: the file does not exist)
    kStat,        // fstat(2) failed on the opened file
    kNotRegular,  // not a regular file
    kRead,        // read(2) failed (EINTR is retried, never reported)
    kTooLarge,    // more than max_bytes
  };
  Failure failure = Failure::kNone;
  // errno of the failed call for kOpen, kStat and kRead; 0 otherwise.
  int error_number = 0;
  // st_mode (file type and permission bits) of the opened file once fstat(2)
  // succeeded, i.e. on success, kNotRegular, kRead and kTooLarge; 0 otherwise.
  mode_t mode = 0;
};

// Reads all of `path` if it is a regular file of at most `max_bytes` bytes
// (exactly max_bytes is fine; 0 allows only an empty file). See the top of
// this file for the messages. `details` may be null; when given it is always
// overwritten, on success too.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes,
                                  ReadFileDetails* details = nullptr);

}  // namespace latchd

#endif  // LATCHD_LIB_UTIL_READ_FILE_H_
