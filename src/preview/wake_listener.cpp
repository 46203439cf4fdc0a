#include "sandboxd/preview/wake_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sandboxd/api/http_status.h"
#include "sandboxd/api/json_codec.h"
#include "sandboxd/base/ids.h"
#include "sandboxd/base/text.h"
#include "sandboxd/preview/http_head.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t kMaxHead = 64 * 1024;
constexpr auto kHeadTimeout = std::chrono::seconds(30);
constexpr auto kResponseTimeout = std::chrono::seconds(10);
constexpr std::size_t kRelayBuffer = 64 * 1024;
constexpr std::size_t kThreadStack = 256 * 1024;
constexpr auto kConnectTimeout = std::chrono::milliseconds(1000);
constexpr auto kActivityEvery = std::chrono::seconds(1);
// A relay with bytes waiting that a peer does not take for this long is closed.
constexpr auto kStallTimeout = std::chrono::minutes(5);
// Per-request log lines: at most this many of a kind per window.
constexpr auto kLogWindow = std::chrono::minutes(1);
constexpr int kLogBurst = 10;

// Logs the line `message()` makes, unless too many of `kind` were logged lately.
template <class Message>
void log_limited(LogLimiter& limiter, Clock& clock, const char* kind,
                 spdlog::level::level_enum level, Message message) {
  auto v = limiter.admit(kind, clock.steady_now());
  if (!v.log) return;
  if (v.suppressed > 0)
    spdlog::log(level, "wake listener: suppressed {} similar lines ({})", v.suppressed, kind);
  if (v.last) {
    spdlog::log(level, "{} (similar lines are suppressed for up to {} s)", message(),
                std::chrono::duration_cast<std::chrono::seconds>(kLogWindow).count());
  } else {
    spdlog::log(level, "{}", message());
  }
}

int ms_until(SteadyClock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<int64_t>(ms.count(), 0, 1 << 30));
}

void tune_socket(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

// Writes all of `data` to the non-blocking `fd` before `deadline`.
bool send_all(int fd, std::string_view data, SteadyClock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, ms_until(deadline)) <= 0) return false;
  }
  return true;
}

// A non-blocking TCP connection to ip:port within `timeout`; -1 (errno set) on failure.
int connect_to(const std::string& ip, int port, std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    errno = EINVAL;
    return -1;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      int e = errno;
      ::close(fd);
      errno = e;
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    int err = ETIMEDOUT;
    socklen_t len = sizeof err;
    if (r > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      errno = err;
      return -1;
    }
  }
  tune_socket(fd);
  return fd;
}

// Closes a client connection after a response: our side is shut down first and what
// the client still sends is read and dropped briefly, so an unread request body does
// not turn the close into a reset that destroys the response in flight.
void lingering_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(500);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms_until(deadline)) <= 0) break;
    ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n <= 0 && !(n < 0 && errno == EINTR)) break;
  }
  ::close(fd);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    default: return "Service Unavailable";
  }
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Reply {
  int status = 200;
  std::string content_type;
  std::string body;
  bool retry_after = false;
};

std::string serialize(const Reply& r, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) +
                    "\r\nContent-Type: " + r.content_type +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (r.retry_after) out += "Retry-After: 5\r\n";
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

std::string page(std::string_view title, std::string_view message) {
  return "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         "<style>body{font-family:system-ui,sans-serif;margin:0;min-height:100vh;display:flex;"
         "align-items:center;justify-content:center;color:#333}main{max-width:34em;"
         "padding:1em}</style></head><body><main><h1>" +
         html_escape(title) + "</h1><p>" + html_escape(message) + "</p></main></body></html>";
}

Reply error_reply(const Status& st, bool html, const std::string& request_id) {
  Reply r;
  r.status = edge_http_status(st.code());
  r.retry_after = r.status == 503;
  if (html) {
    r.content_type = "text/html; charset=utf-8";
    r.body =
        page(r.status == 404 ? "No such preview" : "This preview is not available", st.message());
  } else {
    r.content_type = "application/json";
    r.body = encode_error(st, request_id);
  }
  return r;
}

// The waking page: it long-polls kWakePath (which answers once the app accepts
// connections) and reloads at that moment; no fixed delay. Without script, a refresh.
const char* kWakingPage = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>Waking up…</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<noscript><meta http-equiv="refresh" content="2"></noscript>
<style>body{font-family:system-ui,sans-serif;margin:0;min-height:100vh;display:flex;
align-items:center;justify-content:center;color:#333}main{max-width:34em;padding:1em}</style>
</head><body><main><h1 id="title">Waking up this preview…</h1>
<p id="detail">It was asleep to save resources. This page switches to the app as soon as
it is ready.</p><p><button id="retry" hidden onclick="location.reload()">Try again</button></p>
</main><script>
(function () {
  var failures = 0;
  function fail(message) {
    document.getElementById('title').textContent = 'This preview could not be woken';
    document.getElementById('detail').textContent = message;
    document.getElementById('retry').hidden = false;
  }
  function poll() {
    fetch('/__sandboxed__/wake', {cache: 'no-store', headers: {'Accept': 'application/json'}})
      .then(function (r) {
        if (r.ok) { location.reload(); return; }
        return r.json().then(function (j) {
          fail(j && j.error ? j.error.message : 'HTTP ' + r.status);
        }, function () { fail('HTTP ' + r.status); });
      }, function () {
        if (++failures < 5) setTimeout(poll, 250 * failures); else fail('The preview server did not answer.');
      });
  }
  poll();
})();
</script></body></html>
)HTML";

}  // namespace

