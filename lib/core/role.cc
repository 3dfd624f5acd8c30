#include "lib/core/role.h"

namespace latchd {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPassive: return "PASSIVE";
    case Role::kBecomingActive: return "BECOMING_ACTIVE";
    case Role::kActive: return "ACTIVE";
    case Role::kBecomingPassive: return "BECOMING_PASSIVE";
  }
  return "PASSIVE";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : kAllRoles) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

}  // namespace latchd
