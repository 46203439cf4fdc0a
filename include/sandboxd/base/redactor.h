// Redactor: hides secret values in what sandboxd stores, logs or answers. Pure; immutable
// once built, so one instance may be shared by threads. Values shorter than
// kMinSecretLength bytes are not secrets. Each hidden run becomes "***". Two strengths:
//   - whole values: every occurrence of a secret, raw or JSON-escaped. For what sandboxd
//     passes on as it came (exec output, the dev-server log, paths, error messages), where
//     an env value that is a common word ("production") must not eat other words.
//   - agent output, which may show a secret in pieces: the whole values, and
//       - every run of at least max(half of a secret, 12 bytes): no one place shows half
//         of a long secret, and a short word-like value does not hide the words that
//         share a few bytes with it ("function" for "production");
//       - a start of a secret (4+ bytes) that ends a word and an end of a secret (4+ bytes)
//         that starts a word: the pieces of a secret split across two strings or lines
//         (so, for a word-like value, also words that start or end like it: "product");
//       - a word of 8+ bytes that is part of a secret.
//     Words are whitespace-delimited; quotes, brackets and sentence punctuation at their
//     edges also count as edges.
// In JSON, a number whose text holds a whole secret becomes a string ("***" for an
// all-digit secret printed as a number). Cost: linear in the text per secret.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

inline constexpr std::size_t kMinSecretLength = 8;

class Redactor {
 public:
  Redactor() = default;  // hides nothing
  explicit Redactor(const std::vector<std::string>& values);

  // The values of `env` that are secrets (kMinSecretLength bytes or more).
  static std::vector<std::string> values_of(const std::map<std::string, std::string>& env);

  bool empty() const { return secrets_.empty(); }
  // `text` with the whole secrets hidden, raw and JSON-escaped.
  std::string whole(std::string_view text) const;
  // One output line of an agent. A JSON line comes back as compact JSON (key order kept)
  // with every string value redacted by the agent-output rules, every key by the whole
  // values and the half rule, and every number as above; any other line as agent output.
  std::string agent_line(std::string_view line) const;
  // A JSON text that sandboxd stores, with whole() applied to every string, key and
  // number and written back compactly (still valid JSON); text that is not JSON as
  // whole(). The last check before an event is stored.
  std::string stored_json(std::string_view json) const;
  // The same code, its message redacted as whole().
  Status status(const Status& status) const;

 private:
  struct Secret;
  // `text` redacted by the agent-output rules.
  std::string agent_text(std::string_view text) const;
  std::vector<std::shared_ptr<const Secret>> secrets_;  // longest first
};

// Redactor::whole for text that comes in pieces (a streamed command's output): a secret
// split across two pieces is still hidden. feed() returns what is safe to pass on now and
// holds back only the longest end of the text so far that could start a secret;
// finish() returns what is held. Not thread-safe; one per stream.
class StreamRedactor {
 public:
  explicit StreamRedactor(std::vector<std::string> values)
      : redactor_(values), values_(std::move(values)) {}
  std::string feed(std::string_view piece);
  std::string finish();

 private:
  Redactor redactor_;
  std::vector<std::string> values_;  // the secrets (kMinSecretLength bytes or more)
  std::string held_;
};

}  // namespace sandboxd