struct WakeListener::Conn {
  WakeListener* self;
  int fd;
};

WakeListener::WakeListener(const Config& config, SandboxService& sandboxes, Clock& clock)
    : config_(config),
      sandboxes_(sandboxes),
      clock_(clock),
      log_limiter_(kLogWindow, kLogBurst),
      flights_([this](const std::string& id) { return sandboxes_.wake(id, Trigger::kPreview); }) {}

WakeListener::~WakeListener() { stop(); }

Status WakeListener::start(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return Status(Code::kInvalidArgument,
                  "wake listener: resolve " + host + ": " + ::gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  bool ok = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            ::bind(fd, res->ai_addr, res->ai_addrlen) == 0 && ::listen(fd, 1024) == 0;
  int err = errno;
  ::freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return Status(Code::kUnavailable,
                  "wake listener: bind " + host + ":" + service + ": " + std::strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  acceptor_ = std::thread([this] { accept_loop(); });
  return {};
}

void WakeListener::stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  flights_.cancel();
  std::unique_lock lock(mu_);
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  idle_cv_.wait(lock, [this] { return connections_ == 0; });
}

bool WakeListener::track(int fd) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  fds_.insert(fd);
  return true;
}

void WakeListener::untrack(int fd) {
  std::lock_guard lock(mu_);
  fds_.erase(fd);
}

void WakeListener::accept_loop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        int err = errno;
        log_limited(log_limiter_, clock_, "accept", spdlog::level::warn, [&] {
          return fmt::format("wake listener: accept: {}; pausing 100 ms", std::strerror(err));
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    tune_socket(fd);
    {
      std::lock_guard lock(mu_);
      if (connections_ >= config_.wake_max_connections) {
        Reply r{edge_http_status(Code::kUnavailable), "application/json",
                encode_error(Status(Code::kUnavailable, "too many open preview connections"), ""),
                true};
        std::string out = serialize(r, false);
        // Read what already arrived first: closing with unread bytes would reset the
        // connection and lose the answer. (Best effort: no thread to linger in.)
        char sink[4096];
        while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
        }
        (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        ::close(fd);
        continue;
      }
      ++connections_;
      fds_.insert(fd);
    }
    auto* conn = new Conn{this, fd};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kThreadStack);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(
        &thread, &attr,
        [](void* arg) -> void* {
          auto* c = static_cast<Conn*>(arg);
          WakeListener* self = c->self;
          self->serve(*c);
          delete c;
          std::lock_guard lock(self->mu_);
          if (--self->connections_ == 0) self->idle_cv_.notify_all();
          return nullptr;
        },
        conn);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      log_limited(log_limiter_, clock_, "thread", spdlog::level::warn, [&] {
        return fmt::format("wake listener: cannot start a connection thread: {}",
                           std::strerror(rc));
      });
      delete conn;
      std::lock_guard lock(mu_);
      fds_.erase(fd);
      ::close(fd);
      if (--connections_ == 0) idle_cv_.notify_all();
    }
  }
}

