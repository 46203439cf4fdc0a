// The one mapping between Status codes and HTTP statuses, used by the REST API and the
// preview edge alike. Pure functions; thread-safe.
#pragma once

#include "sandboxd/base/status.h"

namespace sandboxd {

// The HTTP status for a code: InvalidArgument 400, Unauthorized 401, Forbidden 403,
// NotFound 404, Conflict 409, TooLarge 413, UnsupportedMediaType 415, Unavailable 503,
// Timeout 504, Internal 500 (Ok 200).
int http_status(Code code);

// The code an HTTP status stands for, for the server's own error replies (no route, a
// body over the payload limit): 405 reads as NotFound, other 4xx as InvalidArgument,
// other 5xx as Internal.
Code code_for_http(int status);

// The preview edge's status for a code. Its callers (a browser, an app's client waiting
// on a wake) only learn "no such preview" (404), "bad request" (400) or "try again" (503
// with Retry-After): every other code is answered as Unavailable.
int edge_http_status(Code code);

}  // namespace sandboxd
