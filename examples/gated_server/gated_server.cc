// gated_server: a toy "metadata server" gated by latchd, to show how a server
// uses latchd::RoleClient. Several instances (one per host, each next to its
// own latchd) share one store file; only the ACTIVE one serves.
//
//   gated_server --socket=/run/latchd/latchd.sock --port=21000 --store=/shared/meta.log
//
// Protocol: TCP, one request line, one answer line.
//   PUT <key> <value...>  -> OK epoch=<n>            (only while ACTIVE)
//   GET <key>             -> VALUE <value> epoch=<n> | NOTFOUND   (only while ACTIVE)
//   ROLE                  -> ROLE <role> epoch=<n> cache_epoch=<n>
//   anything refused      -> ERR <why>
//   GET /health HTTP/1.x  -> HTTP/1.1 200 (then closes): a health probe for
//                            latchd --health_url, answered by the main loop,
//                            so a hung (or SIGSTOPped) server fails it
//
// With --hold it binds its agent to this process (RoleClient::Hold; run the
// agent with --server_hold): the agent stands only while this process lives.
//
// What it shows:
//   * every request asks RoleClient::ActiveEpoch() (cheap, never stale: false
//     as soon as the agent is gone, stopped, or its lease lapsed);
//   * on BECOMING_ACTIVE (a Watch callback) it reloads its cache from the store
//     and fences the store with the new epoch, then calls Ack(epoch);
//   * every write is stamped with the epoch, and the store refuses a write whose
//     epoch is older than one it has seen: a former leader that still believes
//     it is ACTIVE cannot overwrite the new leader's data (fencing token).
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/client/role_client.h"

namespace {

using latchd::ClientStatus;
using latchd::Result;
using latchd::Role;
using latchd::RoleClient;
using latchd::RoleName;
using latchd::Status;

void Log(const std::string& line) { std::fprintf(stderr, "gated_server: %s\n", line.c_str()); }

struct Entry {
  std::string value;
  int64_t epoch = 0;
};

// An append-only file shared by all instances. One record per line:
// "<epoch>\t<key>\t<value>"; an empty key is a fence record (activation).
// Every operation holds flock(LOCK_EX) on the file.
class Store {
 public:
  explicit Store(std::string path) : path_(std::move(path)) {}

  // All records, last write of each key wins; *max_epoch is the largest epoch
  // in the file.
  Status Load(std::map<std::string, Entry>* out, int64_t* max_epoch) {
    return Locked([&](int fd) { return Scan(fd, out, max_epoch); });
  }

  // Appends a record if no record has a larger epoch (the fencing check).
  Status Append(int64_t epoch, const std::string& key, const std::string& value) {
    return Locked([&](int fd) {
      int64_t max_epoch = 0;
      Status s = Scan(fd, nullptr, &max_epoch);
      if (!s.ok()) return s;
      if (epoch < max_epoch) {
        return Status::Error("fenced: the store has epoch " + std::to_string(max_epoch) +
                             ", this write carries " + std::to_string(epoch));
      }
      std::string rec = std::to_string(epoch) + "\t" + key + "\t" + value + "\n";
      if (write(fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) {
        return Status::Error("write " + path_ + ": " + std::strerror(errno));
      }
      return Status::Ok();
    });
  }

 private:
  template <typename Fn>
  Status Locked(Fn fn) {
    int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Status::Error("open " + path_ + ": " + std::strerror(errno));
    flock(fd, LOCK_EX);
    Status s = fn(fd);
    close(fd);  // releases the lock
    return s;
  }

  Status Scan(int fd, std::map<std::string, Entry>* out, int64_t* max_epoch) {
    std::string data;
    char buf[65536];
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, static_cast<off_t>(data.size()))) > 0) {
      data.append(buf, static_cast<size_t>(n));
    }
    if (n < 0) return Status::Error("read " + path_ + ": " + std::strerror(errno));
    *max_epoch = 0;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos) break;  // a torn last record: ignore
      std::string line = data.substr(pos, nl - pos);
      pos = nl + 1;
      size_t t1 = line.find('\t');
      size_t t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
      if (t2 == std::string::npos) continue;
      int64_t epoch = std::strtoll(line.c_str(), nullptr, 10);
      if (epoch > *max_epoch) *max_epoch = epoch;
      std::string key = line.substr(t1 + 1, t2 - t1 - 1);
      if (out && !key.empty()) (*out)[key] = Entry{line.substr(t2 + 1), epoch};
    }
    return Status::Ok();
  }

  const std::string path_;
};

class Server {
 public:
  Server(const std::string& socket, std::string store) : latch_(socket), store_(std::move(store)) {}

  void Start(bool hold) {
    latch_.Watch([this](const ClientStatus& s) { OnRole(s); });
    if (hold) latch_.Hold();
  }

  std::string Handle(const std::string& line) {
    std::string cmd = line.substr(0, line.find(' '));
    if (cmd == "ROLE") {
      std::lock_guard<std::mutex> lock(mu_);
      return "ROLE " + std::string(RoleName(last_.role)) + " epoch=" + std::to_string(last_.epoch) +
             " cache_epoch=" + std::to_string(cache_epoch_);
    }
    if (cmd != "PUT" && cmd != "GET") return "ERR unknown command (PUT, GET, ROLE)";

    // The gate: asked for every request. The epoch that comes with the answer
    // is this write's fencing token.
    std::optional<int64_t> epoch = latch_.ActiveEpoch();
    std::lock_guard<std::mutex> lock(mu_);
    if (!epoch) return "ERR not active (" + std::string(RoleName(last_.role)) + ")";
    if (cache_epoch_ != *epoch) return "ERR activating epoch " + std::to_string(*epoch);

    std::string rest = line.size() > cmd.size() ? line.substr(cmd.size() + 1) : "";
    std::string key = rest.substr(0, rest.find(' '));
    if (key.empty() || key.find('\t') != std::string::npos) return "ERR bad key";
    if (cmd == "GET") {
      auto it = cache_.find(key);
      if (it == cache_.end()) return "NOTFOUND";
      return "VALUE " + it->second.value + " epoch=" + std::to_string(it->second.epoch);
    }
    std::string value = rest.size() > key.size() ? rest.substr(key.size() + 1) : "";
    Status s = store_.Append(*epoch, key, value);
    if (!s.ok()) return "ERR " + s.message();
    cache_[key] = Entry{value, *epoch};
    return "OK epoch=" + std::to_string(*epoch);
  }

