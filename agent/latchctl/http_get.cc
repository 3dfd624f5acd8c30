#include "agent/latchctl/http_get.h"
#include "lib/util/strings.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace latchd {
namespace latchctl {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxResponse = 1 << 20;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

// Closes the fd on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Connects to one address before the deadline; the fd is non-blocking.
Result<int> ConnectOne(const addrinfo* ai, Clock::time_point deadline) {
  Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
  if (fd.get() < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd.release();
  if (errno != EINPROGRESS) return Status::Error(std::strerror(errno));
  while (true) {
    int left = MsLeft(deadline);
    if (left == 0) return Status::Error("connect timed out");
    pollfd p{fd.get(), POLLOUT, 0};
    int rc = poll(&p, 1, left);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Status::Error(std::string("poll: ") + std::strerror(errno));
    if (rc == 0) continue;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Status::Error(std::strerror(err));
    return fd.release();
  }
}

Result<std::string> DecodeChunked(std::string_view body) {
  std::string out;
  while (true) {
    size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) return Status::Error("truncated chunked body");
    std::string_view size_text = Trim(body.substr(0, body.find_first_of(";\r")), " \t\r");
    size_t size = 0;
    auto [ptr, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || ptr != size_text.data() + size_text.size()) {
      return Status::Error("bad chunk size");
    }
    body.remove_prefix(eol + 2);
    if (size == 0) return out;  // trailers ignored
    if (body.size() < size + 2) return Status::Error("truncated chunked body");
    out.append(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

// True when `raw` holds a complete response (headers plus the whole body).
bool Complete(std::string_view raw) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  auto parsed = ParseHttpResponse(raw);
  if (!parsed.ok()) return false;
  const auto& h = parsed->headers;
  if (auto it = h.find("content-length"); it != h.end()) {
    size_t n = 0;
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    return raw.size() - head_end - 4 >= n;
  }
  if (auto it = h.find("transfer-encoding"); it != h.end()) {
    return Lower(it->second).find("chunked") != std::string::npos;  // parsed fully above
  }
  return false;  // body until EOF
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  std::string shown(url.substr(0, 200));
  std::string lower = Lower(url);
  if (lower.rfind("https://", 0) == 0) {
    return Status::Error("https is not supported: " + shown + " (use an http:// URL)");
  }
  if (lower.rfind("http://", 0) != 0) {
    return Status::Error("not an http:// URL: \"" + shown + "\"");
  }
  std::string_view rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return Status::Error("a server URL takes no query or fragment: " + shown);
  }
  if (authority.find('@') != std::string_view::npos) {
    return Status::Error("a server URL takes no user info: " + shown);
  }
  HttpUrl out;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::Error("bad IPv6 address in " + shown);
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::Error("bad host in " + shown);
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Status::Error("no host in " + shown);
  if (out.host.find(':') != std::string::npos && authority.front() != '[') {
    return Status::Error("bad host in " + shown + " (write IPv6 addresses as [addr])");
  }
  if (port.empty()) {
    out.port = "80";
  } else {
    int n = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || ptr != port.data() + port.size() || n < 1 || n > 65535) {
      return Status::Error("bad port in " + shown);
    }
    out.port = std::to_string(n);
  }
  std::string host_for_header =
      out.host.find(':') != std::string::npos ? "[" + out.host + "]" : out.host;
  out.host_header = port.empty() ? host_for_header : host_for_header + ":" + out.port;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base_path = std::string(path);
  return out;
}

Result<HttpResponse> ParseHttpResponse(std::string_view raw) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return Status::Error("incomplete HTTP response");
  std::string_view head = raw.substr(0, head_end);
  std::string_view body = raw.substr(head_end + 4);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  HttpResponse r;
  // "HTTP/1.1 200 OK"
  if (status_line.rfind("HTTP/", 0) != 0 || status_line.size() < 12 || status_line[8] != ' ') {
    return Status::Error("not an HTTP response: \"" + std::string(status_line.substr(0, 60)) +
                         "\"");
  }
  auto [ptr, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, r.status);
  if (ec != std::errc() || ptr != status_line.data() + 12) {
    return Status::Error("bad HTTP status line");
  }
  std::string_view fields = eol == std::string_view::npos ? "" : head.substr(eol + 2);
  while (!fields.empty()) {
    size_t e = fields.find("\r\n");
    std::string_view line = fields.substr(0, e);
    fields = e == std::string_view::npos ? "" : fields.substr(e + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    r.headers[Lower(Trim(line.substr(0, colon), " \t\r"))] =
        std::string(Trim(line.substr(colon + 1), " \t\r"));
  }
  if (auto it = r.headers.find("transfer-encoding");
      it != r.headers.end() && Lower(it->second).find("chunked") != std::string::npos) {
    auto decoded = DecodeChunked(body);
    if (!decoded.ok()) return decoded.status();
    r.body = std::move(decoded).value();
  } else if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    size_t n = 0;
    auto [p, e] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (e != std::errc()) return Status::Error("bad Content-Length");
    if (body.size() < n) return Status::Error("truncated HTTP body");
    r.body = std::string(body.substr(0, n));
  } else {
    r.body = std::string(body);
  }
  return r;
}

Result<HttpResponse> HttpGet(const HttpUrl& url, std::string_view path,
                             std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res);
  if (gai != 0) return Status::Error("cannot resolve " + url.host + ": " + gai_strerror(gai));
  Result<int> connected = Status::Error("no address for " + url.host);
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    connected = ConnectOne(ai, deadline);
    if (connected.ok() || MsLeft(deadline) == 0) break;
  }
  freeaddrinfo(res);
  if (!connected.ok()) {
    return Status::Error("cannot connect to " + url.host_header + ": " +
                         connected.status().message());
  }
  Fd fd(*connected);

  std::string request = "GET " + url.base_path + std::string(path) +
                        " HTTP/1.1\r\nHost: " + url.host_header +
                        "\r\nAccept: application/json\r\nUser-Agent: latchctl/" LATCHD_VERSION
                        "\r\nConnection: close\r\n\r\n";
  std::string_view out = request;
  while (!out.empty()) {
    ssize_t n = send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int left = MsLeft(deadline);
      if (left == 0) return Status::Error("timed out after " + std::to_string(timeout.count()) + " ms");
      pollfd p{fd.get(), POLLOUT, 0};
      poll(&p, 1, left);
      continue;
    }
    return Status::Error(std::string("send: ") + std::strerror(errno));
  }

  std::string raw;
  char buf[16384];
  while (true) {
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      if (raw.size() > kMaxResponse) return Status::Error("response larger than 1 MiB");
      if (Complete(raw)) break;
      continue;
    }
    if (n == 0) break;  // EOF: whatever we have is the response
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Status::Error(std::string("recv: ") + std::strerror(errno));
    }
    int left = MsLeft(deadline);
    if (left == 0) {
      return Status::Error("no complete answer within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd p{fd.get(), POLLIN, 0};
    poll(&p, 1, left);
  }
  if (raw.empty()) return Status::Error("the server closed the connection without answering");
  return ParseHttpResponse(raw);
}

}  // namespace latchctl
}  // namespace latchd
