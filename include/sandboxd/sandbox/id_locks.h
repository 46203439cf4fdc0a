// IdLocks: one mutex per sandbox id, so operations on one id run one at a time while
// different ids run in parallel. Entries exist only while someone holds or waits for
// them, so the map does not grow with every id ever seen. Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sandboxd {

class IdLocks {
 public:
  class Guard {
   public:
    Guard(IdLocks& locks, std::string id) : locks_(locks), id_(std::move(id)) {
      locks_.acquire(id_);
    }
    ~Guard() { locks_.release(id_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    IdLocks& locks_;
    std::string id_;
  };

  // Blocks until no other Guard holds `id`.
  Guard lock(const std::string& id) { return Guard(*this, id); }
  // Number of ids currently held or waited for.
  std::size_t size();
  // Number of callers blocked waiting for `id` (for tests that prove an exclusion).
  int waiting(const std::string& id);

 private:
  struct Entry {
    bool held = false;
    int waiters = 0;
  };
  void acquire(const std::string& id);
  void release(const std::string& id);

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace sandboxd
