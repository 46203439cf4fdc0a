// Sandbox ids: validation, normalisation and generation. Ids are case-insensitive,
// stored and shown in lower case, [a-z0-9]{1,32}. Generated ids are lower-case ULIDs.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sandboxd/base/status.h"

namespace sandboxd {

inline constexpr std::size_t kMaxIdLength = 32;

// The lower-cased id when `raw` is 1..32 ASCII letters or digits; kInvalidArgument otherwise.
Result<std::string> normalize_id(std::string_view raw);

// A new ULID (26 chars, Crockford base32, lower case) for time `unix_ms`.
std::string new_ulid(int64_t unix_ms);

// `n` random bytes as lower-case hex (from the kernel's CSPRNG).
std::string random_hex(std::size_t n);

}  // namespace sandboxd
