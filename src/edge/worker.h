// The edge's insides, shared by its translation units: what all threads share (Shared),
// one event-loop thread (Worker), its pooled backend connections (Upstream,
// UpstreamPool) and one client connection's state machine (ClientConn). Everything but
// Shared belongs to one Worker's loop thread and is touched only there.
#pragma once

#include <spdlog/spdlog.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sandboxd/base/log_limiter.h"
#include "sandboxd/config/config.h"
#include "sandboxd/edge/edge_limits.h"
#include "sandboxd/edge/event_loop.h"
#include "sandboxd/edge/http1.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/preview/http_head.h"
#include "sandboxd/preview/wake_flights.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd::edge {

using SteadyClock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// Bytes buffered toward one peer before reading from the other pauses.
inline constexpr std::size_t kHighWater = 256 * 1024;

// A failed non-blocking call that is to be retried on the next event.
inline bool would_block(ssize_t n) {
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

// Runs blocking work (SQLite lookups, activity writes) off the loop threads.
class JobQueue {
 public:
  explicit JobQueue(int threads);
  ~JobQueue();  // runs what is queued, then joins
  void push(std::function<void()> job);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// What every worker thread uses. Thread-safe members only.
struct Shared {
  Shared(const Config& config, SandboxService& sandboxes, Clock& clock, TrustedProxies trusted);

  const Config& config;
  SandboxService& sandboxes;
  Clock& clock;
  LogLimiter log_limiter;
  EdgeLimits limits;
  const TrustedProxies trusted;
  const Ms header_timeout, idle_timeout, upstream_timeout, wake_timeout;
  std::atomic<int> connections{0};  // open client connections, all workers
  std::atomic<bool> stopping{false};
  WakeFlights flights;  // after everything its wake threads' callbacks use
  JobQueue jobs;        // last: its threads finish before the rest goes

  // Logs `message()` unless too many lines of `kind` were logged lately.
  void log(const char* kind, spdlog::level::level_enum level,
           const std::function<std::string()>& message);
};

class ClientConn;
class UpstreamPool;

// One connection to a sandbox's port. Owned by a ClientConn while it carries an
// exchange, else by the pool (idle).
struct Upstream : EventLoop::Watcher {
  Upstream(int fd, std::string key) : fd(fd), key(std::move(key)) {}
  ~Upstream() override;
  void on_io(uint32_t events) override;

  int fd;
  std::string key;  // "address:port"
  ClientConn* owner = nullptr;
  UpstreamPool* pool = nullptr;  // while idle in it
  bool readable = false, writable = true;
  bool peer_closed = false;  // EPOLLRDHUP seen: reads go on until EOF
  std::string out;           // bytes for the sandbox not yet sent
  std::size_t out_off = 0;
  SteadyClock::time_point idle_since;
  std::size_t pending() const { return out.size() - out_off; }
};

// Idle keep-alive connections per sandbox address:port. A pooled connection that turns
// readable (the sandbox closed it, or sent bytes nobody asked for) is closed at once;
// one idle longer than kIdle is closed by sweep() (below Node's 5 s keepAliveTimeout, so
// the edge rarely reuses a connection the app is closing).
class UpstreamPool {
 public:
  static constexpr auto kIdle = std::chrono::seconds(4);
  static constexpr std::size_t kPerKey = 1024;
  static constexpr std::size_t kTotal = 8192;

  explicit UpstreamPool(EventLoop& loop) : loop_(loop) {}
  Upstream* take(const std::string& key);
  // Keeps `u` for reuse, or closes it when the pool is full.
  void put(Upstream* u);
  void on_idle_event(Upstream* u);
  void sweep(SteadyClock::time_point now);
  // Closes `u` (owned by nobody).
  void close(Upstream* u);
  void close_all();

 private:
  void erase(Upstream* u);
  EventLoop& loop_;
  std::unordered_map<std::string, std::vector<Upstream*>> idle_;
  std::size_t total_ = 0;
};

// One worker's counters for /metrics: written by its loop thread only (relaxed), summed
// by Edge::samples() on the scraping thread.
struct Counters {
  enum Source { kSandbox, kEdge };
  std::atomic<uint64_t> accepted{0}, over_total_cap{0}, over_client_cap{0};
  std::atomic<uint64_t> responses[2][5] = {};  // [source][code class 1xx..5xx]
  std::atomic<uint64_t> upstream_opened{0}, upstream_reused{0}, upstream_failed{0};

  static void bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
  void response(Source source, int status) {
    int cls = status / 100 - 1;
    if (cls >= 0 && cls < 5) bump(responses[source][cls]);
  }
};

// One event-loop thread with its own connections, pool and route cache.
class Worker {
 public:
  Worker(Shared& shared, int listen_fd);
  ~Worker();
  Status init();
  void run();   // until stop()
  void stop();  // any thread

  Shared& shared;
  EventLoop loop;
  UpstreamPool pool;
  Counters counters;
  std::vector<char> scratch;  // one recv buffer for every connection of this thread

  struct Route {
    std::string address;
    uint64_t generation = 0;
  };
  std::unordered_map<std::string, Route> routes;  // "id:port" -> address

  ClientConn* find(uint64_t id);
  void forget(uint64_t id);
  // Records preview activity for `sandbox` (at most once a second per sandbox per thread;
  // the write happens off the loop).
  void note_activity(const std::string& sandbox, SteadyClock::time_point now);
  // Runs `fn(conn)` on this loop if connection `id` still exists then. Any thread.
  void post_to(uint64_t id, std::function<void(ClientConn&)> fn);

 private:
  struct Listener : EventLoop::Watcher {
    Worker* worker;
    void on_io(uint32_t) override { worker->accept_ready(); }
  };
  void accept_ready();
  void tick();
  // Answers a connection over a cap at once and closes it (best effort, no lingering).
  void refuse(int fd, int status, const std::string& message);

  int listen_fd_;
  Listener listener_;
  bool accept_retry_armed_ = false;  // an accept retry after EMFILE is pending
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, ClientConn*> conns_;
  std::unordered_map<std::string, SteadyClock::time_point> activity_;
};

class ClientConn : public EventLoop::Watcher {
 public:
  ClientConn(Worker& w, int fd, PeerAddress peer, bool trusted, uint64_t id);
  ~ClientConn() override;
  void start();
  void on_io(uint32_t events) override;
  void on_upstream_io(uint32_t events);
  // Acts on a passed deadline; true when the connection must be driven (its phase moved).
  bool on_tick(SteadyClock::time_point now);
  // Ends the connection at once (shutdown, aborts).
  void close_now();
  // Makes every step it can (after an event, a post or a timer).
  void drive();
  bool closed() const { return closed_; }

 private:
  enum class Phase {
    kHead,
    kLookup,
    kWaking,
    kConnecting,
    kRetryWait,
    kProxy,
    kTunnel,
    kReply,
    kLinger
  };

  bool step();
  void check_deadlines(SteadyClock::time_point now);
  // Request head.
  bool read_head();
  void begin_request();
  // `exchange` is the request the answer was for: a late answer for an earlier request
  // on this connection is dropped.
  void on_lookup(uint64_t exchange, uint64_t generation, const Result<PreviewTarget>& known);
  void begin_wake();
  void on_woken(uint64_t exchange, const Result<std::string>& address);
  // Backend connection.
  void open_upstream(bool fresh);
  void on_connected();
  void on_connect_failed(int err);
  void retry_connect();
  void drop_upstream();
  // Proxying.
  bool pump();
  bool feed_request();
  bool read_response();
  ssize_t read_client();
  ssize_t read_upstream();
  bool on_response_bytes(std::string_view data);
  void consume_body(std::string_view data);
  void upstream_ended(bool reset);
  void upstream_failed(const char* what);
  void finish_exchange();
  bool tunnel();
  // Client output and endings.
  bool flush_client();
  bool flush_upstream();
  void reply(int status, std::string_view message, bool keep_alive = true);
  void reply_status(const Status& st, bool keep_alive = true);
  void send_reply(const struct Reply& r, bool keep_alive);
  bool flush_reply();
  void next_request();
  void begin_linger();
  void linger();
  void release_slot();
  std::size_t pending_out() const { return out_.size() - out_off_; }
  std::string route_key() const;
  const std::string& request_id();

  Worker& w_;
  Shared& s_;
  int fd_;
  const PeerAddress peer_;
  const bool trusted_;
  const uint64_t id_;
  bool counted_client_ = false;
  friend class Worker;

  bool rd_ = true, wr_ = true, client_eof_ = false, closed_ = false, shut_wr_ = false;
  bool peer_closed_ = false;  // EPOLLRDHUP seen: reads go on until EOF
  std::string in_, out_;
  std::size_t out_off_ = 0;
  std::size_t scanned_ = 0;  // bytes of in_ searched for the head's end
  Phase phase_ = Phase::kHead;
  int served_ = 0;
  uint64_t exchange_ = 0;   // numbers this connection's requests
  bool pipelined_ = false;  // the current head arrived before the previous answer ended
  std::string prev_host_;
  std::string request_id_;

  http1::RequestHead req_;
  bool have_req_ = false;
  PreviewHost target_;
  bool wake_poll_ = false, navigation_ = false, html_ = false;
  SteadyClock::time_point started_, wake_deadline_, last_progress_, connect_started_,
      linger_deadline_;
  bool woken_ = false, slot_ = false, reused_ = false, retried_ = false;
  int attempts_ = 0;
  Ms backoff_{10};
  std::string address_;
  Upstream* up_ = nullptr;
  bool up_eof_ = false;  // tunnel: the sandbox half-closed

  uint64_t req_left_ = 0;
  http1::ChunkedDecoder req_chunks_;
  bool req_done_ = false;

  std::string resp_buf_;
  http1::ResponseHead resp_;
  bool resp_head_done_ = false, resp_done_ = false, up_reusable_ = true;
  uint64_t resp_left_ = 0;
  http1::ChunkedDecoder resp_chunks_;
  http1::ClientFraming framing_;
  bool keep_after_ = false;  // kReply: keep the connection after the reply
};

}  // namespace sandboxd::edge
