// Redactor: hides secret values in what sandboxd stores, logs or answers (task events and
// results, exec output, the dev-server log tail, error messages). Pure; immutable once
// built, so one instance may be shared by threads. Values shorter than kMinSecretLength
// bytes are not secrets. In any one string, each hidden run becomes "***":
//   - every occurrence of a secret, raw or JSON-escaped;
//   - every run of at least half of a secret, so no one place shows half of one;
//   - a start of a secret (4+ bytes) that ends a word and an end of a secret (4+ bytes)
//     that starts a word: the pieces of a secret split across two strings or lines;
//   - a word of 8+ bytes that is part of a secret.
// Words are whitespace-delimited; quotes, brackets and sentence punctuation at their
// edges also count as edges. Cost: linear in the text per secret.
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
  // `text` with every secret hidden as described above.
  std::string text(std::string_view text) const;
  // One output line of an agent. A JSON line comes back as compact JSON (key order kept)
  // with every string value redacted as text() and every key as whole() plus the
  // half-a-secret rule; any other line as text().
  std::string agent_line(std::string_view line) const;
  // Only the whole secrets, raw and JSON-escaped.
  std::string whole(std::string_view text) const;
  // A JSON text that sandboxd stores, with whole() applied to every string and key and
  // written back compactly (still valid JSON); text that is not JSON as whole(). The
  // last check before an event is stored.
  std::string stored_json(std::string_view json) const;
  // The same code, its message redacted as text().
  Status status(const Status& status) const;

 private:
  struct Secret;
  std::vector<std::shared_ptr<const Secret>> secrets_;  // longest first
};

}  // namespace sandboxd