namespace {

// Relays bytes both ways between the client and the backend until the backend has
// finished sending (a client's half-close is passed on) or either side fails. `pending` is what was
// read from the client but not yet sent. With `up_limit`, at most that many more client bytes
// reach the backend; the rest is read and dropped (requests pipelined after the one
// being served). `on_traffic` runs at most once per kActivityEvery while bytes move.
template <class OnTraffic>
void relay(int client, int backend, std::string pending, std::optional<std::size_t> up_limit,
           OnTraffic on_traffic) {
  struct Direction {
    int from, to;
    std::string buf;
    std::size_t off = 0;
    bool eof = false;  // `from` finished sending and buf was drained to `to`
    bool closed_read = false;
  };
  Direction up{client, backend, std::move(pending)};
  Direction down{backend, client, {}};
  auto last_activity = SteadyClock::now();
  auto last_progress = last_activity;
  char chunk[kRelayBuffer];
  for (;;) {
    if (down.eof) return;
    pollfd p[2] = {{client, 0, 0}, {backend, 0, 0}};
    bool waiting = false;  // bytes are buffered for a peer
    for (Direction* d : {&up, &down}) {
      pollfd& from = d->from == client ? p[0] : p[1];
      pollfd& to = d->to == client ? p[0] : p[1];
      if (d->off < d->buf.size()) {
        to.events |= POLLOUT;
        waiting = true;
      } else if (!d->closed_read) {
        from.events |= POLLIN;
      }
    }
    // A socket we wait on for nothing is left out: its POLLHUP/POLLERR would otherwise
    // wake poll at once, again and again, while the other side is slow.
    for (pollfd& q : p)
      if (q.events == 0) q.fd = -1;
    int timeout = -1;
    if (waiting) {
      timeout = ms_until(last_progress + kStallTimeout);
      if (timeout == 0) return;
    }
    int r = ::poll(p, 2, timeout);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    for (const pollfd& q : p)
      if (q.revents & POLLNVAL) return;
    bool moved = false;
    for (Direction* d : {&up, &down}) {
      const pollfd& from = d->from == client ? p[0] : p[1];
      const pollfd& to = d->to == client ? p[0] : p[1];
      if (d->off < d->buf.size()) {
        if (!(to.revents & (POLLOUT | POLLERR | POLLHUP))) continue;
        ssize_t n = ::send(d->to, d->buf.data() + d->off, d->buf.size() - d->off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) return;  // the receiver is gone
        d->off += static_cast<std::size_t>(n);
        moved = true;
        if (d->off == d->buf.size()) {
          d->buf.clear();
          d->off = 0;
        }
      } else if (!d->closed_read && (from.revents & (POLLIN | POLLERR | POLLHUP))) {
        ssize_t n = ::recv(d->from, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0) return;  // reset
        if (n == 0) {
          d->closed_read = true;
        } else {
          std::size_t take = static_cast<std::size_t>(n);
          if (d == &up && up_limit) {
            take = std::min(take, *up_limit);
            *up_limit -= take;
          }
          d->buf.assign(chunk, take);
          moved = moved || take > 0;
        }
      }
      if (d->closed_read && d->buf.empty() && !d->eof) {
        d->eof = true;
        ::shutdown(d->to, SHUT_WR);
      }
    }
    if (moved) {
      auto now = SteadyClock::now();
      last_progress = now;
      if (now - last_activity >= kActivityEvery) {
        last_activity = now;
        on_traffic();
      }
    }
  }
}

}  // namespace

