// How file content travels in JSON: as UTF-8 text when it is valid UTF-8, else as
// base64. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "sandboxd/base/status.h"

namespace sandboxd {

// Standard base64 (RFC 4648, padded) both ways; decoding refuses anything else
// (kInvalidArgument, "content: ...").
std::string base64_encode(std::string_view in);
Result<std::string> base64_decode(std::string_view in);
// True when `s` is well-formed UTF-8: no overlong forms, surrogates or code points past
// U+10FFFF.
bool is_valid_utf8(std::string_view s);

}  // namespace sandboxd
