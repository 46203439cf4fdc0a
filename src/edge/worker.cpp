#include "worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>

#include "replies.h"

namespace sandboxd::edge {
namespace {

constexpr std::size_t kScratch = 64 * 1024;
constexpr auto kTick = Ms(100);
constexpr auto kActivityEvery = std::chrono::seconds(1);
constexpr auto kLogWindow = std::chrono::minutes(1);
constexpr int kLogBurst = 10;
constexpr int kAcceptBatch = 256;

}  // namespace

// --- JobQueue ----------------------------------------------------------------------------

struct JobQueue::State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  bool done = false;
  std::vector<std::thread> threads;
};

JobQueue::JobQueue(int threads) : state_(std::make_unique<State>()) {
  for (int i = 0; i < threads; ++i) {
    state_->threads.emplace_back([s = state_.get()] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock lock(s->mu);
          s->cv.wait(lock, [s] { return s->done || !s->jobs.empty(); });
          if (s->jobs.empty()) return;
          job = std::move(s->jobs.front());
          s->jobs.pop_front();
        }
        job();
      }
    });
  }
}

JobQueue::~JobQueue() {
  {
    std::lock_guard lock(state_->mu);
    state_->done = true;
  }
  state_->cv.notify_all();
  for (auto& t : state_->threads) t.join();
}

void JobQueue::push(std::function<void()> job) {
  {
    std::lock_guard lock(state_->mu);
    state_->jobs.push_back(std::move(job));
  }
  state_->cv.notify_one();
}

// --- Shared ------------------------------------------------------------------------------

Shared::Shared(const Config& c, SandboxService& sandboxes, Clock& clock, TrustedProxies trusted)
    : config(c),
      sandboxes(sandboxes),
      clock(clock),
      log_limiter(kLogWindow, kLogBurst),
      limits(c.edge_max_connections_per_client, c.edge_max_requests_per_sandbox),
      trusted(std::move(trusted)),
      header_timeout(std::chrono::seconds(c.edge_header_timeout_s)),
      idle_timeout(std::chrono::seconds(c.edge_idle_timeout_s)),
      upstream_timeout(std::chrono::seconds(c.edge_upstream_timeout_s)),
      wake_timeout(std::chrono::seconds(c.wake_timeout_s)),
      flights(
          [this](const std::string& id) { return this->sandboxes.wake(id, Trigger::kPreview); }),
      jobs(4) {}

void Shared::log(const char* kind, spdlog::level::level_enum level,
                 const std::function<std::string()>& message) {
  auto v = log_limiter.admit(kind, clock.steady_now());
  if (!v.log) return;
  if (v.suppressed > 0)
    spdlog::log(level, "edge: suppressed {} similar lines ({})", v.suppressed, kind);
  if (v.last) {
    spdlog::log(level, "{} (similar lines are suppressed for up to {} s)", message(),
                std::chrono::duration_cast<std::chrono::seconds>(kLogWindow).count());
  } else {
    spdlog::log(level, "{}", message());
  }
}

// --- Upstream and its pool ---------------------------------------------------------------

Upstream::~Upstream() {
  if (fd >= 0) ::close(fd);
}

void Upstream::on_io(uint32_t events) {
  if (owner) {
    owner->on_upstream_io(events);
  } else if (pool && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    pool->on_idle_event(this);
  }
}

Upstream* UpstreamPool::take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  Upstream* u = it->second.back();  // the most recently used: least likely to be closing
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  --total_;
  u->pool = nullptr;
  // Idle and checked: nothing to read (bytes or an EOF would have closed it, or their
  // event is still queued and reaches the new owner), room to write.
  u->readable = false;
  u->writable = true;
  return u;
}

void UpstreamPool::put(Upstream* u) {
  auto& list = idle_[u->key];
  if (list.size() >= kPerKey || total_ >= kTotal) {
    if (list.empty()) idle_.erase(u->key);
    return close(u);
  }
  u->pool = this;
  u->out.clear();
  u->out_off = 0;
  u->idle_since = SteadyClock::now();
  list.push_back(u);
  ++total_;
}

void UpstreamPool::erase(Upstream* u) {
  auto it = idle_.find(u->key);
  if (it == idle_.end()) return;
  auto& list = it->second;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i] != u) continue;
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
    --total_;
    break;
  }
  if (list.empty()) idle_.erase(it);
}

void UpstreamPool::on_idle_event(Upstream* u) {
  erase(u);
  close(u);
}

void UpstreamPool::close(Upstream* u) {
  u->pool = nullptr;
  u->owner = nullptr;
  loop_.remove(u->fd);
  ::close(u->fd);
  u->fd = -1;
  loop_.retire(u);
}

void UpstreamPool::sweep(SteadyClock::time_point now) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    // Oldest first: the list is in put order.
    std::size_t stale = 0;
    while (stale < list.size() && now - list[stale]->idle_since >= kIdle) ++stale;
    for (std::size_t i = 0; i < stale; ++i) close(list[i]);
    list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(stale));
    total_ -= stale;
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
}

