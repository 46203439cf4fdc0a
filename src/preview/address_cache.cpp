#include "sandboxd/preview/address_cache.h"

namespace sandboxd {

std::optional<std::string> AddressCache::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = addresses_.find(id);
  if (it == addresses_.end()) return std::nullopt;
  return it->second;
}

void AddressCache::put(const std::string& id, const std::string& address) {
  std::lock_guard lock(mu_);
  addresses_[id] = address;
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void AddressCache::forget(const std::string& id) {
  std::lock_guard lock(mu_);
  addresses_.erase(id);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void AddressCache::clear() {
  std::lock_guard lock(mu_);
  addresses_.clear();
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace sandboxd
