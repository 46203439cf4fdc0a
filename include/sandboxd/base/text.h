// Small string helpers shared by modules that read other programs' output.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>

namespace sandboxd {

// `s` without leading and trailing whitespace.
inline std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// The first line of `s`, cut to `max_len` bytes: a child's error output, fit for a message.
inline std::string first_line(const std::string& s, std::size_t max_len = 300) {
  std::string t = s.substr(0, s.find('\n'));
  if (t.size() > max_len) t.resize(max_len);
  return t;
}

}  // namespace sandboxd
