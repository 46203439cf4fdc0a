#include "sandboxd/base/redactor.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace sandboxd {
namespace {

constexpr std::size_t kMinFragment = 4;  // the shortest piece hidden at a word's edge
constexpr std::size_t kMinRun = 12;      // the floor of the half rule
constexpr std::size_t kMinWord = 8;      // the shortest word hidden for being part of one
constexpr std::string_view kMask = "***";
constexpr std::string_view kOpeners = "\"'`([{<";
constexpr std::string_view kClosers = "\"'`)]}>.,;:!?";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The KMP failure function of p: for each prefix, its longest proper border.
std::vector<int> borders(std::string_view p) {
  std::vector<int> f(p.size(), 0);
  for (std::size_t i = 1, k = 0; i < p.size(); ++i) {
    while (k > 0 && p[i] != p[k]) k = f[k - 1];
    if (p[i] == p[k]) ++k;
    f[i] = static_cast<int>(k);
  }
  return f;
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
}

// `json` with every string replaced by strings(s), every key by keys(k) and every number
// whose text numbers(t) changes by that string, written back compactly with its key
// order; nullopt when it is not JSON.
template <class Strings, class Keys, class Numbers>
std::optional<std::string> rewrite_json(std::string_view json, Strings strings, Keys keys,
                                        Numbers numbers) {
  using nlohmann::ordered_json;
  ordered_json j = ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  // Iterative: a tenant's deeply nested line must not exhaust the stack.
  std::vector<ordered_json*> todo = {&j};
  while (!todo.empty()) {
    ordered_json* node = todo.back();
    todo.pop_back();
    if (node->is_string()) {
      *node = strings(node->get_ref<const std::string&>());
    } else if (node->is_object()) {
      bool renamed = false;
      for (auto it = node->begin(); it != node->end() && !renamed; ++it)
        renamed = keys(it.key()) != it.key();
      if (renamed) {
        ordered_json fresh = ordered_json::object();
        for (auto it = node->begin(); it != node->end(); ++it)
          fresh[keys(it.key())] = std::move(it.value());
        *node = std::move(fresh);
      }
      for (auto& v : *node) todo.push_back(&v);
    } else if (node->is_array()) {
      for (auto& v : *node) todo.push_back(&v);
    } else if (node->is_number()) {
      const std::string t = node->dump();
      if (std::string r = numbers(t); r != t) *node = std::move(r);
    }
  }
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

// One secret and the automata its rules run on.
struct Redactor::Secret {
  std::string value;
  std::string reversed;
  std::vector<std::string> forms;  // JSON-escaped spellings that differ from value
  std::vector<int> prefix_borders, suffix_borders;
  // Suffix automaton of value: every substring of it is a path from state 0. Its
  // transitions, flattened once built: from the root a table, from other states (which
  // have few) a short list.
  std::array<int, 256> from_root{};
  std::vector<std::vector<std::pair<unsigned char, int>>> from;
  std::vector<int> link, len;

  explicit Secret(std::string v) : value(std::move(v)), reversed(value.rbegin(), value.rend()) {
    using nlohmann::json;
    for (bool ascii : {false, true}) {
      std::string quoted = json(value).dump(-1, ' ', ascii, json::error_handler_t::replace);
      std::string form = quoted.substr(1, quoted.size() - 2);
      std::string slashed = form;
      replace_all(slashed, "/", "\\/");
      for (auto& f : {form, slashed})
        if (f != value && std::find(forms.begin(), forms.end(), f) == forms.end())
          forms.push_back(f);
    }
    prefix_borders = borders(value);
    suffix_borders = borders(reversed);
    build_automaton();
  }

  void build_automaton() {
    std::vector<std::map<unsigned char, int>> next(1);
    link.assign(1, -1);
    len.assign(1, 0);
    int last = 0;
    for (unsigned char c : value) {
      int cur = static_cast<int>(next.size());
      next.emplace_back();
      len.push_back(len[last] + 1);
      link.push_back(0);
      int p = last;
      while (p != -1 && !next[p].count(c)) {
        next[p][c] = cur;
        p = link[p];
      }
      if (p != -1) {
        int q = next[p][c];
        if (len[p] + 1 == len[q]) {
          link[cur] = q;
        } else {
          int clone = static_cast<int>(next.size());
          next.push_back(next[q]);
          len.push_back(len[p] + 1);
          link.push_back(link[q]);
          while (p != -1 && next[p].count(c) && next[p][c] == q) {
            next[p][c] = clone;
            p = link[p];
          }
          link[q] = link[cur] = clone;
        }
      }
      last = cur;
    }
    from_root.fill(-1);
    for (auto [c, to] : next[0]) from_root[c] = to;
    from.resize(next.size());
    for (std::size_t i = 1; i < next.size(); ++i) from[i].assign(next[i].begin(), next[i].end());
  }

  int step(int state, unsigned char c) const {
    if (state == 0) return from_root[c];
    for (auto [ch, to] : from[state])
      if (ch == c) return to;
    return -1;
  }

  // For each i: the length of the longest suffix of text[0..i] that is part of value.
  std::vector<int> part_lengths(std::string_view text) const {
    std::vector<int> out(text.size());
    int state = 0, l = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      unsigned char c = text[i];
      int to;
      while ((to = step(state, c)) < 0 && state != 0) {
        state = link[state];
        l = len[state];
      }
      if (to >= 0) {
        state = to;
        ++l;
      }
      out[i] = l;
    }
    return out;
  }

  // For each i: the length of the longest suffix of text[0..i] that starts p (KMP).
  static std::vector<int> matches(std::string_view text, std::string_view p,
                                  const std::vector<int>& f) {
    std::vector<int> out(text.size());
    std::size_t k = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      while (k > 0 && (k == p.size() || text[i] != p[k])) k = f[k - 1];
      if (text[i] == p[k]) ++k;
      out[i] = static_cast<int>(k);
    }
    return out;
  }

