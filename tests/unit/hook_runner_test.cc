#include "lib/io/hook_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace latchd {
namespace {

struct Results {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<bool, std::string>> done;
  void Add(bool ok, const std::string& detail) {
    std::lock_guard<std::mutex> lock(mu);
    done.emplace_back(ok, detail);
    cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] { return done.size() >= n; });
  }
};

class HookRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/latchd-hook-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Script(const std::string& body) {
    std::string path = dir_ + "/hook.sh";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return path;
  }
  std::string dir_;
};

// A job for the change from -> to in `epoch`, with leader a1 at http://a1:21000.
HookJob Job(Role from, Role to, int64_t epoch) {
  HookJob job;
  job.change.from = from;
  job.change.to = to;
  job.change.epoch = epoch;
  job.change.status.leader = LeaderInfo{"a1", "http://a1:21000", epoch};
  job.agent_id = "a1";
  return job;
}

TEST_F(HookRunnerTest, RunsInOrderWithArgumentsAndEnvironment) {
  std::string log = dir_ + "/log";
  std::string hook = Script("echo \"$1 $2 $3 $4 $5 $LATCHD_ROLE $LATCHD_ID\" >> " + log);
  Results results;
  {
    HookRunner runner(hook, std::chrono::seconds(10),
                      [&](const HookJob&, bool ok, const std::string& d) { results.Add(ok, d); });
    runner.Enqueue(Job(Role::kPassive, Role::kBecomingActive, 7));
    runner.Enqueue(Job(Role::kBecomingActive, Role::kActive, 7));
    ASSERT_TRUE(results.WaitFor(2)) << "hooks did not finish";
  }
  EXPECT_TRUE(results.done[0].first);
  std::ifstream in(log);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(l1, "BECOMING_ACTIVE PASSIVE 7 a1 http://a1:21000 BECOMING_ACTIVE a1");
  EXPECT_EQ(l2, "ACTIVE BECOMING_ACTIVE 7 a1 http://a1:21000 ACTIVE a1");
}

TEST_F(HookRunnerTest, NonZeroExitAndTimeoutAreFailures) {
  Results results;
  HookRunner fails(Script("exit 3"), std::chrono::seconds(10),
                   [&](const HookJob&, bool ok, const std::string& d) { results.Add(ok, d); });
  fails.Enqueue({});
  ASSERT_TRUE(results.WaitFor(1));
  EXPECT_FALSE(results.done[0].first);
  EXPECT_EQ(results.done[0].second, "exit status 3");

  std::string hook = dir_ + "/slow.sh";
  std::ofstream(hook) << "#!/bin/sh\nsleep 30\n";
  chmod(hook.c_str(), 0755);
  auto start = std::chrono::steady_clock::now();
  HookRunner slow(hook, std::chrono::milliseconds(300),
                  [&](const HookJob&, bool ok, const std::string& d) { results.Add(ok, d); });
  slow.Enqueue({});
  ASSERT_TRUE(results.WaitFor(2));
  EXPECT_FALSE(results.done[1].first);
  EXPECT_NE(results.done[1].second.find("timed out"), std::string::npos) << results.done[1].second;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST_F(HookRunnerTest, MissingProgramIsReported) {
  Results results;
  HookRunner runner(dir_ + "/nope", std::chrono::seconds(5),
                    [&](const HookJob&, bool ok, const std::string& d) { results.Add(ok, d); });
  runner.Enqueue({});
  ASSERT_TRUE(results.WaitFor(1));
  EXPECT_FALSE(results.done[0].first);
}

}  // namespace
}  // namespace latchd
