// The server-sent events of a streamed exec (POST .../exec with Accept:
// text/event-stream): `stdout` and `stderr` events ({"data": text}) as the command
// writes, then one `exit` event ({"exit_code","timed_out","duration_ms"}), or an `error`
// event ({"error":{"code","message"}}) if the engine failed mid-way. A keepalive comment
// goes out every second while the command is quiet: a write is how a closed connection
// is noticed, and a client that went away ends the command. No event ids: an exec cannot
// be resumed.
#pragma once

#include <httplib.h>

#include <memory>
#include <string_view>

#include "sandboxd/sandbox/exec_stream.h"

namespace sandboxd {

// Answers 200 with the stream of `stream`, which ends when the command does, when the
// client goes away, or when `stop_fd` (an eventfd) becomes readable (the server stops).
// The stream is destroyed on the connection's thread once the response ends.
void serve_exec_stream(std::unique_ptr<ExecStream> stream, int stop_fd, httplib::Response& res);

// How much of `s` ends on a whole UTF-8 character: an incomplete sequence at its end
// (at most 3 bytes) is left for the next piece. Invalid bytes count as whole.
std::size_t utf8_whole_prefix(std::string_view s);

}  // namespace sandboxd
