// A minimal HTTP/1.1 GET client for `latchctl find-active`: plain http:// only,
// one request per connection (Connection: close), the whole exchange bounded
// by one timeout (except name resolution: getaddrinfo cannot be bounded).
// Thread-safety: pure functions / independent calls.
// Errors: values; one line naming the URL and what failed ("connection
// refused", "timed out after 2000 ms", "https is not supported").
#ifndef LATCHD_AGENT_LATCHCTL_HTTP_GET_H_
#define LATCHD_AGENT_LATCHCTL_HTTP_GET_H_

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "lib/util/status.h"

namespace latchd {
namespace latchctl {

struct HttpUrl {
  std::string host;         // name or address, IPv6 without brackets
  std::string port;         // "80" when not given
  std::string host_header;  // as the Host: header wants it ("[::1]:8080")
  std::string base_path;    // path prefix without a trailing '/', may be ""
};

// Parses "http://host[:port][/base]". "https://..." is an error saying
// "https is not supported"; any other scheme, userinfo, a query or fragment,
// a bad port or an empty host is an error naming the URL.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
};

// GET url.base_path + path. Follows no redirects. The response is read until
// Content-Length, the end of a chunked body, or EOF; at most 1 MiB.
Result<HttpResponse> HttpGet(const HttpUrl& url, std::string_view path,
                             std::chrono::milliseconds timeout);

// Parses a complete raw response (exposed for tests).
Result<HttpResponse> ParseHttpResponse(std::string_view raw);

}  // namespace latchctl
}  // namespace latchd

#endif  // LATCHD_AGENT_LATCHCTL_HTTP_GET_H_
