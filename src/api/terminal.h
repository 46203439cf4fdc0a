// The terminal of a sandbox over a WebSocket (GET /v1/sandboxes/{id}/terminal) and its
// browser tickets (POST .../terminal/ticket). The handler checks the handshake, opens the
// shell (SandboxService::open_terminal: a stopped sandbox is woken; errors are still
// JSON), then takes the connection's socket over from cpp-httplib, answers 101 itself
// and relays on the connection's own thread until the shell exits, the client closes or
// goes away, or the server stops. Wire protocol:
//   client -> server: binary frames are input bytes; text frames are JSON
//     {"type":"resize","cols":N,"rows":M} or {"type":"input","data":"..."}.
//   server -> client: binary frames are the terminal's output; at the end a text frame
//     {"type":"exit","exit_code":N,"reason":"exited"|"sandbox_stopped"|"shutdown"}, then
//     a close frame (1000 after an exit, 1001 on a stop or shutdown, 1002/1007/1009 on a
//     client's protocol error).
// Bytes moving in either direction count as the sandbox's activity. Thread-safe.
#pragma once

#include <httplib.h>

#include "sandboxd/api/terminal_tickets.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

class TerminalRoute {
 public:
  TerminalRoute(SandboxService& sandboxes, TerminalTickets& tickets, Clock& clock, int stop_fd)
      : sandboxes_(sandboxes), tickets_(tickets), clock_(clock), stop_fd_(stop_fd) {}

  // 201 {"ticket","expires_at"} for the caller to open this sandbox's terminal once.
  void ticket(const httplib::Request& req, httplib::Response& res);
  // The upgrade, then the session (blocks the connection's thread until it ends).
  void open(const httplib::Request& req, httplib::Response& res);

 private:
  SandboxService& sandboxes_;
  TerminalTickets& tickets_;
  Clock& clock_;
  const int stop_fd_;
};

}  // namespace sandboxd
