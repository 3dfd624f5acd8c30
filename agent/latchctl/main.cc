// latchctl: talks to a running latchd over its Unix socket.
//   latchctl status [--socket=PATH]   prints the role word (like atlas_admin.py -status)
//   latchctl digest USER:PASSWORD     prints ZooKeeper's digest id for an ACL
// Exit codes: 0 ok, 1 agent unreachable or refused, 2 usage error.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <gflags/gflags.h>
#include <nlohmann/json.hpp>

#include "lib/zk/acl.h"

DEFINE_string(socket, "/run/latchd/latchd.sock", "the agent's Unix socket");

namespace {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "latchctl: %s\n", message.c_str());
  return code;
}

// Sends one request line and reads one response line (5 s deadline).
bool Ask(const std::string& request, std::string* response, std::string* error) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (FLAGS_socket.size() >= sizeof addr.sun_path) {
    close(fd);
    *error = "--socket: path too long";
    return false;
  }
  std::strncpy(addr.sun_path, FLAGS_socket.c_str(), sizeof addr.sun_path - 1);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "cannot reach latchd at " + FLAGS_socket + ": " + std::strerror(errno);
    close(fd);
    return false;
  }
  std::string line = request + "\n";
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    *error = "cannot send to latchd at " + FLAGS_socket + ": " + std::strerror(errno);
    close(fd);
    return false;
  }
  response->clear();
  char buf[4096];
  while (response->find('\n') == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *error = n == 0 ? "latchd closed the connection" : "no answer from latchd: " + std::string(std::strerror(errno));
      close(fd);
      return false;
    }
    response->append(buf, n);
  }
  response->resize(response->find('\n'));
  close(fd);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("status | digest USER:PASSWORD  [--socket=PATH]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (argc < 2) return Fail(2, "usage: latchctl status | digest USER:PASSWORD [--socket=PATH]");
  std::string cmd = argv[1];
  if (cmd == "digest") {
    if (argc != 3) return Fail(2, "usage: latchctl digest USER:PASSWORD");
    auto id = latchd::DigestIdFromCredentials(argv[2]);
    if (!id.ok()) return Fail(2, "digest: " + id.status().message());
    std::printf("%s\n", id->c_str());
    return 0;
  }
  if (cmd == "status") {
    if (argc != 2) return Fail(2, "usage: latchctl status [--socket=PATH]");
    std::string response, error;
    if (!Ask("status", &response, &error)) return Fail(1, error);
    auto j = nlohmann::json::parse(response, nullptr, false);
    if (j.is_discarded() || !j.contains("role")) return Fail(1, "unexpected answer: " + response);
    std::printf("%s\n", j["role"].get<std::string>().c_str());
    return 0;
  }
  return Fail(2, "unknown command \"" + cmd + "\" (status, digest)");
}
