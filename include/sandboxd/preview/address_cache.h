// AddressCache: sandbox id -> its address on the sandbox network, learnt when the wake
// path brings a sandbox up, so previews of a running sandbox need no runtime call.
// An entry must go when its sandbox leaves `running` (also on the runtime's die events,
// via converge), and the whole cache goes whenever any container starts: the network
// reuses freed addresses, and a container that died unnoticed must not leave its address
// pointing at whichever sandbox got it next. Thread-safe.
#pragma once

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

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> addresses_;
};

}  // namespace sandboxd
