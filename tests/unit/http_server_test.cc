#include "lib/io/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace latchd {
namespace {

using std::chrono::seconds;

constexpr auto kDeadline = seconds(5);

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A blocking test client; every read and write gives up after 5 s.
class Client {
 public:
  explicit Client(int port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
      ADD_FAILURE() << "connect: " << strerror(errno);
      close(fd_);
      fd_ = -1;
    }
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response; the body is read by Content-Length unless `head_only`.
  std::optional<Response> Read(bool head_only = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (Fill() <= 0) return std::nullopt;
    }
    Response r;
    std::string_view head(buf_.data(), end);
    size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    if (status_line.substr(0, 9) != "HTTP/1.1 ") return std::nullopt;
    r.status = std::stoi(std::string(status_line.substr(9, 3)));
    while (eol != std::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      size_t colon = line.find(':');
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(line.substr(colon + 2));
    }
    buf_.erase(0, end + 4);
    size_t length = head_only ? 0 : std::stoul(r.headers["content-length"]);
    while (buf_.size() < length) {
      if (Fill() <= 0) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // Reads until the server closes the connection (EOF or reset): true; or
  // until the deadline: false.
  bool WaitClosed() {
    ssize_t n;
    while ((n = Fill()) > 0) {
    }
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }

  // Sends `bytes` one at a time, `every` apart, until the server answers or
  // closes (the socket turns readable): true; false if the bytes ran out.
  bool TrickleUntilAnswered(std::string_view bytes, std::chrono::milliseconds every) {
    for (char ch : bytes) {
      if (!Send(std::string_view(&ch, 1))) return true;  // closed under us
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(every.count())) > 0) return true;
    }
    return false;
  }

  int fd_for_test() const { return fd_; }

 private:
  ssize_t Fill() {
    char chunk[64 * 1024];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) buf_.append(chunk, static_cast<size_t>(n));
    return n;
  }

  int fd_ = -1;
  std::string buf_;
};

std::string Get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n";
}

class HttpServerTest : public ::testing::Test {
 protected:
  void TearDown() override { StopLoop(); }

  // Echoes the request unless a body was set with `body_`.
  void StartServer(std::string listen = "127.0.0.1:0") {
    Result<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status().message();
    loop_ = std::move(loop).value();
    Result<std::unique_ptr<HttpServer>> server =
        HttpServer::Start(
            *loop_, listen,
            [this](const HttpRequest& req) {
              ++calls_;
              HttpResponse r;
              r.body = body_.empty() ? req.method + " " + req.path + " ? " + req.query : body_;
              return r;
            },
            options_);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
    thread_ = std::thread([this] { loop_->Run(); });
  }

  void StopLoop() {
    if (thread_.joinable()) {
      loop_->Stop();
      thread_.join();
    }
  }

  // f() run on the loop thread; `fallback` if the loop does not answer.
  template <class T, class F>
  T OnLoop(F f, T fallback) {
    std::promise<T> value;
    loop_->Post([&] { value.set_value(f()); });
    auto future = value.get_future();
    if (future.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "the loop does not answer";
      return fallback;
    }
    return future.get();
  }
  size_t Connections() {
    return OnLoop([this] { return server_->connections(); }, SIZE_MAX);
  }
  HttpServerStats Stats() {
    return OnLoop([this] { return server_->stats(); }, HttpServerStats{});
  }

  bool WaitForConnections(size_t want, std::chrono::seconds deadline = kDeadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (Connections() != want) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::atomic<int> calls_{0};
  std::string body_;  // set before StartServer
  HttpServerOptions options_;  // set before StartServer
};

std::string Slow(size_t n) { return "GET / HTTP/1.1\r\nX-Slow: " + std::string(n, 'a'); }

TEST_F(HttpServerTest, GetReturnsTheHandlersBody) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/status?verbose=1&x")));
  auto r = c.Read();
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /status ? verbose=1&x");
  EXPECT_EQ(r->headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r->headers["content-length"], std::to_string(r->body.size()));
  EXPECT_EQ(r->headers["cache-control"], "no-store");
  EXPECT_EQ(r->headers.count("connection"), 0u);
}

