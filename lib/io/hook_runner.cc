#include "lib/io/hook_runner.h"

#include "lib/io/spawn.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace latchd {

HookRunner::HookRunner(std::string program, Duration timeout, Done done)
    : program_(std::move(program)), timeout_(timeout), done_(std::move(done)) {
  thread_ = std::thread([this] { Loop(); });
}

HookRunner::~HookRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
    if (running_pid_ > 0) kill(-running_pid_, SIGKILL);
  }
  cv_.notify_all();
  thread_.join();
}

void HookRunner::Enqueue(HookJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void HookRunner::Loop() {
  while (true) {
    HookJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string detail;
    bool ok = RunOne(job, &detail);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    done_(job, ok, detail);
  }
}

bool HookRunner::RunOne(const HookJob& job, std::string* detail) {
  std::vector<std::string> args = {program_,
                                   std::string(RoleName(job.change.to)),
                                   std::string(RoleName(job.change.from)),
                                   std::to_string(job.change.epoch),
                                   job.change.status.leader.id,
                                   job.change.status.leader.address};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "LATCHD_", 7) != 0) env.emplace_back(*e);
  }
  env.push_back("LATCHD_ROLE=" + args[1]);
  env.push_back("LATCHD_PREVIOUS_ROLE=" + args[2]);
  env.push_back("LATCHD_EPOCH=" + args[3]);
  env.push_back("LATCHD_LEADER_ID=" + args[4]);
  env.push_back("LATCHD_LEADER_ADDRESS=" + args[5]);
  env.push_back("LATCHD_ID=" + job.agent_id);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  Result<pid_t> spawned = SpawnChild(program_, argv.data(), envp.data());
  if (!spawned.ok()) {
    *detail = spawned.status().message();
    return false;
  }
  pid_t pid = *spawned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_pid_ = pid;
  }
  // Wait for the exit with a deadline: poll a pidfd.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  MonoTime deadline = std::chrono::steady_clock::now() + timeout_;
  bool exited = false;
  int status = 0;
  while (!exited) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) break;
    int ms = static_cast<int>(std::min<long long>(ToMillis(left) + 1, 1000));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, ms);
    } else {
      usleep(10000);
    }
  }
  if (!exited) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (pidfd >= 0) close(pidfd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_pid_ = -1;
  }
  if (!exited) {
    *detail = "timed out after " + std::to_string(ToMillis(timeout_)) + " ms (killed)";
    return false;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *detail = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                              : "killed by signal " + std::to_string(WTERMSIG(status));
  return false;
}

}  // namespace latchd
