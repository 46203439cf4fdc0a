// ClientConn: one client connection of the edge, a state machine run by its worker's
// loop. Per request: read and check the head (http1), route it by its own Host, find
// the sandbox's address (the worker's route cache, else a lookup off the loop), wake the
// sandbox when it sleeps, take a pooled connection to its port or open one, then relay
// the request and the response with the edge's own framing (proxy.cpp). Keep-alive
// both ways.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "replies.h"
#include "sandboxd/base/ids.h"
#include "sandboxd/base/text.h"
#include "sandboxd/edge/edge.h"
#include "worker.h"

namespace sandboxd::edge {
namespace {

constexpr auto kConnectTimeout = Ms(1000);
constexpr auto kMaxBackoff = Ms(100);
constexpr auto kLinger = Ms(2000);
constexpr auto kTunnelStall = std::chrono::minutes(5);
constexpr std::size_t kKeepBuffer = 16 * 1024;  // larger buffers are freed between requests
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

void shrink(std::string& s) {
  if (s.capacity() > kKeepBuffer) std::string().swap(s);
}

// A non-blocking connect to ip:port; the fd (connecting) or -1 with errno.
int start_connect(const std::string& ip, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    errno = EINVAL;
    return -1;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

}  // namespace

ClientConn::ClientConn(Worker& w, int fd, PeerAddress peer, bool trusted, uint64_t id)
    : w_(w), s_(w.shared), fd_(fd), peer_(std::move(peer)), trusted_(trusted), id_(id) {}

ClientConn::~ClientConn() {
  if (counted_client_) s_.limits.remove_client(peer_.text);
  s_.connections.fetch_sub(1, std::memory_order_relaxed);
}

void ClientConn::start() {
  started_ = SteadyClock::now();
  drive();
}

const std::string& ClientConn::request_id() {
  if (request_id_.empty()) request_id_ = random_hex(8);
  return request_id_;
}

std::string ClientConn::route_key() const {
  return target_.id + ':' + std::to_string(target_.port);
}

void ClientConn::on_io(uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) rd_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_closed_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) wr_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    // A client that goes away while its request is being served aborts it (as nginx
    // does); a tunnel passes a half-close on instead.
    bool waiting = phase_ == Phase::kLookup || phase_ == Phase::kWaking ||
                   phase_ == Phase::kConnecting || phase_ == Phase::kRetryWait ||
                   (phase_ == Phase::kProxy && req_done_);
    if (waiting || (events & EPOLLERR)) return close_now();
  }
  drive();
}

void ClientConn::on_upstream_io(uint32_t events) {
  if (!up_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_->readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_->peer_closed = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) up_->writable = true;
  if (phase_ == Phase::kConnecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(up_->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      on_connect_failed(err);
    } else {
      on_connected();
    }
    return drive();
  }
  drive();
}

void ClientConn::drive() {
  for (int round = 0; round < 64; ++round) {
    if (closed_ || !step()) return;
  }
  // Still more to do (a long pipeline, a fast stream): continue after other connections.
  uint64_t id = id_;
  w_.loop.post([w = &w_, id] {
    if (ClientConn* c = w->find(id)) c->drive();
  });
}

bool ClientConn::step() {
  switch (phase_) {
    case Phase::kHead: return read_head();
    case Phase::kProxy: return pump();
    case Phase::kTunnel: return tunnel();
    case Phase::kReply: return flush_reply();
    case Phase::kLinger: linger(); return false;
    default: return false;  // waiting for a lookup, a wake, a timer or a connect
  }
}

// --- the request head -----------------------------------------------------------------