TEST_F(HttpServerTest, HeadHasTheHeadersButNoBody) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send("HEAD /x HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto head = c.Read(/*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-length"], std::to_string(std::string("HEAD /x ? ").size()));
  // Had a body been sent, it would show up in front of the next response.
  ASSERT_TRUE(c.Send(Get("/y")));
  auto get = c.Read();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "GET /y ? ");
}

TEST_F(HttpServerTest, OtherMethodsGet405AndKeepTheConnection) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send("POST /x HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET, HEAD");
  EXPECT_EQ(calls_.load(), 0);
  ASSERT_TRUE(c.Send(Get("/after")));
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, PostWithABodyGets405AndIsClosed) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, OversizeHeadGets431AndIsClosed) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/", "X-Big: " + std::string(9 * 1024, 'a') + "\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.WaitClosed()) << "the connection stayed open";
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, OversizeHeadWithoutEndIsRejectedToo) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send("GET /" + std::string(9 * 1024, 'a')));  // no end of head in sight
  auto r = c.Read();
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, MalformedRequestLineGets400AndIsClosed) {
  StartServer();
  for (std::string bad : {"GARBAGE\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n",
                          "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n"}) {
    Client c(server_->port());
    ASSERT_TRUE(c.Send(bad));
    auto r = c.Read();
    ASSERT_TRUE(r) << "no response to " << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_TRUE(c.WaitClosed()) << bad;
  }
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, RequestBodiesGet400AndClose) {
  StartServer();
  for (std::string headers : {"Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n"}) {
    Client c(server_->port());
    ASSERT_TRUE(c.Send(Get("/", headers) + "5\r\nhello\r\n0\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << headers;
    EXPECT_TRUE(c.WaitClosed()) << headers;
  }
  Client c(server_->port());  // Content-Length: 0 is no body
  ASSERT_TRUE(c.Send(Get("/", "Content-Length: 0\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/first") + Get("/second") + "HEAD /third HTTP/1.1\r\n\r\n"));
  auto first = c.Read();
  auto second = c.Read();
  auto third = c.Read(/*head_only=*/true);
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->body, "GET /first ? ");
  EXPECT_EQ(second->body, "GET /second ? ");
  EXPECT_EQ(third->status, 200);
  EXPECT_EQ(Connections(), 1u);
  ASSERT_TRUE(c.Send(Get("/fourth")));  // still alive
  auto fourth = c.Read();
  ASSERT_TRUE(fourth);
  EXPECT_EQ(fourth->body, "GET /fourth ? ");
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10AreHonoured) {
  StartServer();
  {
    Client c(server_->port());
    ASSERT_TRUE(c.Send(Get("/", "Connection: close\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(c.WaitClosed());
  }
  {
    Client c(server_->port());
    ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(c.WaitClosed());
  }
  {
    Client c(server_->port());
    ASSERT_TRUE(c.Send("GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->headers["connection"], "keep-alive");
    ASSERT_TRUE(c.Send("GET /b HTTP/1.0\r\n\r\n"));
    r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "GET /b ? ");
    EXPECT_TRUE(c.WaitClosed());
  }
}

TEST_F(HttpServerTest, HalfClosedClientGetsItsAnswers) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/one") + Get("/two")));
  ASSERT_EQ(shutdown(c.fd_for_test(), SHUT_WR), 0);
  auto one = c.Read();
  auto two = c.Read();
  ASSERT_TRUE(one && two);
  EXPECT_EQ(two->body, "GET /two ? ");
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(WaitForConnections(0));
}

TEST_F(HttpServerTest, ClientThatDoesNotReadIsDropped) {
  body_ = std::string(256 * 1024, 'x');
  StartServer();
  Client c(server_->port(), /*rcvbuf=*/4096);
  std::string requests;
  for (int i = 0; i < 400; ++i) requests += Get("/big");  // 100 MiB of answers
  ASSERT_TRUE(c.Send(requests));
  EXPECT_TRUE(WaitForConnections(0, seconds(10))) << "a non-reading client was kept";
  EXPECT_LT(calls_.load(), 400);
}

// --- Deadlines and limits ----------------------------------------------------

TEST_F(HttpServerTest, HeadNotCompleteInTimeGets408AndIsClosed) {
  options_.head_timeout = std::chrono::milliseconds(200);
  StartServer();
  Client c(server_->port());
  // A byte every 50 ms, for up to 10 s: the bytes must not extend the deadline.
  EXPECT_TRUE(c.TrickleUntilAnswered(Slow(200), std::chrono::milliseconds(50)))
      << "no answer while the head trickled in";
  auto r = c.Read();
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.WaitClosed()) << "the connection stayed open";
  EXPECT_EQ(calls_.load(), 0);
  EXPECT_EQ(Stats().head_timeouts, 1u);
}

TEST_F(HttpServerTest, FirstHeadDeadlineCountsFromAccept) {
  options_.head_timeout = std::chrono::milliseconds(200);
  StartServer();
  Client c(server_->port());  // connects and says nothing
  auto r = c.Read();
  ASSERT_TRUE(r) << "a silent new connection was kept";
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, LaterHeadDeadlineCountsFromItsFirstByte) {
  options_.head_timeout = std::chrono::milliseconds(300);
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/one")));
  ASSERT_TRUE(c.Read());
  // Idle for longer than the head deadline: a keep-alive connection may be.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  ASSERT_TRUE(c.Send("GET /two HTTP/1.1\r\n"));  // a head in two pieces
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(c.Send("Host: test\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r) << "the connection was closed";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /two ? ");
}

TEST_F(HttpServerTest, IdleDeadlineIsNotRefreshedByPartialBytes) {
  options_.head_timeout = std::chrono::seconds(60);  // only the idle deadline applies
  options_.idle_timeout = std::chrono::milliseconds(300);
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/")));
  ASSERT_TRUE(c.Read());
  EXPECT_TRUE(c.TrickleUntilAnswered(Slow(200), std::chrono::milliseconds(50)))
      << "a byte every 50 ms kept the connection beyond its idle deadline";
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);  // a head was begun: it is told why
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, IdleConnectionIsClosedSilently) {
  options_.idle_timeout = std::chrono::milliseconds(200);
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/")));
  ASSERT_TRUE(c.Read());
  EXPECT_FALSE(c.Read()) << "an idle close carries no response";
  EXPECT_TRUE(WaitForConnections(0));
  EXPECT_EQ(Stats().idle_timeouts, 1u);
}

TEST_F(HttpServerTest, RequestsPerConnectionAreLimited) {
  options_.max_requests_per_connection = 3;
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.Send(Get("/1") + Get("/2") + Get("/3") + Get("/4")));
  for (int i = 1; i <= 3; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "GET /" + std::to_string(i) + " ? ");
    EXPECT_EQ(r->headers.count("connection") != 0, i == 3) << i;
  }
  EXPECT_EQ(c.Read().has_value(), false) << "a 4th request was answered";
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_EQ(calls_.load(), 3);
}

// At the limit the newcomer is served; the idle connections go first, the
// least recently active first; then the connection whose head has been
// pending longest (however many bytes it has sent since).
TEST_F(HttpServerTest, AtTheLimitTheLeastDeservingConnectionIsEvicted) {
  options_.max_connections = 4;
  options_.head_timeout = std::chrono::seconds(60);  // no 408 interferes
  StartServer();
  auto open = [&](bool idle) {
    auto c = std::make_unique<Client>(server_->port());
    if (idle) {
      EXPECT_TRUE(c->Send(Get("/")));
      EXPECT_TRUE(c->Read());
    } else {
      EXPECT_TRUE(c->Send("GET / HTTP/1.1\r\n"));
    }
    return c;
  };
  auto idle_a = open(true);
  auto idle_b = open(true);
  auto head_c = open(false);
  auto head_d = open(false);
  ASSERT_TRUE(WaitForConnections(4));
  // a is used again: b is now the least recently active idle connection.
  ASSERT_TRUE(idle_a->Send(Get("/again")));
  ASSERT_TRUE(idle_a->Read());
  // c's head is older than d's; that c keeps sending bytes does not make it younger.
  ASSERT_TRUE(head_c->Send("Host: x\r\n"));
  ASSERT_TRUE(WaitForConnections(4));

  // Newcomers with a head pending (each younger than c and d).
  auto n1 = open(false);
  EXPECT_TRUE(idle_b->WaitClosed()) << "b (idle longest) was not evicted";
  EXPECT_FALSE(idle_b->Read()) << "an evicted idle connection gets no response";
  auto n2 = open(false);
  EXPECT_TRUE(idle_a->WaitClosed()) << "a (the other idle one) was not evicted";
  {  // No idle one left: the oldest head goes, and the health check is served.
    Client check(server_->port());
    ASSERT_TRUE(check.Send(Get("/active", "Connection: close\r\n")));
    auto r = check.Read();
    ASSERT_TRUE(r) << "the newcomer was not served";
    EXPECT_EQ(r->status, 200);
  }
  auto evicted = head_c->Read();
  ASSERT_TRUE(evicted) << "c (oldest head) got no 503";
  EXPECT_EQ(evicted->status, 503);
  EXPECT_TRUE(head_c->WaitClosed());
  for (Client* survivor : {head_d.get(), n1.get(), n2.get()}) {
    ASSERT_TRUE(survivor->Send("Host: x\r\n\r\n"));
    auto r = survivor->Read();
    ASSERT_TRUE(r) << "a younger head was evicted";
    EXPECT_EQ(r->status, 200);
  }
  HttpServerStats stats = Stats();
  EXPECT_EQ(stats.evicted_idle, 2u);
  EXPECT_EQ(stats.evicted_head, 1u);
}

TEST_F(HttpServerTest, AtTheLimitAHealthCheckIsAnsweredAmidSlowClients) {
  options_.max_connections = 16;
  StartServer();
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 40; ++i) {  // more slow clients than slots
    slow.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(slow.back()->Send("GET /"));
  }
  ASSERT_TRUE(WaitForConnections(16));
  Client check(server_->port());
  ASSERT_TRUE(check.Send(Get("/active")));
  auto r = check.Read();
  ASSERT_TRUE(r) << "the health check was not answered";
  EXPECT_EQ(r->body, "GET /active ? ");
  EXPECT_LE(Connections(), 16u);
}

