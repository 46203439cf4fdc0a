#include "sandboxd/auth/auth.h"

#include <cctype>

namespace sandboxd {

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Fold the length difference into the result and always walk the longer input.
  std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

Authenticator::Authenticator(bool disabled, std::vector<ApiToken> tokens)
    : disabled_(disabled), tokens_(std::move(tokens)) {}

std::optional<std::string> Authenticator::authenticate(const std::string& authorization) const {
  static constexpr char kPrefix[] = "bearer ";
  if (authorization.size() <= sizeof(kPrefix) - 1) return std::nullopt;
  for (std::size_t i = 0; i < sizeof(kPrefix) - 1; ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kPrefix[i])
      return std::nullopt;
  }
  std::string presented = authorization.substr(sizeof(kPrefix) - 1);
  while (!presented.empty() && presented.front() == ' ') presented.erase(0, 1);
  while (!presented.empty() && presented.back() == ' ') presented.pop_back();
  std::optional<std::string> actor;
  for (const auto& t : tokens_) {
    if (constant_time_equal(presented, t.secret) && !actor) actor = t.name;
  }
  return actor;
}

}  // namespace sandboxd
