// SecretBox: seals small secrets with AES-256-GCM (OpenSSL) under a 32-byte key kept in
// a file of its own (mode 0600), so a sealed value is useless without that file. Used to
// keep a running task's env values across a restart for redaction without storing them
// in clear text. Immutable after open(), so thread-safe.
#pragma once

#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

class SecretBox {
 public:
  // Loads the key at `path`. With `create`, a missing key is made first (32 random bytes
  // written to a 0600 temporary file, then linked into place, so concurrent creators end
  // up with one key). kNotFound when it is missing and not created; kInternal when it is
  // not a regular 32-byte file, is open to group or others or owned by another user (a
  // key someone else could have read or planted), or cannot be read or written. Blocks
  // for a few file calls.
  static Result<SecretBox> open(const std::string& path, bool create);
  // Copies hold the key too; each wipes its own when destroyed.
  SecretBox(const SecretBox&) = default;
  SecretBox& operator=(const SecretBox&) = default;
  ~SecretBox();

  // `plain` sealed and bound to `context` (which unseal must be given again): "v1:" and
  // the hex of a fresh random nonce, the ciphertext and the tag. kInternal if OpenSSL fails.
  Result<std::string> seal(std::string_view plain, std::string_view context) const;
  // The plain text; kInvalidArgument when `sealed` is malformed, was changed, or was
  // sealed under another key or context.
  Result<std::string> unseal(std::string_view sealed, std::string_view context) const;

 private:
  SecretBox() = default;
  std::array<unsigned char, 32> key_{};
};

// Secret values (an env's, to redact them) kept sealed under the key file `key_path`
// (made on the first seal), so a restarted sandboxd still redacts what outlives it: a
// task's or a background process's output. Thread-safe.
class ValueSealer {
 public:
  explicit ValueSealer(std::string key_path) : key_path_(std::move(key_path)) {}
  // `values` (none holds NUL) sealed and bound to `context`; "" for none.
  Result<std::string> seal(const std::vector<std::string>& values, std::string_view context);
  // What seal() was given; none for "".
  Result<std::vector<std::string>> unseal(const std::string& sealed, std::string_view context);

 private:
  Result<const SecretBox*> box(bool create);
  const std::string key_path_;
  std::mutex mu_;
  std::optional<SecretBox> box_;  // set once, never reset
};

}  // namespace sandboxd
