// An HTTP request as the agent sees it, and its answer: what HttpServer
// (lib/io/http_server.h) hands to its handler and sends back.
// Thread-safety: plain values.
#ifndef LATCHD_LIB_IO_HTTP_MESSAGE_H_
#define LATCHD_LIB_IO_HTTP_MESSAGE_H_

#include <string>

namespace latchd {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD"
  std::string path;    // the target without "?query", not percent-decoded
  std::string query;   // after the '?', not decoded; empty if none
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

}  // namespace latchd

#endif  // LATCHD_LIB_IO_HTTP_MESSAGE_H_