TEST_F(HttpServerTest, ConnectionLimitIsAtMostHalfOfTheDescriptorLimit) {
  rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  rlimit low = lim;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Result<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto server = HttpServer::Start(**loop, "127.0.0.1:0", [](const HttpRequest&) {
    return HttpResponse{};
  });
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ((*server)->max_connections(), 128u);
  auto unlimited = HttpServer::Start(**loop, "127.0.0.1:0", [](const HttpRequest&) {
    return HttpResponse{};
  });
  ASSERT_TRUE(unlimited.ok());
  if (lim.rlim_cur >= 2 * 4096) {
    EXPECT_EQ((*unlimited)->max_connections(), 4096u);
  }
}

TEST_F(HttpServerTest, DestructorClosesConnections) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(WaitForConnections(1));
  StopLoop();
  server_.reset();
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, ListensOnLocalhostAndIpv6) {
  Result<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto handler = [](const HttpRequest&) { return HttpResponse{}; };
  auto local = HttpServer::Start(**loop, "localhost:0", handler);
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_GT((*local)->port(), 0);
  auto v6 = HttpServer::Start(**loop, "[::1]:0", handler);
  if (!v6.ok()) {
    GTEST_SKIP() << "no IPv6 loopback: " << v6.status().message();
  }
  EXPECT_GT((*v6)->port(), 0);
}

TEST_F(HttpServerTest, StartRejectsBadAddressesAndBusyPorts) {
  Result<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto handler = [](const HttpRequest&) { return HttpResponse{}; };
  for (std::string bad : {"", "8080", "example.com:80", "127.0.0.1:99999", "[::1:80", "1.2.3:80"}) {
    auto s = HttpServer::Start(**loop, bad, handler);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_NE(s.status().message().find(bad), std::string::npos) << s.status().message();
    }
  }
  auto first = HttpServer::Start(**loop, "127.0.0.1:0", handler);
  ASSERT_TRUE(first.ok());
  auto second =
      HttpServer::Start(**loop, "127.0.0.1:" + std::to_string((*first)->port()), handler);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("bind"), std::string::npos) << second.status().message();
}

}  // namespace
}  // namespace latchd
