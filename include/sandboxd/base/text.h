// Small string helpers shared by modules that read other programs' output.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

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

// `s` in ASCII lower case.
inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The pieces of `s` between each `sep`, as they are: n separators give n + 1 pieces, so
// "" gives {""} and "a,,b" gives {"a", "", "b"}.
inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (;;) {
    std::size_t at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// The comma-separated items of `s`, each trimmed; empty items are dropped.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  for (std::string& piece : split(s, ',')) {
    std::string item = trim(piece);
    if (!item.empty()) out.push_back(std::move(item));
  }
  return out;
}

// `s`, which a client chose, fit for a log line or an error message: bytes outside
// printable ASCII become \xNN (no forged lines, no terminal escapes), and it is cut to
// `max_len` bytes, marked with "...".
inline std::string printable(std::string_view s, std::size_t max_len = 512) {
  std::string out;
  for (char c : s.substr(0, max_len)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[u >> 4], kHex[u & 15]};
    } else {
      out += c;
    }
  }
  return s.size() > max_len ? out + "..." : out;
}

}  // namespace sandboxd
