#include "lib/io/event_loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace latchd {
namespace {

using std::chrono::seconds;

constexpr auto kDeadline = seconds(5);

std::unique_ptr<EventLoop> NewLoop() {
  Result<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  EXPECT_TRUE(loop.ok()) << loop.status().message();
  return loop.ok() ? std::move(loop).value() : nullptr;
}

// Runs the loop on its own thread; stops and joins on destruction.
class LoopThread {
 public:
  explicit LoopThread(EventLoop& loop) : loop_(loop), thread_([this] { loop_.Run(); }) {}
  ~LoopThread() {
    loop_.Stop();
    thread_.join();
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  EventLoop& loop_;
  std::thread thread_;
};

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoop) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  LoopThread runner(*loop);
  std::promise<std::thread::id> ran_on;
  auto future = ran_on.get_future();
  std::thread poster([&] { loop->Post([&] { ran_on.set_value(std::this_thread::get_id()); }); });
  poster.join();
  ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready) << "posted fn never ran";
  EXPECT_EQ(future.get(), runner.id());
}

TEST(EventLoopTest, ManyPostsFromManyThreadsAllRun) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  LoopThread runner(*loop);
  constexpr int kThreads = 4, kPerThread = 1000;
  std::atomic<int> count{0};
  std::promise<void> all_done;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        loop->Post([&] {
          if (++count == kThreads * kPerThread) all_done.set_value();
        });
      }
    });
  }
  for (auto& t : posters) t.join();
  ASSERT_EQ(all_done.get_future().wait_for(kDeadline), std::future_status::ready)
      << "only " << count.load() << " posted fns ran";
}

TEST(EventLoopTest, TimersFireInOrderAndCancelWorks) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  std::vector<std::string> fired;  // touched on the loop thread only
  std::promise<void> done;
  MonoTime now = std::chrono::steady_clock::now();
  loop->AddTimer(now + milliseconds(60), [&] {
    fired.push_back("60ms");
    done.set_value();
  });
  loop->AddTimer(now + milliseconds(20), [&] { fired.push_back("20ms-a"); });
  auto cancelled = loop->AddTimer(now + milliseconds(30), [&] { fired.push_back("cancelled"); });
  loop->AddTimer(now + milliseconds(40), [&] { fired.push_back("40ms"); });
  loop->AddTimer(now + milliseconds(20), [&] { fired.push_back("20ms-b"); });
  loop->CancelTimer(cancelled);
  auto fired_id = loop->AddTimer(now, [&] { fired.push_back("now"); });
  LoopThread runner(*loop);
  ASSERT_EQ(done.get_future().wait_for(kDeadline), std::future_status::ready) << "timers stalled";
  std::promise<std::vector<std::string>> seen;
  loop->Post([&] {
    loop->CancelTimer(fired_id);  // a no-op for a fired timer
    seen.set_value(fired);
  });
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(future.get(), (std::vector<std::string>{"now", "20ms-a", "20ms-b", "40ms", "60ms"}));
}

TEST(EventLoopTest, TimerDoesNotFireEarly) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  std::promise<MonoTime> fired_at;
  MonoTime due = std::chrono::steady_clock::now() + milliseconds(50);
  loop->AddTimer(due, [&] { fired_at.set_value(std::chrono::steady_clock::now()); });
  LoopThread runner(*loop);
  auto future = fired_at.get_future();
  ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready) << "timer never fired";
  EXPECT_GE(future.get(), due);
}

TEST(EventLoopTest, ReadinessCallbackAndBeforeDispatchHook) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  int hook_calls = 0;
  loop->SetBeforeDispatch([&] { ++hook_calls; });
  std::promise<int> hooks_seen_by_fd;
  ASSERT_TRUE(loop->Watch(fds[0], EPOLLIN, [&](uint32_t events) {
                    char c;
                    EXPECT_TRUE(events & EPOLLIN);
                    EXPECT_EQ(read(fds[0], &c, 1), 1);
                    loop->Unwatch(fds[0]);
                    hooks_seen_by_fd.set_value(hook_calls);
                  }).ok());
  LoopThread runner(*loop);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  auto future = hooks_seen_by_fd.get_future();
  ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready) << "fd callback never ran";
  EXPECT_GE(future.get(), 1) << "hook must run before the iteration's callbacks";
  close(fds[0]);
  close(fds[1]);
}

// Two fds are ready in the same iteration; whichever callback runs first
// unwatches and closes the other and reuses its descriptor number for a new,
// never-ready pipe. Neither the stale callback nor the new one may run.
TEST(EventLoopTest, CallbackMayUnwatchAndCloseOtherReadyFds) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  int a[2], b[2];
  ASSERT_EQ(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(write(a[1], "x", 1), 1);
  ASSERT_EQ(write(b[1], "x", 1), 1);
  int first_calls = 0, new_calls = 0;
  int fresh[2] = {-1, -1};
  auto kill_other = [&](int* self, int* other) {
    ++first_calls;
    loop->Unwatch(self[0]);
    loop->Unwatch(other[0]);
    close(other[0]);
    close(other[1]);
    ASSERT_EQ(pipe2(fresh, O_NONBLOCK | O_CLOEXEC), 0);
    ASSERT_TRUE(loop->Watch(fresh[0], EPOLLIN, [&](uint32_t) { ++new_calls; }).ok());
    other[0] = other[1] = -1;
  };
  ASSERT_TRUE(loop->Watch(a[0], EPOLLIN, [&](uint32_t) { kill_other(a, b); }).ok());
  ASSERT_TRUE(loop->Watch(b[0], EPOLLIN, [&](uint32_t) { kill_other(b, a); }).ok());
  std::promise<void> iteration_after;
  loop->AddTimer(std::chrono::steady_clock::now() + milliseconds(50),
                 [&] { iteration_after.set_value(); });
  {
    LoopThread runner(*loop);
    ASSERT_EQ(iteration_after.get_future().wait_for(kDeadline), std::future_status::ready);
  }
  EXPECT_EQ(first_calls, 1);
  EXPECT_EQ(new_calls, 0);
  for (int fd : {a[0], a[1], b[0], b[1], fresh[0], fresh[1]}) {
    if (fd >= 0) close(fd);
  }
}

TEST(EventLoopTest, CallbackMayUnwatchItself) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  std::string captured = "state owned by the callback";
  std::promise<std::string> seen;
  ASSERT_TRUE(loop->Watch(fds[0], EPOLLIN, [&, captured](uint32_t) {
                    loop->Unwatch(fds[0]);  // destroys the registration
                    seen.set_value(captured);  // ...but not this closure
                  }).ok());
  LoopThread runner(*loop);
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(future.get(), captured);
  close(fds[0]);
  close(fds[1]);
}

TEST(EventLoopTest, IdleLoopSleeps) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  std::atomic<int> iterations{0};
  loop->SetBeforeDispatch([&] { ++iterations; });
  {
    LoopThread runner(*loop);
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_LE(iterations.load(), 3) << "the idle loop is spinning";
}

TEST(EventLoopTest, WatchRefusesRegularFile) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  Status s = loop->Watch(fd, EPOLLIN, [](uint32_t) {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("epoll_ctl"), std::string::npos) << s.message();
  close(fd);
}

TEST(EventLoopTest, StopBeforeRunReturnsAtOnce) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  loop->Stop();
  auto done = std::async(std::launch::async, [&] { loop->Run(); });
  if (done.wait_for(kDeadline) != std::future_status::ready) {
    loop->Stop();  // so that the test ends
    FAIL() << "Run ignored an early Stop";
  }
}

}  // namespace
}  // namespace latchd
