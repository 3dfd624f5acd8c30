#include "tests/unit/zk_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace latchd::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kStartDeadline{30};
constexpr std::chrono::seconds kStopGrace{5};
constexpr int kStartAttempts = 3;  // a new port each time the server dies early

// A port that was free a moment ago on 127.0.0.1.
Result<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return Status::Error(std::string("bind/getsockname: ") + std::strerror(err));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string FindJava() {
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/bin:/bin";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/java";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

}  // namespace

bool ZkTestServer::Available() { return access(kJar, R_OK) == 0; }

std::string ZkTestServer::connect_string() const {
  return "127.0.0.1:" + std::to_string(port_);
}

Result<std::unique_ptr<ZkTestServer>> ZkTestServer::Start(int tick_time_ms) {
  if (!Available()) return Status::Error(std::string(kJar) + " is not installed");
  const std::string java = FindJava();
  if (java.empty()) return Status::Error("no java executable on PATH");

  std::unique_ptr<ZkTestServer> server(new ZkTestServer());
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                      "/latchd-zk-test-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    return Status::Error("mkdtemp(" + templ + "): " + std::strerror(errno));
  }
  server->dir_ = buf.data();
  const std::string data_dir = server->dir_ + "/data";
  const std::string cfg_path = server->dir_ + "/zoo.cfg";
  const std::string out_path = server->dir_ + "/server.out";
  if (mkdir(data_dir.c_str(), 0700) != 0) {
    return Status::Error("mkdir(" + data_dir + "): " + std::strerror(errno));
  }

  std::string last_error;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    Result<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    std::ostringstream cfg;
    cfg << "tickTime=" << tick_time_ms << "\n"
        << "dataDir=" << data_dir << "\n"
        << "clientPort=" << server->port_ << "\n"
        << "clientPortAddress=127.0.0.1\n"
        << "admin.enableServer=false\n"
        << "4lw.commands.whitelist=srvr,mntr,ruok\n";
    if (!WriteFile(cfg_path, cfg.str())) return Status::Error("cannot write " + cfg_path);

    // Everything the child needs is prepared before fork (no allocation
    // between fork and exec in a multi-threaded process).
    const std::string class_path =
        std::string(kJar) + ":/usr/share/java/slf4j-nop.jar";
    std::vector<std::string> args = {
        java,       "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-cp",      class_path, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        cfg_path};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();

    pid_t pid = fork();
    if (pid < 0) return Status::Error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int null_fd = open("/dev/null", O_RDONLY);
      if (out < 0 || null_fd < 0) _exit(126);
      dup2(null_fd, 0);
      dup2(out, 1);
      dup2(out, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    server->pid_ = pid;

    const auto deadline = Clock::now() + kStartDeadline;
    bool exited = false;
    while (Clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        exited = true;
        server->pid_ = -1;
        std::ostringstream msg;
        msg << "ZooKeeper server on port " << server->port_ << " exited early (";
        if (WIFEXITED(status)) {
          msg << "exit status " << WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
          msg << "signal " << WTERMSIG(status);
        }
        msg << "); output: " << server->OutputTail();
        last_error = msg.str();
        break;
      }
      if (server->FourLetterWord("srvr", 500).find("Mode:") != std::string::npos) {
        return server;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!exited) {
      std::string tail = server->OutputTail();
      server->Stop();
      return Status::Error("ZooKeeper server on port " + std::to_string(server->port_) +
                           " did not show Mode: in srvr within " +
                           std::to_string(kStartDeadline.count()) + " s; output: " + tail);
    }
  }
  return Status::Error(last_error);
}

