// BusyTracker: which sandboxes have work in progress (an exec, an agent task). The
// reapers never stop a busy sandbox (except in the memory emergency band). A Hold
// counts as busy for its lifetime; holds on one id add up. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace sandboxd {

class BusyTracker {
 public:
  // Busy while it lives; movable, so a task can keep its hold until it ends.
  class Hold {
   public:
    Hold() = default;
    Hold(BusyTracker& tracker, std::string id);
    Hold(Hold&& other) noexcept;
    Hold& operator=(Hold&& other) noexcept;
    ~Hold() { release(); }
    // Ends the hold early (idempotent).
    void release();

   private:
    BusyTracker* tracker_ = nullptr;
    std::string id_;
  };

  Hold hold(const std::string& id) { return Hold(*this, id); }
  bool is_busy(const std::string& id) const;
  std::set<std::string> ids() const;

 private:
  void add(const std::string& id);
  void remove(const std::string& id);

  mutable std::mutex mu_;
  std::map<std::string, int> holds_;  // id -> live holds (never 0)
};

}  // namespace sandboxd
