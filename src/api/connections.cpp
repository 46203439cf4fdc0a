#include "api/connections.h"

#include <spdlog/spdlog.h>

#include <system_error>
#include <thread>

namespace sandboxd {

void ConnectionThreads::enqueue(std::function<void()> fn) {
  std::unique_lock lock(mu_);
  queue_.push_back(std::move(fn));
  if (running_ >= max_) return;
  try {
    std::thread([this] { work(); }).detach();
    ++running_;
    return;
  } catch (const std::system_error& e) {
    spdlog::warn("api: cannot start a connection thread: {}", e.what());
  }
  if (running_ > 0) return;  // a running worker takes it
  auto next = std::move(queue_.back());
  queue_.pop_back();
  ++running_;
  lock.unlock();
  next();
  lock.lock();
  if (--running_ == 0) idle_.notify_all();
}

void ConnectionThreads::shutdown() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return running_ == 0; });
}

void ConnectionThreads::work() {
  std::unique_lock lock(mu_);
  while (!queue_.empty()) {
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();
    lock.lock();
  }
  if (--running_ == 0) idle_.notify_all();
}

}  // namespace sandboxd
