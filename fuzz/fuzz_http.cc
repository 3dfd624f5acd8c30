// Fuzzes the HTTP request-head parser of the HTTP server, against the API
// factored out of lib/io/http_server.cc
// (lib/io/http_parser.h: FindHttpHeadEnd, ParseHttpRequestHead). build.sh uses
// the tree's lib/io/http_parser.* once the patch is applied, else a copy
// patched under fuzz/out/.
//
// The input is consumed the way HttpServer::ServeInput does: skip blank lines,
// find the end of a head, parse it, go on after it.
// Checks: no crash or UB, no reads outside the input; progress on every head;
// the head end really is a blank line; an accepted head has a token method, a
// non-empty target without blanks or control characters, a version, header
// lines "token:value", and "has_body" exactly when Content-Length is non-zero
// or Transfer-Encoding is present; all views point into the head.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "lib/io/http_parser.h"

namespace {

using latchd::fuzz::Show;

bool Inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void CheckHead(std::string_view head) {
  auto h = latchd::ParseHttpRequestHead(head);
  if (!h) return;
  FUZZ_CHECK(Inside(h->method, head) && Inside(h->target, head), "views outside the head");
  FUZZ_CHECK(!h->method.empty(), "empty method");
  for (char c : h->method) FUZZ_CHECK(IsTokenChar(c), "method not a token: " + Show(h->method));
  FUZZ_CHECK(!h->target.empty(), "empty target");
  for (unsigned char c : h->target) {
    FUZZ_CHECK(c > ' ' && c != 0x7f, "blank or control in target: " + Show(h->target));
  }
  // Independent reading of the request line and headers.
  size_t nl = head.find('\n');
  std::string_view line = head.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string expect = std::string(h->method) + " " + std::string(h->target) +
                       (h->http11 ? " HTTP/1.1" : " HTTP/1.0");
  FUZZ_CHECK(line == expect, "request line " + Show(line) + " read as " + Show(expect));
  bool body = false;
  std::string_view rest = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
  while (!rest.empty()) {
    size_t e = rest.find('\n');
    std::string_view hl = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 1);
    if (!hl.empty() && hl.back() == '\r') hl.remove_suffix(1);
    size_t colon = hl.find(':');
    FUZZ_CHECK(colon != std::string_view::npos && colon > 0, "header without name: " + Show(hl));
    for (char c : hl.substr(0, colon)) FUZZ_CHECK(IsTokenChar(c), "header name: " + Show(hl));
    std::string name = Lower(hl.substr(0, colon));
    std::string_view value = hl.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "content-length") {
      FUZZ_CHECK(!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos,
                 "bad Content-Length accepted: " + Show(hl));
      if (value.find_first_not_of('0') != std::string_view::npos) body = true;
    }
    if (name == "transfer-encoding") body = true;
  }
  FUZZ_CHECK(body == h->has_body, "has_body wrong for " + Show(head));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckHead(in);  // the whole input as one head
  size_t pos = 0;
  while (pos < in.size()) {
    while (pos < in.size() && (in[pos] == '\r' || in[pos] == '\n')) ++pos;
    size_t consumed = 0;
    size_t len = latchd::FindHttpHeadEnd(in, pos, &consumed);
    if (len == std::string_view::npos) break;
    FUZZ_CHECK(consumed >= len + 2 && pos + consumed <= in.size(), "head end out of range");
    std::string_view tail = in.substr(pos + len, consumed - len);
    FUZZ_CHECK(tail == "\n\n" || tail == "\n\r\n", "head does not end in a blank line: " + Show(tail));
    CheckHead(in.substr(pos, len));
    pos += consumed;
  }
  return 0;
}
