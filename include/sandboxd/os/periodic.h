// Periodic: runs a function on its own thread every `interval` until stopped. The first
// run happens one interval after start(), or at once when start(/*run_first_now=*/true).
// stop() wakes the thread and joins it; a run in progress finishes first. Not copyable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace sandboxd {

class Periodic {
 public:
  Periodic(std::string name, std::chrono::milliseconds interval, std::function<void()> fn)
      : name_(std::move(name)), interval_(interval), fn_(std::move(fn)) {}
  ~Periodic() { stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void start(bool run_first_now = false) {
    thread_ = std::thread([this, due = run_first_now]() mutable {
      std::unique_lock lock(mu_);
      while (!stopping_) {
        if (!due && cv_.wait_for(lock, interval_, [this] { return stopping_; })) break;
        due = false;
        lock.unlock();
        fn_();
        lock.lock();
      }
    });
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::chrono::milliseconds interval_;
  std::function<void()> fn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sandboxd
