#include "lib/io/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace latchd {
namespace {

std::string Errno(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// epoll_event.data carries the fd (low 32 bits) and the generation of the
// registration it was reported for (high 32 bits). Generation 0 is the
// loop's own eventfd.
uint64_t Pack(int fd, uint32_t generation) {
  return (uint64_t{generation} << 32) | static_cast<uint32_t>(fd);
}

class EpollLoop final : public EventLoop {
 public:
  EpollLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}
  ~EpollLoop() override {
    close(wake_fd_);
    close(epoll_fd_);
  }

  void Run() override;
  void Stop() override {
    stop_.store(true);
    Wake();
  }
  void Post(std::function<void()> fn) override;

  Status Watch(int fd, uint32_t events, FdCallback cb) override;
  void Modify(int fd, uint32_t events) override;
  void Unwatch(int fd) override;

  TimerId AddTimer(MonoTime when, std::function<void()> fn) override;
  void CancelTimer(TimerId id) override;

  void SetBeforeDispatch(std::function<void()> fn) override {
    before_dispatch_ = std::move(fn);
  }

 private:
  struct Registration {
    uint32_t generation;
    uint32_t events;
    // Shared so that a callback that unwatches its own fd stays alive until
    // it returns.
    std::shared_ptr<FdCallback> cb;
  };
  using TimerKey = std::pair<MonoTime, TimerId>;  // fires in (when, id) order

  void Wake();
  int WaitTimeoutMs() const;
  void RunDueTimers();
  void Dispatch(uint64_t data, uint32_t events);
  void RunPosted();

  const int epoll_fd_;
  const int wake_fd_;
  std::atomic<bool> stop_{false};

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mu_

  std::unordered_map<int, Registration> fds_;
  uint32_t next_generation_ = 1;

  std::map<TimerKey, std::function<void()>> timers_;
  std::unordered_map<TimerId, MonoTime> timer_when_;
  TimerId next_timer_id_ = 1;

  std::function<void()> before_dispatch_;
};

void EpollLoop::Run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stop_.load()) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, WaitTimeoutMs());
    if (n < 0) n = 0;  // EINTR: just another iteration
    if (before_dispatch_) before_dispatch_();
    RunDueTimers();
    for (int i = 0; i < n; ++i) Dispatch(events[i].data.u64, events[i].events);
    RunPosted();
  }
  stop_.store(false);  // a later Run() starts afresh
}

void EpollLoop::Post(std::function<void()> fn) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(fn));
  }
  // A non-empty queue has already been signalled and is drained as a whole.
  if (was_empty) Wake();
}

void EpollLoop::Wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is woken anyway.
  while (write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

int EpollLoop::WaitTimeoutMs() const {
  if (timers_.empty()) return -1;
  Duration left = timers_.begin()->first.first - std::chrono::steady_clock::now();
  if (left <= Duration::zero()) return 0;
  // Round up so the loop never wakes just before the timer is due.
  auto ms = std::chrono::ceil<milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void EpollLoop::RunDueTimers() {
  MonoTime now = std::chrono::steady_clock::now();
  // Snapshot first: timers added by these callbacks wait for the next
  // iteration, and a cancelled one is skipped.
  std::vector<TimerKey> due;
  for (auto it = timers_.begin(); it != timers_.end() && it->first.first <= now; ++it) {
    due.push_back(it->first);
  }
  for (const TimerKey& key : due) {
    auto node = timers_.extract(key);
    if (node.empty()) continue;
    timer_when_.erase(key.second);
    node.mapped()();
  }
}

void EpollLoop::Dispatch(uint64_t data, uint32_t events) {
  int fd = static_cast<int>(static_cast<uint32_t>(data));
  auto generation = static_cast<uint32_t>(data >> 32);
  if (generation == 0) {  // the wake eventfd; posted work runs after the fds
    uint64_t count;
    while (read(wake_fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
    }
    return;
  }
  // An earlier callback of this iteration may have unwatched or replaced the
  // registration, or narrowed its interest.
  auto it = fds_.find(fd);
  if (it == fds_.end() || it->second.generation != generation) return;
  events &= it->second.events | EPOLLERR | EPOLLHUP;
  if (events == 0) return;
  std::shared_ptr<FdCallback> cb = it->second.cb;
  (*cb)(events);
}

void EpollLoop::RunPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

Status EpollLoop::Watch(int fd, uint32_t events, FdCallback cb) {
  uint32_t generation = next_generation_++;
  if (next_generation_ == 0) next_generation_ = 1;  // 0 is the eventfd
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = Pack(fd, generation);
  bool known = fds_.count(fd) != 0;
  int rc = epoll_ctl(epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  // The fd may have been closed and reused without an Unwatch, or watched
  // under an old registration we no longer know about; try the other way.
  if (rc < 0 && (errno == ENOENT || errno == EEXIST)) {
    rc = epoll_ctl(epoll_fd_, errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
  }
  if (rc < 0) {
    // Leave no registration behind that we would not dispatch.
    if (fds_.erase(fd) != 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    return Status::Error(Errno(("epoll_ctl(fd " + std::to_string(fd) + ")").c_str()));
  }
  fds_[fd] = Registration{generation, events, std::make_shared<FdCallback>(std::move(cb))};
  return Status::Ok();
}

void EpollLoop::Modify(int fd, uint32_t events) {
  auto it = fds_.find(fd);
  if (it == fds_.end() || it->second.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = Pack(fd, it->second.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0) it->second.events = events;
}

void EpollLoop::Unwatch(int fd) {
  if (fds_.erase(fd) == 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);  // fails if already closed; fine
}

EventLoop::TimerId EpollLoop::AddTimer(MonoTime when, std::function<void()> fn) {
  TimerId id = next_timer_id_++;
  timers_.emplace(TimerKey{when, id}, std::move(fn));
  timer_when_.emplace(id, when);
  return id;
}

void EpollLoop::CancelTimer(TimerId id) {
  auto it = timer_when_.find(id);
  if (it == timer_when_.end()) return;
  timers_.erase(TimerKey{it->second, id});
  timer_when_.erase(it);
}

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::Create() {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return Status::Error(Errno("epoll_create1"));
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    Status s = Status::Error(Errno("eventfd"));
    close(epoll_fd);
    return s;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Pack(wake_fd, 0);
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
    Status s = Status::Error(Errno("epoll_ctl(eventfd)"));
    close(wake_fd);
    close(epoll_fd);
    return s;
  }
  return std::unique_ptr<EventLoop>(std::make_unique<EpollLoop>(epoll_fd, wake_fd));
}

}  // namespace latchd