void WakeListener::serve(Conn& conn) {
  const int fd = conn.fd;
  const std::string request_id = random_hex(8);
  auto respond = [&](const Reply& r, bool head_only) {
    send_all(fd, serialize(r, head_only), SteadyClock::now() + kResponseTimeout);
    untrack(fd);
    lingering_close(fd);
  };
  auto fail = [&](const Status& st, bool html, bool head_only) {
    respond(error_reply(st, html, request_id), head_only);
  };

  // 1. The first request head.
  std::string buf;
  RequestHead head;
  std::size_t head_len = 0;
  auto head_deadline = SteadyClock::now() + kHeadTimeout;
  char chunk[8192];
  for (;;) {
    HeadParse parsed = parse_request_head(buf, head, head_len);
    if (parsed == HeadParse::kOk) break;
    if (parsed == HeadParse::kBad)
      return fail(Status(Code::kInvalidArgument, "malformed HTTP request"), false, false);
    if (buf.size() >= kMaxHead) {
      return respond(
          Reply{431, "application/json",
                encode_error(Status(Code::kInvalidArgument, "request head too large"), request_id)},
          false);
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, ms_until(head_deadline));
    if (r == 0) {
      if (buf.empty()) break;  // an idle connection: close it quietly
      return respond(Reply{408, "application/json",
                           encode_error(Status(Code::kTimeout, "request head not received in time"),
                                        request_id)},
                     false);
    }
    ssize_t n = r < 0 ? -1 : ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  if (head_len == 0) {
    untrack(fd);
    ::close(fd);
    return;
  }

  // 2. Route it.
  const bool head_only = head.method == "HEAD";
  const bool html = accepts_html(head);
  int hosts = 0;
  for (const auto& header : head.headers) hosts += ::strcasecmp(header.first.c_str(), "host") == 0;
  if (hosts != 1)
    return fail(Status(Code::kInvalidArgument, "exactly one Host header is required"), html,
                head_only);
  const std::string& host = *head.header("host");
  auto preview = parse_preview_host(host, config_.preview_domain);
  if (!preview) {
    log_limited(log_limiter_, clock_, "not_found", spdlog::level::info, [&] {
      return fmt::format("preview: 404 for host {} (request {})", printable(host, 100), request_id);
    });
    return fail(Status(Code::kNotFound,
                       "no preview is served at this host (expected "
                       "s-<id>-<port>.preview." +
                           config_.preview_domain + ")"),
                html, head_only);
  }
  const std::string& id = preview->id;
  const int port = preview->port;
  const bool wake_poll =
      head.target == kWakePath || head.target.rfind(std::string(kWakePath) + "?", 0) == 0;
  auto known = sandboxes_.preview_address(id, port);
  if (!known) {
    if (known.error().code() == Code::kNotFound) {
      log_limited(log_limiter_, clock_, "not_found", spdlog::level::info, [&] {
        return fmt::format("preview {}:{}: 404, {} (request {})", id, port, known.error().message(),
                           request_id);
      });
      return fail(
          Status(Code::kNotFound, "no sandbox " + id + " with port " + std::to_string(port)), html,
          head_only);
    }
    log_limited(log_limiter_, clock_, "lookup_failed", spdlog::level::err, [&] {
      return fmt::format("preview {}:{}: lookup failed (request {}): {}", id, port, request_id,
                         known.error().message());
    });
    return fail(Status(Code::kUnavailable, "preview lookup failed (request " + request_id + ")"),
                html, head_only);
  }
  const auto deadline = SteadyClock::now() + std::chrono::seconds(config_.wake_timeout_s);

  // 3. A connection to the sandbox's port: directly when it runs, else after a wake.
  int backend = -1;
  bool refused = false;  // the container answered, its dev server is not listening (yet)
  if (*known) {
    backend = connect_to(**known, port, kConnectTimeout);
    refused = backend < 0 && errno == ECONNREFUSED;
  }
  if (backend < 0 && !wake_poll && is_browser_navigation(head)) {
    if (!refused) flights_.begin(id);
    log_limited(log_limiter_, clock_, "waking_page", spdlog::level::info,
                [&] { return fmt::format("preview {}:{}: serving the waking page", id, port); });
    return respond(Reply{503, "text/html; charset=utf-8", kWakingPage, false}, head_only);
  }
  if (backend < 0) {
    std::string ip;
    if (refused) {
      ip = **known;
    } else {
      auto woken = flights_.wait(flights_.begin(id), deadline);
      if (!woken) {
        // The detail (docker's words, host figures) goes to the log; preview clients are
        // anonymous and get the gist.
        log_limited(log_limiter_, clock_, "wake_failed", spdlog::level::warn, [&] {
          return fmt::format("preview {}:{}: wake failed (request {}): {}", id, port, request_id,
                             woken.error().message());
        });
        Status st =
            woken.error().code() == Code::kTimeout
                ? Status(Code::kTimeout, "sandbox " + id + " did not start within " +
                                             std::to_string(config_.wake_timeout_s) + " s")
                : Status(woken.error().code() == Code::kNotFound ? Code::kNotFound
                                                                 : Code::kUnavailable,
                         "sandbox " + id + " could not be woken now; retry later (request " +
                             request_id + ")");
        return fail(st, html, head_only);
      }
      ip = *woken;
    }
    auto backoff = std::chrono::milliseconds(10);
    while ((backend = connect_to(
                ip, port,
                std::min<std::chrono::milliseconds>(
                    kConnectTimeout, std::chrono::milliseconds(ms_until(deadline))))) < 0 &&
           !stopping_ && SteadyClock::now() + backoff < deadline) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 3 / 2, std::chrono::milliseconds(100));
    }
    if (backend < 0) {
      Status st(Code::kTimeout,
                "sandbox " + id + " runs but nothing accepted connections on port " +
                    std::to_string(port) + " within " + std::to_string(config_.wake_timeout_s) +
                    " s; see its dev server log (GET /v1/sandboxes/" + id + "/logs)");
      log_limited(log_limiter_, clock_, "no_listener", spdlog::level::warn,
                  [&] { return fmt::format("preview {}:{}: {}", id, port, st.message()); });
      return fail(st, html, head_only);
    }
  }
  sandboxes_.record_activity(id, Trigger::kPreview);
  if (wake_poll) {
    ::close(backend);
    return respond(Reply{200, "application/json", R"({"ready":true})", false}, head_only);
  }

  // 4. Relay the request and everything after it.
  if (!track(backend)) {
    ::close(backend);
    untrack(fd);
    ::close(fd);
    return;
  }
  // Only this request goes to this backend: the connection ends after its response, so a
  // request pipelined behind it (perhaps for another sandbox) is never forwarded.
  std::optional<std::size_t> body = request_body_length(head);
  std::string rest = buf.substr(head_len);
  if (body) {
    rest.resize(std::min(rest.size(), *body));
    *body -= rest.size();
  }
  std::string pending = head_for_backend(head) + rest;
  relay(fd, backend, std::move(pending), body,
        [&] { sandboxes_.record_activity(id, Trigger::kPreview); });
  untrack(backend);
  untrack(fd);
  ::close(backend);
  lingering_close(fd);
}

}  // namespace sandboxd
