// StoppableThread: a thread with a stop request, for loops that sleep between rounds
// (timers, watchers). The body sleeps with wait_for(), which returns early once stop()
// is called; stop() and the destructor wake it and join it. wait_for() and stopping()
// may be called from any thread; start() and stop() by the owner, never by the body.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sandboxd {

class StoppableThread {
 public:
  StoppableThread() = default;
  ~StoppableThread() { stop(); }
  StoppableThread(const StoppableThread&) = delete;
  StoppableThread& operator=(const StoppableThread&) = delete;

  // Runs `body` on a new thread. Call at most once.
  void start(std::function<void()> body) { thread_ = std::thread(std::move(body)); }
  // Waits up to `timeout`; true (at once, if already) when a stop was requested.
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return stopping_; });
  }
  // True once a stop was requested.
  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }
  // Requests the stop, wakes wait_for() and joins the body (a round in progress finishes
  // first). Idempotent; fine before start().
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sandboxd
