#include "sandboxd/api/http_status.h"

namespace sandboxd {

int http_status(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kUnsupportedMediaType: return 415;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kTooLarge: return 413;
    case Code::kUnavailable: return 503;
    case Code::kCapacity: return 429;
    case Code::kTimeout: return 504;
    case Code::kInternal: return 500;
  }
  return 500;
}

Code code_for_http(int status) {
  switch (status) {
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthorized;
    case 403: return Code::kForbidden;
    case 404:
    case 405: return Code::kNotFound;
    case 409: return Code::kConflict;
    case 413: return Code::kTooLarge;
    case 415: return Code::kUnsupportedMediaType;
    case 429: return Code::kCapacity;
    case 503: return Code::kUnavailable;
    case 504: return Code::kTimeout;
    default: return status >= 500 ? Code::kInternal : Code::kInvalidArgument;
  }
}

int edge_http_status(Code code) {
  bool told = code == Code::kNotFound || code == Code::kInvalidArgument;
  return http_status(told ? code : Code::kUnavailable);
}

}  // namespace sandboxd
