// RoleMachine: the four roles and the edges between them — the diagram of
// docs/design.md, "Roles and the state machine":
//
//   PASSIVE ────────────────(leader, lease valid)────────────► BECOMING_ACTIVE
//      ▲                                                           │ gates passed and a
//      │ leadership known gone                                     ▼ write after the claim answered
//      │ (node deleted / not first / session expired /           ACTIVE
//      │  stop / yield / activation failed)                        │ lease lapsed, node lost,
//      │                                                           │ expiry, stop, yield
//      └──────────────────────── BECOMING_PASSIVE ◄───────────────┘ (also from BECOMING_ACTIVE)
//                                       │ lease renewed, own node still first (same epoch)
//                                       └────────────────────────► BECOMING_ACTIVE
//
// Only BECOMING_ACTIVE and ACTIVE are claims. The machine holds the current
// role and when it was entered; Step() takes one edge of the diagram and
// refuses any other (a programming error: it aborts), so no role is ever
// skipped. What moves the role — leadership, the lease, the gates, the
// publish — is decided by LatchCore::UpdateRole (lib/core/latch_core.cc),
// the one place that reads like the diagram.
//
// Thread-safety: none (owned by LatchCore).
#ifndef LATCHD_LIB_CORE_ROLE_MACHINE_H_
#define LATCHD_LIB_CORE_ROLE_MACHINE_H_

#include <string>

#include "lib/core/role.h"
#include "lib/util/clock.h"

namespace latchd {

struct RoleEdge {
  Role from;
  Role to;
  const char* when;  // the diagram's label
};

// Every edge of the diagram, and nothing else.
inline constexpr RoleEdge kRoleEdges[] = {
    {Role::kPassive, Role::kBecomingActive, "leader with a valid lease"},
    {Role::kBecomingActive, Role::kActive, "activation gates passed, a write after the claim answered"},
    {Role::kBecomingActive, Role::kBecomingPassive, "claim ended"},
    {Role::kActive, Role::kBecomingPassive, "claim ended"},
    {Role::kBecomingPassive, Role::kPassive, "leadership known gone"},
    {Role::kBecomingPassive, Role::kBecomingActive, "lease renewed, own node still first"},
};

bool IsRoleEdge(Role from, Role to);

class RoleMachine {
 public:
  Role role() const { return role_; }
  MonoTime since() const { return since_; }
  bool claiming() const { return IsClaim(role_); }

  // Called with the time of the first event: the role has been PASSIVE since.
  void StartAt(MonoTime now) {
    if (since_ == MonoTime{}) since_ = now;
  }
  // Takes the edge role() -> to at `now`; returns false (and does nothing)
  // if `to` is the current role. Aborts on an edge not in kRoleEdges.
  bool Step(Role to, MonoTime now);

 private:
  Role role_ = Role::kPassive;
  MonoTime since_{};
};

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_ROLE_MACHINE_H_
