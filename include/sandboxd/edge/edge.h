// Edge: sandboxd's preview edge, an event-driven HTTP/1.1 reverse proxy. Every preview
// request goes through it: Traefik's preview router forwards them all here (containers
// carry no routing labels), and without Traefik it is the whole edge. For
// `s-<id>-<port>.preview.<domain>` it:
//   - proxies to <sandbox address>:<port> when the sandbox runs and the port accepts
//     connections, over pooled keep-alive connections to that address and port;
//   - otherwise wakes the sandbox (one start however many requests arrive: WakeFlights),
//     waits until the port accepts connections (SANDBOXD_WAKE_TIMEOUT_SECONDS), then
//     proxies the held request; a browser navigation instead gets the waking page at
//     once, which long-polls GET /__sandboxed__/wake and reloads as soon as it is ready;
//   - answers 404 for any other host, unknown sandbox or undeclared port, and 503 with
//     the reason when the wake fails (JSON, or a page for browsers).
// Every request on a keep-alive client connection is routed by its own Host; requests
// pipelined behind one another must share a host (else 400 and close), and a backend
// connection only ever carries requests for its own address and port. Framing is
// edge/http1.h's (strict; smuggling attempts get 400 and close). Forwarding headers
// (X-Forwarded-*, Forwarded) are set by the edge, kept from SANDBOXD_EDGE_TRUSTED_PROXIES
// only. WebSocket and other upgrades become tunnels. Relayed traffic is the sandbox's
// activity.
// Threads: SANDBOXD_EDGE_THREADS event loops (one per two CPUs by default) accept from one
// listening socket (EPOLLEXCLUSIVE: one loop is woken per new connection), each with its
// own connections, backend pool and route cache; blocking
// work (SQLite lookups, activity writes, wakes) runs off the loops. Fairness: header,
// idle and upstream timeouts, and caps on connections in total, per client address and
// on requests in flight per sandbox (all in Config). Per-request log lines are
// rate-limited per kind (LogLimiter).
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sandboxd/base/metrics.h"
#include "sandboxd/config/config.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/os/fd.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

// The path, on every preview host, that the waking page long-polls.
inline constexpr const char* kWakePath = "/__sandboxed__/wake";

namespace edge {
class Worker;
struct Shared;
}  // namespace edge

class Edge {
 public:
  // `clock` paces the per-request log lines.
  Edge(const Config& config, SandboxService& sandboxes, Clock& clock);
  ~Edge();
  Edge(const Edge&) = delete;
  Edge& operator=(const Edge&) = delete;

  // Binds host:port (0: any free port) and starts the event loops.
  Status start(const std::string& host, int port);
  // Stops accepting, ends open connections and pending wakes, joins the loops.
  void stop();
  int port() const { return port_; }
  // The edge's /metrics samples (sandboxd_edge_*), summed over its threads.
  std::vector<ScrapeSample> samples() const;
  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  const Config& config_;
  SandboxService& sandboxes_;
  Clock& clock_;
  int port_ = 0;
  Fd listen_fd_;  // shared by the workers, closed after them
  std::vector<std::unique_ptr<edge::Worker>>
      workers_;  // outlive shared_ (its threads post to them)
  std::unique_ptr<edge::Shared> shared_;
  std::vector<std::thread> threads_;
};

}  // namespace sandboxd