bool ClientConn::read_head() {
  for (;;) {
    // Parse only once the blank line is there (or the head is too long): searching just
    // the new bytes keeps a client that drips its head from costing quadratic work.
    std::size_t from = scanned_ > 3 ? scanned_ - 3 : 0;
    bool complete = in_.find("\r\n\r\n", from) != std::string::npos;
    // A NUL or bare line break fails now, not at the head deadline.
    bool bad_byte = !complete && http1::bad_head_byte(in_, scanned_ > 0 ? scanned_ - 1 : 0);
    scanned_ = in_.size();
    if (complete || bad_byte || in_.size() > http1::Limits{}.max_head) {
      http1::Verdict v = http1::parse_request(in_, req_);
      if (v.kind == http1::Verdict::kOk) {
        in_.erase(0, v.head_len);
        scanned_ = 0;
        begin_request();
        return true;
      }
      if (v.kind == http1::Verdict::kBad) {
        s_.log("bad_request", spdlog::level::info,
               [&] { return fmt::format("edge: {} from {}: {}", v.status, peer_.text, v.reason); });
        reply(v.status, v.reason, false);
        return true;
      }
    }
    if (!rd_) return false;
    ssize_t n = read_client();
    if (n > 0) {
      if (in_.empty() && served_ > 0) started_ = SteadyClock::now();  // the head starts now
      in_.append(w_.scratch.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (would_block(n)) {
      rd_ = false;
      return false;
    }
    close_now();  // EOF or reset between requests
    return false;
  }
}

void ClientConn::begin_request() {
  have_req_ = true;
  ++exchange_;
  request_id_.clear();
  req_done_ = req_.body.kind == http1::BodyKind::kNone;
  req_left_ = req_.body.length;
  req_chunks_.reset();
  html_ = accepts_html(req_);
  if (pipelined_ && !http1::iequals(req_.host(), prev_host_))
    return reply(400, "pipelined requests must all be for one host", false);
  // A keep-alive connection mostly asks one host: its routing is known (target_ is
  // cleared whenever a host is not a preview host).
  if (!(served_ > 0 && !target_.id.empty() && req_.host() == prev_host_)) {
    auto preview = parse_preview_host(req_.host(), s_.config.preview_domain);
    if (!preview) {
      target_ = PreviewHost{};
      s_.log("not_found", spdlog::level::info, [&] {
        return fmt::format("preview: 404 for host {} (request {})", printable(req_.host(), 100),
                           request_id());
      });
      return reply(404, "no preview is served at this host (expected s-<id>-<port>.preview." +
                            s_.config.preview_domain + ")");
    }
    target_ = std::move(*preview);
  }
  std::string_view t = req_.target();
  wake_poll_ = t == kWakePath || (t.size() > std::strlen(kWakePath) &&
                                  t.substr(0, std::strlen(kWakePath)) == kWakePath &&
                                  t[std::strlen(kWakePath)] == '?');
  navigation_ = !wake_poll_ && is_browser_navigation(req_);
  auto now = SteadyClock::now();
  wake_deadline_ = now + s_.wake_timeout;
  woken_ = reused_ = retried_ = false;
  attempts_ = 0;
  backoff_ = Ms(10);

  auto cached = w_.routes.find(route_key());
  if (cached != w_.routes.end() && cached->second.generation == s_.sandboxes.address_generation()) {
    address_ = cached->second.address;
    return open_upstream(false);
  }
  phase_ = Phase::kLookup;
  uint64_t generation = s_.sandboxes.address_generation();
  s_.jobs.push([w = &w_, id = id_, exchange = exchange_, sandbox = target_.id, port = target_.port,
                generation] {
    auto known = w->shared.sandboxes.preview_address(sandbox, port);
    w->post_to(id, [exchange, generation, known](ClientConn& c) {
      c.on_lookup(exchange, generation, known);
    });
  });
}

void ClientConn::on_lookup(uint64_t exchange, uint64_t generation,
                           const Result<PreviewTarget>& known) {
  if (phase_ != Phase::kLookup || exchange != exchange_) return;
  if (!known) {
    if (known.error().code() == Code::kNotFound) {
      s_.log("not_found", spdlog::level::info, [&] {
        return fmt::format("preview {}:{}: 404, {} (request {})", target_.id, target_.port,
                           known.error().message(), request_id());
      });
      return reply(404, "no sandbox " + target_.id + " with port " + std::to_string(target_.port));
    }
    s_.log("lookup_failed", spdlog::level::err, [&] {
      return fmt::format("preview {}:{}: lookup failed (request {}): {}", target_.id, target_.port,
                         request_id(), known.error().message());
    });
    return reply(503, "preview lookup failed (request " + request_id() + ")");
  }
  if (known->address) {
    address_ = *known->address;
    w_.routes[route_key()] = Worker::Route{address_, generation};
    return open_upstream(false);
  }
  if (navigation_ && !known->frozen) {  // a thaw takes milliseconds: the request is held
    s_.flights.begin(target_.id);
    s_.log("waking_page", spdlog::level::info, [&] {
      return fmt::format("preview {}:{}: serving the waking page", target_.id, target_.port);
    });
    return send_reply(waking_page(), true);
  }
  begin_wake();
}

void ClientConn::begin_wake() {
  phase_ = Phase::kWaking;
  auto flight = s_.flights.begin(target_.id);
  Worker* w = &w_;
  uint64_t id = id_;
  uint64_t exchange = exchange_;
  s_.flights.subscribe(flight, [w, id, exchange](const Result<std::string>& address) {
    w->post_to(id, [exchange, address](ClientConn& c) { c.on_woken(exchange, address); });
  });
}

void ClientConn::on_woken(uint64_t exchange, const Result<std::string>& address) {
  if (phase_ != Phase::kWaking || exchange != exchange_) return;
  if (!address) {
    // The detail (docker's words, host figures) goes to the log; preview clients are
    // anonymous and get the gist.
    s_.log("wake_failed", spdlog::level::warn, [&] {
      return fmt::format("preview {}:{}: wake failed (request {}): {}", target_.id, target_.port,
                         request_id(), address.error().message());
    });
    Code code = address.error().code();
    if (code == Code::kTimeout)
      return reply(504, "sandbox " + target_.id + " did not start within " +
                            std::to_string(s_.wake_timeout.count() / 1000) + " s");
    return reply(code == Code::kNotFound ? 404 : 503,
                 "sandbox " + target_.id + " could not be woken now; retry later (request " +
                     request_id() + ")");
  }
  woken_ = true;
  address_ = *address;
  open_upstream(true);
}

// --- the backend connection -------------------------------------------------------------

void ClientConn::open_upstream(bool fresh) {
  if (!slot_) {
    if (!s_.limits.begin_request(target_.id)) {
      s_.log("sandbox_cap", spdlog::level::warn, [&] {
        return fmt::format("preview {}: {} requests in flight, the cap; answering 503", target_.id,
                           s_.config.edge_max_requests_per_sandbox);
      });
      return reply(503, "too many requests in flight to sandbox " + target_.id + "; retry later");
    }
    slot_ = true;
  }
  std::string key = address_ + ':' + std::to_string(target_.port);
  if (!fresh) {
    if (Upstream* u = w_.pool.take(key)) {
      Counters::bump(w_.counters.upstream_reused);
      up_ = u;
      u->owner = this;
      reused_ = true;
      return on_connected();
    }
  }
  reused_ = false;
  Counters::bump(w_.counters.upstream_opened);
  int fd = start_connect(address_, target_.port);
  if (fd < 0) return on_connect_failed(errno);
  auto* u = new Upstream(fd, std::move(key));
  if (!w_.loop.add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, u).is_ok()) {
    delete u;
    return on_connect_failed(EMFILE);
  }
  u->owner = this;
  up_ = u;
  phase_ = Phase::kConnecting;
  connect_started_ = SteadyClock::now();
}

void ClientConn::drop_upstream() {
  if (!up_) return;
  up_->owner = nullptr;
  w_.pool.close(up_);
  up_ = nullptr;
}

void ClientConn::on_connect_failed(int err) {
  Counters::bump(w_.counters.upstream_failed);
  drop_upstream();
  const bool refused = err == ECONNREFUSED;  // the container answered; its app is not up
  if (!woken_ && attempts_ == 0 && navigation_) {
    if (!refused) s_.flights.begin(target_.id);
    s_.log("waking_page", spdlog::level::info, [&] {
      return fmt::format("preview {}:{}: serving the waking page", target_.id, target_.port);
    });
    return send_reply(waking_page(), true);
  }
  ++attempts_;
  if (!refused && !woken_) {
    // Perhaps the sandbox stopped behind our back: the wake path checks and starts it.
    w_.routes.erase(route_key());
    return begin_wake();
  }
  if (SteadyClock::now() + backoff_ >= wake_deadline_) {
    std::string message =
        "sandbox " + target_.id + " runs but nothing accepted connections on port " +
        std::to_string(target_.port) + " within " + std::to_string(s_.wake_timeout.count() / 1000) +
        " s; see its dev server log (GET /v1/sandboxes/" + target_.id + "/logs)";
    s_.log("no_listener", spdlog::level::warn,
           [&] { return fmt::format("preview {}:{}: {}", target_.id, target_.port, message); });
    return reply(504, message);
  }
  phase_ = Phase::kRetryWait;
  w_.loop.after(backoff_, [w = &w_, id = id_, exchange = exchange_] {
    ClientConn* c = w->find(id);
    if (c && c->exchange_ == exchange) c->retry_connect();
  });
  backoff_ = std::min(backoff_ * 3 / 2, kMaxBackoff);
}

void ClientConn::retry_connect() {
  if (phase_ != Phase::kRetryWait) return;
  open_upstream(true);
  drive();
}

void ClientConn::on_connected() {
  auto now = SteadyClock::now();
  w_.note_activity(target_.id, now);
  if (wake_poll_) {
    up_->owner = nullptr;
    w_.pool.put(up_);  // it carried nothing: as good as new
    up_ = nullptr;
    return send_reply(Reply{200, "application/json", R"({"ready":true})", false}, true);
  }
  phase_ = Phase::kProxy;
  http1::append_upstream_head(req_, http1::Forwarding{peer_.text, trusted_}, up_->out);
  if (req_.expect_continue && in_.empty()) out_ += kContinue;
  resp_buf_.clear();
  resp_head_done_ = resp_done_ = false;
  up_reusable_ = true;
  resp_chunks_.reset();
  last_progress_ = now;
}

// --- answers of the edge's own and endings ----------------------------------------------

void ClientConn::reply(int status, std::string_view message, bool keep_alive) {
  send_reply(status_reply(status, message, html_), keep_alive);
}

void ClientConn::send_reply(const Reply& r, bool keep_alive) {
  drop_upstream();
  release_slot();
  // The connection can carry another request only if this one was read to its end.
  keep_after_ = keep_alive && have_req_ && req_.keep_alive && req_done_ && !client_eof_ &&
                !s_.stopping.load(std::memory_order_relaxed);
  append_reply(out_, r, have_req_ && req_.method() == "HEAD", keep_after_);
  w_.counters.response(Counters::kEdge, r.status);
  phase_ = Phase::kReply;
  last_progress_ = SteadyClock::now();
}

bool ClientConn::flush_reply() {
  if (pending_out() > 0) {
    if (!wr_) return false;
    flush_client();
    if (closed_ || pending_out() > 0) return false;
  }
  if (keep_after_) {
    next_request();
  } else {
    begin_linger();
  }
  return true;
}

void ClientConn::next_request() {
  ++served_;
  prev_host_.assign(req_.host());
  pipelined_ = !in_.empty();
  have_req_ = false;
  phase_ = Phase::kHead;
  started_ = SteadyClock::now();
  shrink(out_);
  shrink(in_);
  shrink(resp_buf_);
}

void ClientConn::begin_linger() {
  phase_ = Phase::kLinger;
  linger_deadline_ = SteadyClock::now() + kLinger;
}

// Closing after an answer: our side first, then what the client still sends is read
// and dropped briefly, so unread request bytes do not turn the close into a reset that
// destroys the answer in flight.
void ClientConn::linger() {
  if (pending_out() > 0) {
    if (!wr_ || !flush_client() || closed_) return;
  }
  if (!shut_wr_) {
    ::shutdown(fd_, SHUT_WR);
    shut_wr_ = true;
  }
  std::size_t dropped = 0;
  while (rd_ && dropped < kHighWater) {
    ssize_t n = ::recv(fd_, w_.scratch.data(), w_.scratch.size(), 0);
    if (would_block(n)) {
      rd_ = false;
      return;
    }
    if (n <= 0) return close_now();
    dropped += static_cast<std::size_t>(n);
  }
}

void ClientConn::release_slot() {
  if (!slot_) return;
  s_.limits.end_request(target_.id);
  slot_ = false;
}

void ClientConn::close_now() {
  if (closed_) return;
  closed_ = true;
  release_slot();
  if (up_) {
    up_->owner = nullptr;
    w_.pool.close(up_);
    up_ = nullptr;
  }
  w_.loop.remove(fd_);
  ::close(fd_);
  w_.forget(id_);
  w_.loop.retire(this);
}

bool ClientConn::on_tick(SteadyClock::time_point now) {
  Phase before = phase_;
  check_deadlines(now);
  return !closed_ && phase_ != before;
}

void ClientConn::check_deadlines(SteadyClock::time_point now) {
  switch (phase_) {
    case Phase::kHead: {
      bool idle = in_.empty() && served_ > 0;
      if (idle && now - started_ >= s_.idle_timeout) return close_now();
      if (!idle && now - started_ >= s_.header_timeout) {
        if (in_.empty()) return close_now();
        s_.log("header_timeout", spdlog::level::info, [&] {
          return fmt::format("edge: 408 for {}: request head not received in time", peer_.text);
        });
        reply(408, "request head not received in time", false);
      }
      return;
    }
    case Phase::kConnecting:
      if (now - connect_started_ >= kConnectTimeout) return on_connect_failed(ETIMEDOUT);
      [[fallthrough]];
    case Phase::kLookup:
    case Phase::kWaking:
    case Phase::kRetryWait:
      if (now >= wake_deadline_) {
        reply(504, phase_ == Phase::kWaking
                       ? "sandbox " + target_.id + " did not start within " +
                             std::to_string(s_.wake_timeout.count() / 1000) + " s"
                       : "sandbox " + target_.id + " did not answer in time");
      }
      return;
    case Phase::kProxy: {
      bool client_side = pending_out() > 0 || (!req_done_ && in_.empty());
      auto limit = client_side ? s_.idle_timeout : s_.upstream_timeout;
      if (now - last_progress_ < limit) return;
      if (resp_head_done_ || client_side) return close_now();
      s_.log("upstream_timeout", spdlog::level::info, [&] {
        return fmt::format("preview {}:{}: no answer within {} s (request {})", target_.id,
                           target_.port, s_.upstream_timeout.count() / 1000, request_id());
      });
      reply(504,
            "the sandbox did not answer within " +
                std::to_string(s_.upstream_timeout.count() / 1000) + " s",
            false);
      return;
    }
    case Phase::kTunnel:
      if ((pending_out() > 0 || (up_ && up_->pending() > 0)) &&
          now - last_progress_ >= kTunnelStall)
        close_now();
      return;
    case Phase::kReply:
      if (pending_out() > 0 && now - last_progress_ >= s_.idle_timeout) close_now();
      return;
    case Phase::kLinger:
      if (now >= linger_deadline_) close_now();
      return;
  }
}

}  // namespace sandboxd::edge
