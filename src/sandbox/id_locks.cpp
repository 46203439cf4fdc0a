#include "sandboxd/sandbox/id_locks.h"

namespace sandboxd {

void IdLocks::acquire(const std::string& id) {
  std::unique_lock lock(mu_);
  Entry& e = entries_[id];
  ++e.waiters;
  cv_.wait(lock, [&] { return !entries_[id].held; });
  Entry& held = entries_[id];
  --held.waiters;
  held.held = true;
}

void IdLocks::release(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second.held = false;
    if (it->second.waiters == 0) entries_.erase(it);
  }
  cv_.notify_all();
}

std::size_t IdLocks::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

int IdLocks::waiting(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? 0 : it->second.waiters;
}

}  // namespace sandboxd
