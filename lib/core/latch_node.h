// Names of latch participants, as Curator's LeaderLatch writes them:
//   _c_<uuid>-latch-<10-digit sequence>   (protected mode, what Curator and latchd create)
// Ordering is by the text after the last "latch-", which for ZooKeeper's
// zero-padded sequence numbers is numeric order.
// Thread-safety: pure functions.
#ifndef LATCHD_LIB_CORE_LATCH_NODE_H_
#define LATCHD_LIB_CORE_LATCH_NODE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchd {

struct LatchNode {
  std::string name;   // the child's name (no path)
  std::string uuid;   // the protection id, empty if the name has no "_c_<uuid>-" prefix
  int64_t sequence = 0;
};

// Parses one child name. Returns nullopt for names that are not latch
// participants (no "latch-" followed by exactly 10 digits at the end, or a
// '/' in the name): such foreign children are ignored.
std::optional<LatchNode> ParseLatchNode(std::string_view name);

// Parses and sorts children by sequence, dropping foreign names.
std::vector<LatchNode> SortLatchNodes(const std::vector<std::string>& children);

// The name prefix latchd passes to an EPHEMERAL_SEQUENTIAL create.
std::string LatchNodePrefix(std::string_view uuid);

// Znode paths under a root (root has no trailing '/').
std::string LatchPath(std::string_view zk_root);          // <root>/leader_elector_path
std::string ActiveServerInfoPath(std::string_view zk_root);  // <root>/active_server_info
std::string MembersPath(std::string_view zk_root);        // <root>/members
std::string MemberPath(std::string_view zk_root, std::string_view id);  // <root>/members/<id>

// "/a/b/c" -> {"/a", "/a/b", "/a/b/c"}.
std::vector<std::string> PathPrefixes(std::string_view path);
// Last component of a path.
std::string_view BaseName(std::string_view path);

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_LATCH_NODE_H_