  // Marks in `hide` (a difference array over text) what the agent-output rules hide;
  // with `words` false only whole secrets and the half rule.
  void mark(std::string_view text, std::vector<int>& hide, bool words) const {
    const std::size_t n = text.size();
    auto cover = [&](std::size_t begin, std::size_t end) {
      ++hide[begin];
      --hide[end];
    };
    const auto part = part_lengths(text);
    // The whole value is a run too when it is shorter than the floor.
    const std::size_t run = std::min(value.size(), std::max((value.size() + 1) / 2, kMinRun));
    for (std::size_t i = 0; i < n; ++i)
      if (static_cast<std::size_t>(part[i]) >= run) cover(i + 1 - part[i], i + 1);
    if (!words) return;
    const auto starts = matches(text, value, prefix_borders);
    // ends_at(i): the longest piece of text from i on that ends value (KMP read backwards).
    std::string back(text.rbegin(), text.rend());
    const auto back_matches = matches(back, reversed, suffix_borders);
    auto ends_at = [&](std::size_t i) { return static_cast<std::size_t>(back_matches[n - 1 - i]); };
    for (std::size_t a = 0; a < n;) {
      while (a < n && is_space(text[a])) ++a;
      std::size_t b = a;
      while (b < n && !is_space(text[b])) ++b;
      if (a == b) break;
      std::size_t a2 = a, b2 = b;
      while (a2 < b && kOpeners.find(text[a2]) != std::string_view::npos) ++a2;
      while (b2 > a2 && kClosers.find(text[b2 - 1]) != std::string_view::npos) --b2;
      for (std::size_t end : {b, b2}) {
        std::size_t k = end > a ? static_cast<std::size_t>(starts[end - 1]) : 0;
        if (k >= kMinFragment) cover(end - k, end);
      }
      for (std::size_t start : {a, a2}) {
        std::size_t k = start < b ? ends_at(start) : 0;
        if (k >= kMinFragment) cover(start, start + k);
        for (std::size_t end : {b, b2}) {
          if (end >= start + kMinWord && static_cast<std::size_t>(part[end - 1]) >= end - start)
            cover(start, end);
        }
      }
      a = b;
    }
  }

  // text with what mark() finds replaced by kMask (adjacent runs merged).
  std::string redact(std::string_view text, bool words) const {
    std::string s(text);
    for (const auto& f : forms) replace_all(s, f, kMask);
    if (s.size() < kMinFragment) return s;
    std::vector<int> hide(s.size() + 1, 0);
    mark(s, hide, words);
    std::string out;
    out.reserve(s.size());
    int depth = 0;
    bool in_mask = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      depth += hide[i];
      if (depth > 0) {
        if (!in_mask) out += kMask;
        in_mask = true;
      } else {
        out += s[i];
        in_mask = false;
      }
    }
    return out;
  }
};

Redactor::Redactor(const std::vector<std::string>& values) {
  std::vector<std::string> sorted;
  for (const auto& v : values)
    if (v.size() >= kMinSecretLength) sorted.push_back(v);
  // Longest first; equal values end up adjacent, so unique drops the repeats.
  std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (auto& v : sorted) secrets_.push_back(std::make_shared<const Secret>(std::move(v)));
}

std::vector<std::string> Redactor::values_of(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env)
    if (v.size() >= kMinSecretLength) out.push_back(v);
  return out;
}

std::string Redactor::agent_text(std::string_view text) const {
  std::string s(text);
  for (const auto& secret : secrets_) s = secret->redact(s, /*words=*/true);
  return s;
}

std::string Redactor::whole(std::string_view text) const {
  std::string s(text);
  for (const auto& secret : secrets_) {
    replace_all(s, secret->value, kMask);
    for (const auto& f : secret->forms) replace_all(s, f, kMask);
  }
  return s;
}

Status Redactor::status(const Status& status) const {
  if (status.is_ok() || empty()) return status;
  return Status(status.code(), whole(status.message()));
}

std::string Redactor::agent_line(std::string_view line) const {
  if (empty()) return std::string(line);
  auto key = [&](const std::string& k) {
    std::string s = k;
    for (const auto& secret : secrets_) s = secret->redact(s, /*words=*/false);
    return s;
  };
  auto hide = [&](const std::string& s) { return whole(s); };
  auto out = rewrite_json(
      line, [&](const std::string& s) { return agent_text(s); }, key, hide);
  return out ? std::move(*out) : agent_text(line);
}

std::string Redactor::stored_json(std::string_view json) const {
  if (empty()) return std::string(json);
  auto hide = [&](const std::string& s) { return whole(s); };
  auto out = rewrite_json(json, hide, hide, hide);
  return out ? std::move(*out) : whole(json);
}

std::string StreamRedactor::feed(std::string_view piece) {
  if (values_.empty()) return std::string(piece);
  // Whole secrets in held + piece are hidden first; of what is left, the longest end that
  // is a proper start of a secret is held back (a longer one would be a whole secret).
  std::string text = redactor_.whole(held_ + std::string(piece));
  std::size_t hold = 0;
  for (const auto& v : values_) {
    if (v.size() < kMinSecretLength) continue;
    for (std::size_t k = std::min(v.size() - 1, text.size()); k > hold; --k) {
      if (text.compare(text.size() - k, k, v, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  held_ = text.substr(text.size() - hold);
  text.resize(text.size() - hold);
  return text;
}

std::string StreamRedactor::finish() { return std::exchange(held_, std::string()); }

}  // namespace sandboxd
