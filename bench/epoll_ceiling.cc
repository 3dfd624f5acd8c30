// epoll_ceiling: the ceiling for Unix-socket request/response throughput on
// this machine. A minimal single-threaded, level-triggered epoll server that
// answers every '\n'-terminated request line with one fixed reply line (by
// default a status-like JSON object of about latchd's status size; the bench
// driver passes latchd's real status line so both servers send the same bytes).
// It does no parsing, no JSON, no clock reads: whatever latchd costs beyond
// this is the price of its own code.
//
// For the watch fan-out reference it also keeps the connections that sent
// "watch" and, on "yield", sends the reply line twice to each of them, in one
// send() per watcher (latchd writes the two change lines of a yield together)
// before answering: the ceiling for pushing a change to 1,000 Unix sockets
// from one thread.
//
// Usage: epoll_ceiling --socket=PATH [--reply=LINE]
// Prints "READY <path>" on stdout once listening; runs until SIGTERM/SIGINT.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>
#include <unordered_map>

#include "bench_util.h"

namespace {

using bench::FlagValue;

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

const char* kDefaultReply =
    "{\"epoch\":4294967302,\"id\":\"host1\",\"leader\":{\"address\":\"http://host1:21000\","
    "\"epoch\":4294967302,\"id\":\"host1\"},\"lease_ms\":2913,\"participants\":2,\"role\":"
    "\"ACTIVE\",\"since\":1795313241128,\"zk\":{\"session_id\":\"0x10000179d760000\",\"state\":"
    "\"CONNECTED\",\"timeout_ms\":4000}}";

struct Conn {
  std::string out;        // unsent reply bytes (only when the socket buffer was full)
  bool epollout = false;  // EPOLLOUT registered
  std::string in;         // the unfinished request line
};

}  // namespace

int main(int argc, char** argv) {
  std::string path, reply = kDefaultReply;
  for (int i = 1; i < argc; ++i) {
    if (FlagValue(argv[i], "--socket", &path) || FlagValue(argv[i], "--reply", &reply)) continue;
    std::fprintf(stderr, "usage: %s --socket=PATH [--reply=LINE]\n", argv[0]);
    return 2;
  }
  if (path.empty()) {
    std::fprintf(stderr, "--socket is required\n");
    return 2;
  }
  reply.push_back('\n');

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    std::fprintf(stderr, "socket path too long\n");
    return 2;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  unlink(path.c_str());
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 ||
      listen(lfd, SOMAXCONN) < 0) {
    std::perror("listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::printf("READY %s\n", path.c_str());
  std::fflush(stdout);

  std::unordered_map<int, Conn> conns;
  std::vector<int> watchers;  // fds that sent "watch", in order
  auto drop = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
    auto w = std::find(watchers.begin(), watchers.end(), fd);
    if (w != watchers.end()) watchers.erase(w);
  };
  // Sends `line` to fd now, queueing what the socket does not take (then
  // EPOLLOUT until it drains), as latchd's LineServer does for watchers.
  auto queue_send = [&](int fd, const std::string& line) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    Conn& c = it->second;
    if (c.out.empty()) {
      ssize_t s = send(fd, line.data(), line.size(), MSG_NOSIGNAL);
      if (s < 0 && errno != EAGAIN && errno != EINTR) return drop(fd);
      size_t sent = s > 0 ? static_cast<size_t>(s) : 0;
      if (sent == line.size()) return;
      c.out.append(line, sent, std::string::npos);
    } else {
      c.out.append(line);
    }
    if (!c.epollout) {
      c.epollout = true;
      epoll_event e{};
      e.events = EPOLLIN | EPOLLOUT;
      e.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    }
  };
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  char buf[16 * 1024];
  while (!g_stop) {
    int n = epoll_wait(ep, events, kMaxEvents, 200);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.fd = cfd;
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
          conns[cfd];
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      if (events[i].events & EPOLLERR) {
        drop(fd);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP)) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          drop(fd);
          continue;
        }
        std::string_view data(buf, r > 0 ? static_cast<size_t>(r) : 0);
        while (!data.empty()) {
          size_t nl = data.find('\n');
          if (nl == std::string_view::npos) {
            c.in.append(data);
            break;
          }
          std::string_view line = data.substr(0, nl);
          if (!c.in.empty()) line = c.in.append(line);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (line == "watch") {
            watchers.push_back(fd);
          } else if (line == "yield") {
            // Like latchd's yield: two change lines to every watcher in one
            // write, then the answer. (A copy: a failed send drops the watcher
            // from the list.)
            std::vector<int> targets = watchers;
            std::string both = reply + reply;
            for (int wfd : targets) queue_send(wfd, both);
          }
          c.out.append(reply);
          c.in.clear();
          data.remove_prefix(nl + 1);
        }
        if (conns.find(fd) == conns.end()) continue;  // dropped by queue_send
      }
      // Fast path: one send() per answered read, epoll_ctl only when the
      // socket buffer was full (then EPOLLOUT until it drains).
      bool had_epollout = c.epollout;
      while (!c.out.empty()) {
        ssize_t s = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (s < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          drop(fd);
          goto next;
        }
        c.out.erase(0, static_cast<size_t>(s));
      }
      c.epollout = !c.out.empty();
      if (c.epollout != had_epollout) {
        epoll_event e{};
        e.events = EPOLLIN | (c.epollout ? uint32_t{EPOLLOUT} : 0u);
        e.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
      }
    next:;
    }
  }
  for (auto& [fd, c] : conns) close(fd);
  close(lfd);
  unlink(path.c_str());
  return 0;
}