ZkTestServer::~ZkTestServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void ZkTestServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopGrace;
  while (Clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string ZkTestServer::OutputTail() const {
  std::ifstream in(dir_ + "/server.out");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr size_t kTail = 2000;
  if (content.size() > kTail) content = "..." + content.substr(content.size() - kTail);
  return content.empty() ? "(none)" : content;
}

std::string ZkTestServer::FourLetterWord(const std::string& word, int timeout_ms) const {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto remaining_ms = [&deadline] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      close(fd);
      return "";
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    if (poll(&p, 1, remaining_ms()) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      close(fd);
      return "";
    }
  }
  if (send(fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    close(fd);
    return "";
  }
  char buf[4096];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int ms = remaining_ms();
    if (ms == 0 || poll(&p, 1, ms) != 1) break;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

// ---------------------------------------------------------------------------
// TcpProxy

struct TcpProxy::State {
  struct Link {
    int client = -1;
    int server = -1;
  };

  ~State() {
    stop.store(true);
    Wake();
    if (thread.joinable()) thread.join();
    for (Link& link : links) CloseLink(link);
    if (listen_fd >= 0) close(listen_fd);
    if (wake[0] >= 0) close(wake[0]);
    if (wake[1] >= 0) close(wake[1]);
  }

  void Wake() {
    char c = 1;
    [[maybe_unused]] ssize_t n = write(wake[1], &c, 1);
  }

  static void CloseLink(Link& link) {
    if (link.client >= 0) close(link.client);
    if (link.server >= 0) close(link.server);
    link.client = link.server = -1;
  }

  int ConnectTarget() const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(target_port));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  // Copies what is readable on `from` to `to`; false when the link is done.
  static bool Forward(int from, int to) {
    char buf[16384];
    ssize_t n = recv(from, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w <= 0) {
        if (w < 0 && errno == EINTR) continue;
        return false;
      }
      off += w;
    }
    return true;
  }

  void Run() {
    while (!stop.load()) {
      if (blocked.load()) {
        for (Link& link : links) CloseLink(link);
        links.clear();
      }
      std::vector<pollfd> fds;
      fds.push_back({wake[0], POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      for (const Link& link : links) {
        fds.push_back({link.client, POLLIN, 0});
        fds.push_back({link.server, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 1000) < 0) continue;
      if (fds[0].revents != 0) {
        char drain[64];
        [[maybe_unused]] ssize_t n = read(wake[0], drain, sizeof(drain));
      }
      if (fds[1].revents & POLLIN) {
        int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          int server = blocked.load() ? -1 : ConnectTarget();
          if (server < 0) {
            close(client);
          } else {
            links.push_back({client, server});
          }
        }
      }
      size_t i = 2;
      for (auto it = links.begin(); it != links.end() && i + 1 < fds.size(); i += 2) {
        bool ok = true;
        if (fds[i].revents != 0) ok = Forward(it->client, it->server);
        if (ok && fds[i + 1].revents != 0) ok = Forward(it->server, it->client);
        if (!ok) {
          CloseLink(*it);
          it = links.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  int target_port = 0;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  std::atomic<bool> blocked{false};
  std::atomic<bool> stop{false};
  std::list<Link> links;  // forwarding thread only
  std::thread thread;
};

Result<std::unique_ptr<TcpProxy>> TcpProxy::Start(int target_port) {
  std::unique_ptr<TcpProxy> proxy(new TcpProxy());
  proxy->state_ = std::make_unique<State>();
  State& st = *proxy->state_;
  st.target_port = target_port;
  if (pipe2(st.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::Error(std::string("pipe2: ") + std::strerror(errno));
  }
  st.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (st.listen_fd < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(st.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(st.listen_fd, 16) != 0 ||
      getsockname(st.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::Error(std::string("proxy listen: ") + std::strerror(errno));
  }
  proxy->port_ = ntohs(addr.sin_port);
  st.thread = std::thread([&st] { st.Run(); });
  return proxy;
}

TcpProxy::~TcpProxy() = default;

std::string TcpProxy::connect_string() const { return "127.0.0.1:" + std::to_string(port_); }

void TcpProxy::SetBlocked(bool blocked) {
  state_->blocked.store(blocked);
  state_->Wake();
}

}  // namespace latchd::testing
