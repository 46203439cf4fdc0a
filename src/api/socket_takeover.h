// Taking over the TCP connection of a request httplib is serving, for protocols httplib
// does not speak (the terminal's WebSocket). httplib hides the socket, so it is found by
// its 4-tuple among this process's descriptors. Thread-safe; call it on the request's
// connection thread, while the handler runs.
#pragma once

#include <httplib.h>

#include "sandboxd/base/status.h"
#include "sandboxd/os/fd.h"

namespace sandboxd {

// A duplicate (close-on-exec) of the socket that carries `req`: the one whose local and
// peer addresses and ports are the request's, checked again on the duplicate, so a
// descriptor closed and reused meanwhile is never taken. kInternal when there is none.
// The caller owns the duplicate; httplib keeps its own descriptor and closes it when the
// handler returns, so a handler that speaks another protocol on the duplicate should
// shutdown() it before returning (httplib's response then fails and goes nowhere). Bytes
// the client sent after the request head may already sit in httplib's buffer and are
// lost. Costs a few system calls per open descriptor.
Result<Fd> take_request_socket(const httplib::Request& req);

}  // namespace sandboxd
