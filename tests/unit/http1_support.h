// Helpers shared by the http1 unit tests (http1_test.cpp, http1_heads_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandboxd/edge/http1.h"

namespace sandboxd::http1::test {

using namespace std::string_literals;

// One input of a table of cases, with what it tries.
struct NamedInput {
  const char* what;
  std::string raw;
};

inline constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

inline RequestHead parse_ok(const std::string& raw) {
  RequestHead req;
  Verdict v = parse_request(raw, req);
  EXPECT_EQ(v.kind, Verdict::kOk) << raw << "\nreason: " << v.reason;
  EXPECT_EQ(v.head_len, raw.size()) << raw;
  return req;
}

inline ResponseHead parse_response_ok(const std::string& raw, std::string_view method = "GET") {
  ResponseHead resp;
  Verdict v = parse_response(raw, method, resp);
  EXPECT_EQ(v.kind, Verdict::kOk) << raw << "\nreason: " << v.reason;
  EXPECT_EQ(v.head_len, raw.size()) << raw;
  return resp;
}

inline std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A produced head split by hand (not by the parser under test): its first line and fields.
struct Lines {
  std::string start;
  std::vector<std::pair<std::string, std::string>> fields;

  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : fields) {
      if (iequals(n, name)) out.push_back(v);
    }
    return out;
  }
  bool has(std::string_view name) const { return !values(name).empty(); }
};

inline Lines split_head(const std::string& head) {
  Lines out;
  EXPECT_GE(head.size(), 4u);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << printable(head);
  std::size_t pos = head.find("\r\n");
  out.start = head.substr(0, pos);
  pos += 2;
  while (pos + 2 <= head.size() && head.compare(pos, 2, "\r\n") != 0) {
    std::size_t end = head.find("\r\n", pos);
    std::string line = head.substr(pos, end - pos);
    std::size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    out.fields.emplace_back(line.substr(0, colon), value);
    pos = end + 2;
  }
  return out;
}

inline bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// One Forwarded element (RFC 7239) as parameter -> value, quoted strings unquoted. Fails
// the test when a value that needs quoting is not quoted.
inline std::map<std::string, std::string> forwarded_pairs(std::string_view element) {
  std::map<std::string, std::string> out;
  while (!element.empty()) {
    std::size_t eq = element.find('=');
    if (eq == std::string_view::npos) {
      ADD_FAILURE() << "no '=' in " << element;
      break;
    }
    std::string name(element.substr(0, eq));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    element.remove_prefix(eq + 1);
    std::string value;
    if (!element.empty() && element.front() == '"') {
      std::size_t close = element.find('"', 1);
      if (close == std::string_view::npos) {
        ADD_FAILURE() << "unterminated quoted string";
        break;
      }
      value = std::string(element.substr(1, close - 1));
      element.remove_prefix(close + 1);
    } else {
      std::size_t end = std::min(element.find(';'), element.size());
      value = std::string(element.substr(0, end));
      element.remove_prefix(end);
      EXPECT_TRUE(std::all_of(value.begin(), value.end(), is_tchar))
          << name << "=" << value << " needs quoting";
    }
    out[name] = value;
    if (!element.empty() && element.front() == ';') element.remove_prefix(1);
  }
  return out;
}

inline std::vector<std::string> forwarded_elements(std::string_view value) {
  std::vector<std::string> out;
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size() && value[i] == '"') quoted = !quoted;
    if (i == value.size() || (value[i] == ',' && !quoted)) {
      std::string_view e = value.substr(start, i - start);
      while (!e.empty() && e.front() == ' ') e.remove_prefix(1);
      while (!e.empty() && e.back() == ' ') e.remove_suffix(1);
      out.emplace_back(e);
      start = i + 1;
    }
  }
  return out;
}

inline std::string upstream(const std::string& raw, Forwarding fwd = {"203.0.113.7", false}) {
  RequestHead req = parse_ok(raw);
  std::string out;
  append_upstream_head(req, fwd, out);
  return out;
}

}  // namespace sandboxd::http1::test
