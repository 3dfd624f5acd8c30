#include "lib/io/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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
        HttpServer::Start(*loop_, listen, [this](const HttpRequest& req) {
          ++calls_;
          HttpResponse r;
          r.body = body_.empty() ? req.method + " " + req.path + " ? " + req.query : body_;
          return r;
        });
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

  // connections(), read on the loop thread.
  size_t Connections() {
    std::promise<size_t> count;
    loop_->Post([&] { count.set_value(server_->connections()); });
    auto future = count.get_future();
    if (future.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "the loop does not answer";
      return SIZE_MAX;
    }
    return future.get();
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
};

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

TEST_F(HttpServerTest, ExcessConnectionsAreClosedAtOnce) {
  rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 2200) GTEST_SKIP() << "needs 2200 descriptors";
  StartServer();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 1024; ++i) clients.push_back(std::make_unique<Client>(server_->port()));
  ASSERT_TRUE(WaitForConnections(1024));
  Client extra(server_->port());
  EXPECT_TRUE(extra.WaitClosed()) << "the 1025th connection was kept";
  EXPECT_EQ(Connections(), 1024u);
  clients.pop_back();
  ASSERT_TRUE(WaitForConnections(1023));
  Client again(server_->port());
  ASSERT_TRUE(again.Send(Get("/")));
  EXPECT_TRUE(again.Read());
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
