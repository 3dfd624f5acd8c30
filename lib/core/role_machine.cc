#include "lib/core/role_machine.h"

#include <cstdio>
#include <cstdlib>

namespace latchd {

bool IsRoleEdge(Role from, Role to) {
  for (const RoleEdge& e : kRoleEdges) {
    if (e.from == from && e.to == to) return true;
  }
  return false;
}

bool RoleMachine::Step(Role to, MonoTime now) {
  if (to == role_) return false;
  if (!IsRoleEdge(role_, to)) {
    std::fprintf(stderr, "latchd: internal error: role %s -> %s is not an edge of the role diagram\n",
                 std::string(RoleName(role_)).c_str(), std::string(RoleName(to)).c_str());
    std::abort();
  }
  role_ = to;
  since_ = now;
  return true;
}

}  // namespace latchd
