#include "sandboxd/edge/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sandboxd {

EventLoop::EventLoop() = default;

EventLoop::~EventLoop() {
  for (Watcher* w : retired_) delete w;
  if (eventfd_ >= 0) ::close(eventfd_);
  if (epfd_ >= 0) ::close(epfd_);
}

Status EventLoop::init() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0)
    return Status(Code::kUnavailable, std::string("epoll_create1: ") + std::strerror(errno));
  eventfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventfd_ < 0)
    return Status(Code::kUnavailable, std::string("eventfd: ") + std::strerror(errno));
  return add(eventfd_, EPOLLIN, &wakeup_);
}

Status EventLoop::add(int fd, uint32_t events, Watcher* w) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = w;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    return Status(Code::kUnavailable, std::string("epoll_ctl: ") + std::strerror(errno));
  return {};
}

void EventLoop::remove(int fd) { ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::retire(Watcher* w) {
  if (w->retired) return;
  w->retired = true;
  retired_.push_back(w);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    posts_.push_back(std::move(fn));
    if (posts_.size() > 1) return;  // an earlier post already woke the loop
  }
  uint64_t one = 1;
  (void)!::write(eventfd_, &one, sizeof one);
}

void EventLoop::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  timers_.push(Timer{Clock::now() + delay, ++timer_seq_, std::move(fn)});
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  uint64_t one = 1;
  (void)!::write(eventfd_, &one, sizeof one);
}

void EventLoop::drain_posts() {
  uint64_t count;
  (void)!::read(eventfd_, &count, sizeof count);
  std::vector<std::function<void()>> posts;
  {
    std::lock_guard lock(mu_);
    posts.swap(posts_);
  }
  for (auto& fn : posts) fn();
}

void EventLoop::run(std::chrono::milliseconds tick_every, const std::function<void()>& tick) {
  constexpr int kBatch = 256;
  epoll_event events[kBatch];
  auto next_tick = Clock::now() + tick_every;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
    }
    auto now = Clock::now();
    auto wake_at = next_tick;
    if (!timers_.empty()) wake_at = std::min(wake_at, timers_.top().at);
    auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(wake_at - now).count();
    int n = ::epoll_wait(epfd_, events, kBatch, static_cast<int>(std::max<int64_t>(wait_ms, 0)));
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      auto* w = static_cast<Watcher*>(events[i].data.ptr);
      if (w == &wakeup_) {
        drain_posts();
      } else if (!w->retired) {
        w->on_io(events[i].events);
      }
    }
    now = Clock::now();
    while (!timers_.empty() && timers_.top().at <= now) {
      auto fn = std::move(const_cast<Timer&>(timers_.top()).fn);
      timers_.pop();
      fn();
    }
    if (now >= next_tick) {
      tick();
      next_tick = now + tick_every;
    }
    reap();
  }
}

void EventLoop::reap() {
  for (Watcher* w : retired_) delete w;
  retired_.clear();
}

}  // namespace sandboxd
