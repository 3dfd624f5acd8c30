// The role this host holds, with Atlas's names and meaning.
//   PASSIVE           not the leader; serves nothing that needs the lease.
//   BECOMING_ACTIVE   leader with a valid lease, activating (publishing, ack).
//   ACTIVE            leader with a valid lease, activation finished.
//   BECOMING_PASSIVE  was claiming, has stopped claiming, leadership not yet
//                     known to be gone.
// Only BECOMING_ACTIVE and ACTIVE are claims; both require a valid lease.
#ifndef LATCHD_LIB_CORE_ROLE_H_
#define LATCHD_LIB_CORE_ROLE_H_

#include <optional>
#include <string_view>

namespace latchd {

enum class Role { kPassive, kBecomingActive, kActive, kBecomingPassive };

inline constexpr Role kAllRoles[] = {Role::kPassive, Role::kBecomingActive,
                                     Role::kActive, Role::kBecomingPassive};

// "PASSIVE", "BECOMING_ACTIVE", "ACTIVE", "BECOMING_PASSIVE".
std::string_view RoleName(Role role);
// Inverse of RoleName; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);
// True for BECOMING_ACTIVE and ACTIVE.
inline bool IsClaim(Role role) {
  return role == Role::kActive || role == Role::kBecomingActive;
}

}  // namespace latchd

#endif  // LATCHD_LIB_CORE_ROLE_H_
