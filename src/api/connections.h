// ConnectionThreads: cpp-httplib's task queue for the API. Each connection is served on
// a thread of its own, made on demand, up to `max` at once (beyond that, connections wait
// in order): an open event stream or a long exec holds a thread, never a slot others
// need while threads are available. Idle threads exit. Thread-safe.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace sandboxd {

class ConnectionThreads final : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(std::size_t max) : max_(max) {}
  // Queues `fn` and starts a thread for it when fewer than `max` run. If no thread can
  // be started and none runs, serves it on the caller's thread rather than strand it.
  void enqueue(std::function<void()> fn) override;
  // Blocks until every queued connection has been served and every thread has exited.
  void shutdown() override;

 private:
  void work();

  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable idle_;             // notified when running_ drops to 0
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::size_t running_ = 0;                  // guarded by mu_
};

}  // namespace sandboxd
