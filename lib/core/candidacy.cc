#include "lib/core/candidacy.h"

#include "lib/core/latch_node.h"
#include "lib/core/member_info.h"

namespace latchd {

bool Candidacy::Set(bool healthy, const std::string& reason, int64_t since_ms) {
  reason_ = reason;
  if (healthy == healthy_) return false;
  healthy_ = healthy;
  since_ms_ = since_ms;
  if (healthy_) waiting_ = false;
  return true;
}

void Candidacy::CheckSuccessor(CoreIo& io, const LatchView& view, const std::string& own_node) {
  std::vector<Participant> nodes = view.Participants();
  if (nodes.size() < 2 || nodes[0].node != own_node) {
    waiting_ = true;  // nobody behind this agent
    return;
  }
  if (io.InFlight(Purpose::kCandidateGet)) return;
  const Participant& next = nodes[1];
  if (next.id.empty()) return;  // its id is being read; the next listing looks again
  io.Send(MakeRequest(ZkRequestKind::kGetData, MemberPath(zk_root_, next.id)),
          Purpose::kCandidateGet, next.node);
}

bool Candidacy::OnCandidateRecord(CoreIo& io, const ZkResult& r, const Pending& p) {
  if (healthy_) return false;
  if (r.code == ZkCode::kNoNode) {
    // No member record: not a latchd agent (a Curator participant), which
    // counts as healthy. latchd agents write theirs before they join.
    io.Log(LogAction::kInfo, "latch node " + p.node + " has no member record (a Curator participant): "
                                 "a healthy candidate");
    return true;
  }
  if (r.code != ZkCode::kOk) return false;
  auto m = ParseMemberJson(r.data);
  if (!m.ok()) {
    io.Log(LogAction::kWarning, "ignoring the member record of latch node " + p.node + ": " +
                                    m.status().message());
    waiting_ = true;
    return false;
  }
  std::optional<LatchNode> node = ParseLatchNode(p.node);
  if (!node || m->uuid != node->uuid) return false;  // the record is not about that node (yet)
  if (!m->healthy) {
    waiting_ = true;
    return false;
  }
  return true;
}

}  // namespace latchd
