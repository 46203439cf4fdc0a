// WakeListener: sandboxd's preview edge. Traefik's priority-1 catch-all sends it every
// preview request that has no live route (a stopped sandbox, or one whose route Traefik
// has not discovered yet); without Traefik it can be the whole edge. For
// `s-<id>-<port>.preview.<domain>` it:
//   - proxies straight to <sandbox address>:<port> when the sandbox runs and the port
//     accepts connections;
//   - otherwise wakes the sandbox (one start however many requests arrive: WakeFlights),
//     waits until the port accepts connections (SANDBOXD_WAKE_TIMEOUT_SECONDS), then
//     proxies the original request; a browser navigation instead gets the waking page at
//     once, which long-polls GET /__sandboxed__/wake and reloads as soon as it is ready;
//   - answers 404 for any other host, unknown sandbox or undeclared port, and 503 with
//     the reason when the wake fails (JSON, or a page for browsers).
// Only the first request head of a connection is parsed. It is sent on with
// `Connection: close` (unless it is an upgrade), so a connection carries one request, or
// one upgraded stream, to one sandbox port and can never be reused for another sandbox
// (Traefik's transport to the listener keeps no idle connections either). Bodies,
// streamed responses and WebSocket frames are relayed byte for byte both ways; relayed
// traffic counts as the sandbox's activity.
// One thread per connection (small stacks); at most SANDBOXD_WAKE_MAX_CONNECTIONS.
// Per-request log lines (404s, waking pages, failed wakes) are rate-limited per kind
// (LogLimiter), so anonymous clients cannot flood sandboxd's log.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "sandboxd/base/log_limiter.h"
#include "sandboxd/config/config.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/preview/wake_flights.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

// The path, on every preview host, that the waking page long-polls.
inline constexpr const char* kWakePath = "/__sandboxed__/wake";

class WakeListener {
 public:
  // `clock` paces the per-request log lines.
  WakeListener(const Config& config, SandboxService& sandboxes, Clock& clock);
  ~WakeListener();
  WakeListener(const WakeListener&) = delete;
  WakeListener& operator=(const WakeListener&) = delete;

  // Binds host:port (0: any free port) and starts accepting.
  Status start(const std::string& host, int port);
  // Stops accepting, ends open connections and pending wakes, waits for their threads.
  void stop();
  int port() const { return port_; }

 private:
  struct Conn;
  void accept_loop();
  void serve(Conn& conn);
  bool track(int fd);
  void untrack(int fd);

  const Config& config_;
  SandboxService& sandboxes_;
  Clock& clock_;
  LogLimiter log_limiter_;
  WakeFlights flights_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable idle_cv_;  // the last connection ended
  std::set<int> fds_;                // open sockets, shut down by stop()
  int connections_ = 0;
};

}  // namespace sandboxd
