// AddressCache: sandbox id -> its address on the sandbox network, learnt when the wake
// path brings a sandbox up, so previews of a running sandbox need no runtime call.
// An entry must go when its sandbox leaves `running` (also on the runtime's die events,
// via converge), and the whole cache goes whenever any container starts: the network
// reuses freed addresses, and a container that died unnoticed must not leave its address
// pointing at whichever sandbox got it next. Every change bumps generation(), so a copy
// of an answer (the edge's per-thread routes) is valid while the generation it was read
// under is still current. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace sandboxd {

class AddressCache {
 public:
  std::optional<std::string> get(const std::string& id) const;
  void put(const std::string& id, const std::string& address);
  void forget(const std::string& id);
  void clear();
  // Changes so far; read it before the lookup whose answer is kept.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::atomic<uint64_t> generation_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::string> addresses_;
};

}  // namespace sandboxd