void UpstreamPool::close_all() {
  for (auto& [key, list] : idle_)
    for (Upstream* u : list) close(u);
  idle_.clear();
  total_ = 0;
}

// --- Worker ------------------------------------------------------------------------------

Worker::Worker(Shared& s, int listen_fd)
    : shared(s), pool(loop), scratch(kScratch), listen_fd_(listen_fd) {
  listener_.worker = this;
}

Worker::~Worker() {
  for (auto& [id, c] : conns_) delete c;
}

Status Worker::init() {
  if (auto st = loop.init(); !st.is_ok()) return st;
  // Every loop watches the one listening socket; EPOLLEXCLUSIVE wakes one of them.
  return loop.add(listen_fd_, EPOLLIN | EPOLLEXCLUSIVE, &listener_);
}

void Worker::run() {
  loop.run(kTick, [this] { tick(); });
  // Stopped: end every connection (their sockets close; sandboxes are left alone).
  std::vector<ClientConn*> open;
  for (auto& [id, c] : conns_) open.push_back(c);
  for (ClientConn* c : open) c->close_now();
  pool.close_all();
  loop.reap();  // now, while Shared (which their destructors use) still exists
}

void Worker::stop() { loop.stop(); }

ClientConn* Worker::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second;
}

void Worker::forget(uint64_t id) { conns_.erase(id); }

void Worker::post_to(uint64_t id, std::function<void(ClientConn&)> fn) {
  loop.post([this, id, fn = std::move(fn)] {
    ClientConn* c = find(id);
    if (!c) return;
    fn(*c);
    if (!c->closed()) c->drive();
  });
}

void Worker::note_activity(const std::string& sandbox, SteadyClock::time_point now) {
  auto [it, fresh] = activity_.try_emplace(sandbox, now);
  if (!fresh) {
    if (now - it->second < kActivityEvery) return;
    it->second = now;
  }
  shared.jobs.push(
      [s = &shared, sandbox] { s->sandboxes.record_activity(sandbox, Trigger::kPreview); });
}

void Worker::refuse(int fd, int status, const std::string& message) {
  std::string out;
  append_reply(out, status_reply(status, message, false), false, false);
  // Read what already arrived first: closing with unread bytes would reset the
  // connection and lose the answer.
  char sink[4096];
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
  }
  (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

void Worker::accept_ready() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        int err = errno;
        shared.log("accept", spdlog::level::warn, [&] {
          return fmt::format("edge: accept: {}; raise the open-files limit (ulimit -n)",
                             std::strerror(err));
        });
        // The pending connection stays queued; one retry in 100 ms (not one per event).
        if (!accept_retry_armed_) {
          accept_retry_armed_ = true;
          loop.after(Ms(100), [this] {
            accept_retry_armed_ = false;
            accept_ready();
          });
        }
      }
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    PeerAddress peer = PeerAddress::from(addr);
    const bool trusted = shared.trusted.contains(peer);
    if (shared.connections.fetch_add(1, std::memory_order_relaxed) >=
        shared.config.wake_max_connections) {
      shared.connections.fetch_sub(1, std::memory_order_relaxed);
      Counters::bump(counters.over_total_cap);
      shared.log("total_cap", spdlog::level::warn, [&] {
        return fmt::format(
            "edge: {} open connections, the cap (SANDBOXD_WAKE_MAX_CONNECTIONS); answering 503",
            shared.config.wake_max_connections);
      });
      refuse(fd, 503, "too many open preview connections");
      continue;
    }
    auto* c = new ClientConn(*this, fd, std::move(peer), trusted, next_id_++);
    if (!trusted) {
      if (!shared.limits.add_client(c->peer_.text)) {
        shared.log("client_cap", spdlog::level::warn, [&] {
          return fmt::format("edge: {} has {} connections open, the cap; answering 429",
                             c->peer_.text, shared.config.edge_max_connections_per_client);
        });
        c->fd_ = -1;
        delete c;
        Counters::bump(counters.over_client_cap);
        refuse(fd, 429, "too many connections from your address");
        continue;
      }
      c->counted_client_ = true;
    }
    if (!loop.add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, c).is_ok()) {
      delete c;
      ::close(fd);
      continue;
    }
    conns_[c->id_] = c;
    Counters::bump(counters.accepted);
    c->start();
  }
  // More may be queued: continue after the events already waiting.
  loop.post([this] { accept_ready(); });
}

void Worker::tick() {
  auto now = SteadyClock::now();
  std::vector<ClientConn*> open;
  open.reserve(conns_.size());
  for (auto& [id, c] : conns_) open.push_back(c);
  for (ClientConn* c : open) {
    if (!c->closed() && c->on_tick(now)) c->drive();
  }
  pool.sweep(now);
}

}  // namespace sandboxd::edge