 private:
  // Runs on the RoleClient's watch thread, one status at a time, in order.
  void OnRole(const ClientStatus& s) {
    if (!s.agent_reachable) {
      Log("latchd unreachable: refusing requests until it is back");
    } else {
      Log("role " + std::string(RoleName(s.role)) + " epoch=" + std::to_string(s.epoch) +
          " leader=" + (s.leader_id.empty() ? "-" : s.leader_id));
    }
    bool activate = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = s;
      activate = latchd::IsClaim(s.role) && cache_epoch_ != s.epoch;
    }
    bool ready = activate ? Activate(s.epoch) : true;
    if (s.role == Role::kBecomingActive && ready) {
      // Activation done (or already done for this epoch): tell the agent.
      Status ack = latch_.Ack(s.epoch);
      Log(ack.ok() ? "ack " + std::to_string(s.epoch) + " accepted"
                   : "ack " + std::to_string(s.epoch) + ": " + ack.message());
    }
  }

  // Reloads the cache from the store and fences the store with `epoch`, so
  // that writes of any older leader are refused from now on.
  // Returns false (and stays not ready for the epoch) when the store fails.
  bool Activate(int64_t epoch) {
    std::map<std::string, Entry> fresh;
    int64_t store_epoch = 0;
    Status s = store_.Load(&fresh, &store_epoch);
    if (s.ok()) s = store_.Append(epoch, "", "");  // the fence record
    if (!s.ok()) {
      Log("activation for epoch " + std::to_string(epoch) + " failed: " + s.message());
      return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    cache_ = std::move(fresh);
    cache_epoch_ = epoch;
    Log("cache reloaded (" + std::to_string(cache_.size()) + " keys) and store fenced at epoch " +
        std::to_string(epoch));
    return true;
  }

  RoleClient latch_;
  Store store_;
  std::mutex mu_;  // guards everything below
  ClientStatus last_;
  std::map<std::string, Entry> cache_;
  int64_t cache_epoch_ = 0;
};

Result<int> Listen(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    return Status::Error("--host must be an IPv4 address");
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0) {
    std::string err = std::strerror(errno);
    close(fd);
    return Status::Error("cannot listen on " + host + ":" + std::to_string(port) + ": " + err);
  }
  return fd;
}

struct Client {
  int fd;
  std::string in;
};

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = latchd::kDefaultAgentSocket, store, host = "127.0.0.1";
  int port = 0;
  bool hold = false;
  const char* usage = "usage: gated_server --port=N --store=FILE [--socket=PATH] [--host=ADDR] [--hold]\n";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      std::string prefix = std::string("--") + name + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("socket")) {
      socket_path = v;
    } else if (const char* v = value("store")) {
      store = v;
    } else if (const char* v = value("host")) {
      host = v;
    } else if (const char* v = value("port")) {
      port = std::atoi(v);
    } else if (a == "--hold") {
      hold = true;
    } else {
      std::fprintf(stderr, "gated_server: unknown argument %s\n%s", a.c_str(), usage);
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || store.empty()) {
    std::fprintf(stderr, "%s", usage);
    return 2;
  }

  // SIGINT/SIGTERM arrive on a signalfd in the poll set; blocked before any
  // thread starts so that no other thread takes them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);

  auto listener = Listen(host, port);
  if (!listener.ok()) {
    Log(listener.status().message());
    return 1;
  }
  Server server(socket_path, store);
  server.Start(hold);
  Log("listening on " + host + ":" + std::to_string(port) + ", latchd at " + socket_path +
      (hold ? ", holding it" : ""));

  std::vector<Client> clients;
  while (true) {
    std::vector<pollfd> fds = {{sig_fd, POLLIN, 0}, {*listener, POLLIN, 0}};
    for (auto& c : clients) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) break;
    if (fds[1].revents & POLLIN) {
      int fd = accept4(*listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) clients.push_back(Client{fd, ""});
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Client& c = clients[i - 2];
      char buf[4096];
      ssize_t n = read(c.fd, buf, sizeof buf);
      if (n <= 0) {
        close(c.fd);
        c.fd = -1;
        continue;
      }
      c.in.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = c.in.find('\n')) != std::string::npos) {
        std::string line = c.in.substr(0, nl);
        c.in.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.rfind("GET /", 0) == 0 && line.find(" HTTP/1.") != std::string::npos) {
          static const char kOk[] =
              "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
          (void)!write(c.fd, kOk, sizeof kOk - 1);
          close(c.fd);
          c.fd = -1;
          break;
        }
        std::string answer = server.Handle(line) + "\n";
        (void)!write(c.fd, answer.data(), answer.size());
      }
    }
    std::vector<Client> open;
    for (auto& c : clients) {
      if (c.fd >= 0) open.push_back(std::move(c));
    }
    clients.swap(open);
  }
  Log("stopping");
  for (auto& c : clients) close(c.fd);
  close(*listener);
  return 0;
}
