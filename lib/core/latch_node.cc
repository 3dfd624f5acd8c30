#include "lib/core/latch_node.h"

#include <algorithm>

namespace latchd {
namespace {

constexpr std::string_view kLatchMarker = "latch-";
constexpr std::string_view kProtectedPrefix = "_c_";
constexpr size_t kSequenceDigits = 10;
constexpr size_t kUuidLength = 36;

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<LatchNode> ParseLatchNode(std::string_view name) {
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  size_t at = name.rfind(kLatchMarker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view seq = name.substr(at + kLatchMarker.size());
  if (seq.size() != kSequenceDigits || !AllDigits(seq)) return std::nullopt;
  LatchNode node;
  node.name = std::string(name);
  node.sequence = std::stoll(std::string(seq));
  std::string_view prefix = name.substr(0, at);
  if (prefix.size() == kProtectedPrefix.size() + kUuidLength + 1 &&
      prefix.substr(0, kProtectedPrefix.size()) == kProtectedPrefix && prefix.back() == '-') {
    node.uuid = std::string(prefix.substr(kProtectedPrefix.size(), kUuidLength));
  }
  return node;
}

std::vector<LatchNode> SortLatchNodes(const std::vector<std::string>& children) {
  std::vector<LatchNode> nodes;
  nodes.reserve(children.size());
  for (const auto& child : children) {
    if (auto node = ParseLatchNode(child)) nodes.push_back(std::move(*node));
  }
  std::sort(nodes.begin(), nodes.end(), [](const LatchNode& a, const LatchNode& b) {
    return a.sequence != b.sequence ? a.sequence < b.sequence : a.name < b.name;
  });
  return nodes;
}

std::string LatchNodePrefix(std::string_view uuid) {
  std::string prefix(kProtectedPrefix);
  prefix.append(uuid).append("-").append(kLatchMarker);
  return prefix;
}

std::string LatchPath(std::string_view zk_root) {
  return std::string(zk_root) + "/leader_elector_path";
}

std::string ActiveServerInfoPath(std::string_view zk_root) {
  return std::string(zk_root) + "/active_server_info";
}

std::string MembersPath(std::string_view zk_root) { return std::string(zk_root) + "/members"; }

std::string MemberPath(std::string_view zk_root, std::string_view id) {
  return MembersPath(zk_root) + "/" + std::string(id);
}

std::vector<std::string> PathPrefixes(std::string_view path) {
  std::vector<std::string> out;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') out.emplace_back(path.substr(0, i));
  }
  return out;
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace latchd
