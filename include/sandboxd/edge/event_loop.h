// EventLoop: one epoll instance driven by one thread (the edge runs one per core). File
// descriptors are watched edge-triggered by a Watcher; other threads hand work to the
// loop with post(); timers run on the loop thread. A Watcher closed during a batch of
// events is retired, not deleted, so a later event of the same batch finds it marked
// and skips it; retired watchers are deleted after the batch.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;

  struct Watcher {
    virtual ~Watcher() = default;
    // `events` are epoll's bits (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
    virtual void on_io(uint32_t events) = 0;
    bool retired = false;
  };

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  Status init();

  // Watches `fd` for `events` (EPOLLET is added) on behalf of `w`. Loop thread only.
  Status add(int fd, uint32_t events, Watcher* w);
  // Stops watching `fd` (before it is closed). Loop thread only.
  void remove(int fd);
  // Marks `w` retired and deletes it after the current batch of events. Loop thread only.
  void retire(Watcher* w);

  // Runs `fn` on the loop thread soon. Any thread; dropped once the loop has stopped.
  void post(std::function<void()> fn);
  // Runs `fn` on the loop thread after `delay` (no cancel: check your state). Loop thread.
  void after(std::chrono::milliseconds delay, std::function<void()> fn);

  // Runs until stop(); `tick` runs every `tick_every` on the loop thread.
  void run(std::chrono::milliseconds tick_every, const std::function<void()>& tick);
  // Deletes what was retired since the last batch (after run() returned: what the
  // owner retired while closing down, while what those watchers use still exists).
  void reap();
  // Any thread: run() returns after its current batch.
  void stop();

 private:
  struct Timer {
    Clock::time_point at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct Wakeup : Watcher {
    void on_io(uint32_t) override {}
  };
  void drain_posts();

  int epfd_ = -1;
  int eventfd_ = -1;
  Wakeup wakeup_;
  std::mutex mu_;
  std::vector<std::function<void()>> posts_;  // guarded by mu_
  bool stopped_ = false;                      // guarded by mu_
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  uint64_t timer_seq_ = 0;
  std::vector<Watcher*> retired_;
};

}  // namespace sandboxd
