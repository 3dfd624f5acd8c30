#include "lib/io/http_parser.h"
#include "lib/util/strings.h"

#include <cctype>

namespace latchd {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// Splits off the next '\n'-terminated line (without "\r\n").
std::string_view NextLine(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

std::optional<HttpRequestHead> ParseHttpRequestHead(std::string_view head) {
  HttpRequestHead out;
  std::string_view line = NextLine(head);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(out.method) || out.target.empty()) return std::nullopt;
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return std::nullopt;
  }
  if (version == "HTTP/1.1") {
    out.http11 = true;
  } else if (version != "HTTP/1.0") {
    return std::nullopt;
  }
  while (!head.empty()) {
    line = NextLine(head);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return std::nullopt;
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "content-length")) {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
      }
      if (value.find_first_not_of('0') != std::string_view::npos) out.has_body = true;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      out.has_body = true;
    } else if (EqualsIgnoreCase(name, "connection")) {
      while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view option = Trim(value.substr(0, comma));
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        if (EqualsIgnoreCase(option, "close")) out.conn_close = true;
        if (EqualsIgnoreCase(option, "keep-alive")) out.conn_keep_alive = true;
      }
    }
  }
  return out;
}

size_t FindHttpHeadEnd(std::string_view in, size_t from, size_t* consumed) {
  for (size_t nl = in.find('\n', from); nl != std::string_view::npos; nl = in.find('\n', nl + 1)) {
    size_t next = nl + 1;
    if (next < in.size() && in[next] == '\r') ++next;
    if (next < in.size() && in[next] == '\n') {
      *consumed = next + 1 - from;
      return nl - from;
    }
  }
  return std::string_view::npos;
}

}  // namespace latchd
