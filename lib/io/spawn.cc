#include "lib/io/spawn.h"

#include <signal.h>
#include <spawn.h>

#include <cstring>

extern char** environ;

namespace latchd {

Result<pid_t> SpawnChild(const std::string& program, char* const argv[], char* const envp[]) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), nullptr, &attr, argv, envp != nullptr ? envp : environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::Error("cannot start " + program + ": " + std::strerror(rc));
  return pid;
}

}  // namespace latchd
