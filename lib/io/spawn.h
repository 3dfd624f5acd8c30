// SpawnChild: starts a program the agent runs on its own behalf (a role
// change hook, a health probe) the way both need it: the signal mask cleared
// and every signal at its default (the agent blocks SIGTERM for signalfd; the
// child must not inherit that), in a process group of its own so that a
// timeout kills it as a whole. Returns the pid.
//
// Thread-safety: safe from any thread (posix_spawn).
// Errors: a string naming the program and errno's text when it cannot start.
#ifndef LATCHD_LIB_IO_SPAWN_H_
#define LATCHD_LIB_IO_SPAWN_H_

#include <sys/types.h>

#include <string>

#include "lib/util/status.h"

namespace latchd {

// argv and envp are null-terminated, as for execve; envp null = the agent's environment.
Result<pid_t> SpawnChild(const std::string& program, char* const argv[], char* const envp[]);

}  // namespace latchd

#endif  // LATCHD_LIB_IO_SPAWN_H_
