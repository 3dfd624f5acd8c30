#include "lib/io/http_parser.h"

#include <string>

#include <gtest/gtest.h>

namespace latchd {
namespace {

TEST(HttpParserTest, RequestLineAndHeaders) {
  auto h = ParseHttpRequestHead("GET /status?x=1 HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, close");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->method, "GET");
  EXPECT_EQ(h->target, "/status?x=1");
  EXPECT_TRUE(h->http11);
  EXPECT_FALSE(h->has_body);
  EXPECT_TRUE(h->conn_close);
  EXPECT_TRUE(h->conn_keep_alive);
  h = ParseHttpRequestHead("HEAD / HTTP/1.0\nContent-Length: 000");
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->http11);
  EXPECT_FALSE(h->has_body);
  EXPECT_TRUE(ParseHttpRequestHead("POST / HTTP/1.1\r\nContent-Length: 5")->has_body);
  EXPECT_TRUE(ParseHttpRequestHead("POST / HTTP/1.1\r\nTransfer-Encoding: chunked")->has_body);
}

TEST(HttpParserTest, Malformed) {
  for (const char* bad : {"", "GET", "GET /", "GET / HTTP/2", "G(T / HTTP/1.1", "GET  HTTP/1.1",
                          "GET /a b HTTP/1.1", "GET /\x01 HTTP/1.1", "GET / HTTP/1.1\r\nNoColon",
                          "GET / HTTP/1.1\r\nBad Name: x", "GET / HTTP/1.1\r\nContent-Length: -1",
                          "GET / HTTP/1.1\r\nContent-Length:"}) {
    EXPECT_FALSE(ParseHttpRequestHead(bad).has_value()) << bad;
  }
}

TEST(HttpParserTest, FindHeadEnd) {
  size_t consumed = 0;
  std::string in = "GET / HTTP/1.1\r\nA: b\r\n\r\nGET /x HTTP/1.1\n\nrest";
  size_t len = FindHttpHeadEnd(in, 0, &consumed);
  EXPECT_EQ(in.substr(0, len), "GET / HTTP/1.1\r\nA: b\r");
  EXPECT_EQ(consumed, 24u);
  len = FindHttpHeadEnd(in, consumed, &consumed);
  EXPECT_EQ(len, 15u);
  EXPECT_EQ(consumed, 17u);
  consumed = 99;
  EXPECT_EQ(FindHttpHeadEnd("GET / HTTP/1.1\r\nA: b\r\n", 0, &consumed), std::string::npos);
  EXPECT_EQ(consumed, 99u);
}

}  // namespace
}  // namespace latchd
