// Query parameters (and the Last-Event-ID header) of API routes, parsed one way. An
// absent parameter gives the route's default; a present one, even empty, that does not
// parse is kInvalidArgument "<name>: must be <bounds> (got '<value>')". Pure; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

// A decimal integer in min..max: digits only (no sign, no spaces), at most 18 of them.
Result<int64_t> parse_int_param(const std::string& name, const std::string& value, int64_t min,
                                int64_t max);
// "true" or "1", "false" or "0".
Result<bool> parse_bool_param(const std::string& name, const std::string& value);
// Exactly one of `choices`.
Result<std::string> parse_choice_param(const std::string& name, const std::string& value,
                                       const std::vector<std::string>& choices);

// A request's query parameters (cpp-httplib's Params, borrowed); the first value of a
// repeated parameter counts.
class QueryParams {
 public:
  explicit QueryParams(const std::multimap<std::string, std::string>& params) : params_(params) {}

  bool has(const std::string& name) const { return params_.count(name) > 0; }
  // The value as given, or "" when absent.
  std::string text(const std::string& name) const;
  Result<int64_t> integer(const std::string& name, int64_t min, int64_t max,
                          int64_t fallback) const;
  // Absent or empty: `fallback`.
  Result<bool> boolean(const std::string& name, bool fallback) const;
  Result<std::string> choice(const std::string& name, const std::vector<std::string>& choices,
                             const std::string& fallback) const;

 private:
  const std::multimap<std::string, std::string>& params_;
};

}  // namespace sandboxd
