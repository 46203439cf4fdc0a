#include "sandboxd/api/query_params.h"

#include "sandboxd/base/text.h"

namespace sandboxd {
namespace {

Status bad(const std::string& name, const std::string& bounds, const std::string& value) {
  return Status(Code::kInvalidArgument,
                name + ": must be " + bounds + " (got '" + printable(value, 32) + "')");
}

}  // namespace

Result<int64_t> parse_int_param(const std::string& name, const std::string& value, int64_t min,
                                int64_t max) {
  const std::string bounds = "an integer in " + std::to_string(min) + ".." + std::to_string(max);
  bool digits = !value.empty() && value.size() <= 18 &&
                value.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return bad(name, bounds, value);
  int64_t n = std::stoll(value);
  if (n < min || n > max) return bad(name, bounds, value);
  return n;
}

Result<bool> parse_bool_param(const std::string& name, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return bad(name, "true or false", value);
}

Result<std::string> parse_choice_param(const std::string& name, const std::string& value,
                                       const std::vector<std::string>& choices) {
  std::string list;
  for (const auto& c : choices) {
    if (value == c) return value;
    list += (list.empty() ? "" : ", ") + c;
  }
  return bad(name, "one of " + list, value);
}

std::string QueryParams::text(const std::string& name) const {
  auto it = params_.equal_range(name).first;
  return it == params_.end() || it->first != name ? std::string() : it->second;
}

Result<int64_t> QueryParams::integer(const std::string& name, int64_t min, int64_t max,
                                     int64_t fallback) const {
  if (!has(name)) return fallback;
  return parse_int_param(name, text(name), min, max);
}

Result<bool> QueryParams::boolean(const std::string& name, bool fallback) const {
  if (!has(name) || text(name).empty()) return fallback;
  return parse_bool_param(name, text(name));
}

Result<std::string> QueryParams::choice(const std::string& name,
                                        const std::vector<std::string>& choices,
                                        const std::string& fallback) const {
  if (!has(name)) return fallback;
  return parse_choice_param(name, text(name), choices);
}

}  // namespace sandboxd
