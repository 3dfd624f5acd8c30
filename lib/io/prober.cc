#include "lib/io/prober.h"

#include "lib/io/spawn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/api/server_binding.h"

extern char** environ;

namespace latchd {

Prober::~Prober() {
  for (auto& [id, p] : probes_) {
    if (p->timer) loop_.CancelTimer(p->timer);
    if (p->fd >= 0) {
      loop_.Unwatch(p->fd);
      close(p->fd);
    }
    if (p->pid > 0) {
      kill(-p->pid, SIGKILL);
      waitpid(p->pid, nullptr, 0);
    }
  }
}

void Prober::Finish(uint64_t id, bool ok, const std::string& detail) {
  auto it = probes_.find(id);
  if (it == probes_.end()) return;
  std::unique_ptr<Probe> p = std::move(it->second);
  probes_.erase(it);
  if (p->timer) loop_.CancelTimer(p->timer);
  if (p->fd >= 0) {
    loop_.Unwatch(p->fd);
    close(p->fd);
  }
  if (p->pid > 0) {
    kill(-p->pid, SIGKILL);  // the program's group, in case it left children
    waitpid(p->pid, nullptr, 0);
  }
  // Never inside Run: through the loop.
  loop_.Post([this, id, ok, detail] { done_(id, ok, detail); });
}

void Prober::RunHttp(uint64_t id, const std::string& url, Duration timeout) {
  auto target = ParseHttpProbeUrl(url);
  probes_[id] = std::make_unique<Probe>();
  Probe& p = *probes_[id];
  if (!target.ok()) return Finish(id, false, target.status().message());
  std::string host = target->host == "localhost" ? "127.0.0.1" : target->host;
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(target->port));
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(target->port));
    len = sizeof(*v6);
  } else {
    return Finish(id, false, "bad host " + host);
  }
  p.fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p.fd < 0) return Finish(id, false, std::string("socket: ") + std::strerror(errno));
  p.request = "GET " + target->path + " HTTP/1.0\r\nHost: " + target->host +
              "\r\nUser-Agent: latchd-probe\r\nConnection: close\r\n\r\n";
  if (connect(p.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    return Finish(id, false, std::string("connect: ") + std::strerror(errno));
  }
  if (!loop_.Watch(p.fd, EPOLLOUT, [this, id](uint32_t ev) { OnHttpEvent(id, ev); }).ok()) {
    return Finish(id, false, "cannot watch the connection");
  }
  p.timer = loop_.AddTimer(std::chrono::steady_clock::now() + timeout, [this, id, timeout] {
    if (auto it = probes_.find(id); it != probes_.end()) it->second->timer = 0;
    Finish(id, false, "no answer within " + std::to_string(ToMillis(timeout)) + " ms");
  });
}

void Prober::OnHttpEvent(uint64_t id, uint32_t events) {
  auto it = probes_.find(id);
  if (it == probes_.end()) return;
  Probe& p = *it->second;
  if (!p.sent) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Finish(id, false, std::string("connect: ") + std::strerror(err));
    ssize_t n = send(p.fd, p.request.data(), p.request.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(p.request.size())) {
      return Finish(id, false, std::string("send: ") + (n < 0 ? std::strerror(errno) : "short write"));
    }
    p.sent = true;
    loop_.Modify(p.fd, EPOLLIN);
    return;
  }
  char buf[1024];
  ssize_t n = recv(p.fd, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) p.response.append(buf, static_cast<size_t>(n));
  size_t eol = p.response.find('\n');
  if (eol == std::string::npos && n > 0 && p.response.size() < 4096) return;
  // "HTTP/1.x NNN reason"
  std::string line = p.response.substr(0, eol == std::string::npos ? p.response.size() : eol);
  if (line.size() >= 12 && line.compare(0, 7, "HTTP/1.") == 0 && line[8] == ' ') {
    int code = std::atoi(line.substr(9, 3).c_str());
    if (code >= 200 && code < 300) return Finish(id, true, "HTTP " + std::to_string(code));
    return Finish(id, false, "HTTP " + std::to_string(code));
  }
  Finish(id, false, n == 0 && p.response.empty() ? "connection closed without an answer"
                                                  : "not an HTTP answer");
}

void Prober::RunExec(uint64_t id, const std::string& program, Duration timeout) {
  probes_[id] = std::make_unique<Probe>();
  Probe& p = *probes_[id];
  char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
  Result<pid_t> spawned = SpawnChild(program, argv, nullptr);
  if (!spawned.ok()) return Finish(id, false, spawned.status().message());
  pid_t pid = *spawned;
  p.pid = pid;
  p.fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (p.fd < 0 || !loop_.Watch(p.fd, EPOLLIN, [this, id](uint32_t) { OnExit(id); }).ok()) {
    return Finish(id, false, "cannot watch the probe process");
  }
  p.timer = loop_.AddTimer(std::chrono::steady_clock::now() + timeout, [this, id, timeout] {
    if (auto it = probes_.find(id); it != probes_.end()) it->second->timer = 0;
    Finish(id, false, "did not exit within " + std::to_string(ToMillis(timeout)) + " ms (killed)");
  });
}

void Prober::OnExit(uint64_t id) {
  auto it = probes_.find(id);
  if (it == probes_.end()) return;
  Probe& p = *it->second;
  int status = 0;
  if (waitpid(p.pid, &status, WNOHANG) != p.pid) return;
  p.pid = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Finish(id, true, "exit 0");
  Finish(id, false, WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                      : "killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace latchd
