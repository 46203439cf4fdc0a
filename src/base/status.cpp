#include "sandboxd/base/status.h"

namespace sandboxd {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid_request";
    case Code::kNotFound: return "not_found";
    case Code::kConflict: return "conflict";
    case Code::kTooLarge: return "too_large";
    case Code::kUnauthorized: return "unauthorized";
    case Code::kForbidden: return "forbidden";
    case Code::kUnsupportedMediaType: return "unsupported_media_type";
    case Code::kUnavailable: return "unavailable";
    case Code::kCapacity: return "capacity";
    case Code::kTimeout: return "timeout";
    case Code::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace sandboxd
