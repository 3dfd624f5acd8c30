// Parsing of HTTP/1.1 request heads for HttpServer, kept apart from the
// sockets so that it can be tested and fuzzed on its own.
//
// Promises: never reads outside the given text; every view in a result points
// into the text passed in; a head is accepted only if its request line is
// "METHOD SP TARGET SP HTTP/1.x" with METHOD a token and TARGET free of
// blanks and control characters, and every header line is "token:value".
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_IO_HTTP_PARSER_H_
#define LATCHD_LIB_IO_HTTP_PARSER_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace latchd {

struct HttpRequestHead {
  std::string_view method;  // a token, e.g. "GET"
  std::string_view target;  // non-empty, no blanks or control characters
  bool http11 = false;      // HTTP/1.1 (else HTTP/1.0)
  bool has_body = false;    // Content-Length > 0 or any Transfer-Encoding
  bool conn_close = false;       // "Connection: close"
  bool conn_keep_alive = false;  // "Connection: keep-alive"
};

// Finds the blank line ending the head that starts at `from` (lines end in
// "\n" or "\r\n"). Returns the head's length (without the blank line) and
// sets *consumed to the length including it, or returns npos if the head is
// not complete yet (*consumed is then unchanged).
size_t FindHttpHeadEnd(std::string_view in, size_t from, size_t* consumed);

// Parses a request head: the request line and the header lines, without the
// blank line. nullopt if it is malformed (the caller answers 400).
std::optional<HttpRequestHead> ParseHttpRequestHead(std::string_view head);

}  // namespace latchd

#endif  // LATCHD_LIB_IO_HTTP_PARSER_H_
