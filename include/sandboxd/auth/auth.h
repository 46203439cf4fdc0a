// API authentication: bearer tokens compared in constant time. Immutable after
// construction, so thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sandboxd/config/config.h"

namespace sandboxd {

// Equal-length-independent comparison whose time does not depend on where a and b differ.
bool constant_time_equal(const std::string& a, const std::string& b);

class Authenticator {
 public:
  Authenticator(bool disabled, std::vector<ApiToken> tokens);
  bool disabled() const { return disabled_; }
  // The actor (token name) for an Authorization header value, or nullopt when it does
  // not carry a configured bearer token. Every token is compared; none short-circuits.
  std::optional<std::string> authenticate(const std::string& authorization) const;

 private:
  bool disabled_;
  std::vector<ApiToken> tokens_;
};

}  // namespace sandboxd
