#include "sandboxd/edge/edge.h"

#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "worker.h"

namespace sandboxd {
namespace {

// The non-blocking listening socket every loop accepts from. SO_REUSEADDR only: with
// SO_REUSEPORT a second daemon could bind the same port and silently take part of the
// traffic; a second bind must fail.
int listen_on(const sockaddr* addr, socklen_t len) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(fd, addr, len) != 0 || ::listen(fd, 4096) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

}  // namespace

Edge::Edge(const Config& config, SandboxService& sandboxes, Clock& clock)
    : config_(config), sandboxes_(sandboxes), clock_(clock) {}

Edge::~Edge() {
  stop();
  shared_.reset();  // its job and wake threads end before the workers they post to
  workers_.clear();
}

Status Edge::start(const std::string& host, int port) {
  auto trusted = TrustedProxies::parse(config_.edge_trusted_proxies);
  if (!trusted) return trusted.error().with_context("edge");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return Status(Code::kInvalidArgument, "edge: resolve " + host + ": " + ::gai_strerror(rc));
  sockaddr_storage addr{};
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  socklen_t addr_len = res->ai_addrlen;
  ::freeaddrinfo(res);

  // By default one loop per two CPUs: the sandboxes' apps run on the same cores, and on
  // 2 cores one loop served more requests than two (bench/edge, ARCHITECTURE.md).
  int threads = config_.edge_threads > 0
                    ? config_.edge_threads
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  shared_ = std::make_unique<edge::Shared>(config_, sandboxes_, clock_, std::move(*trusted));
  listen_fd_.reset(listen_on(reinterpret_cast<sockaddr*>(&addr), addr_len));
  if (!listen_fd_.ok())
    return Status(Code::kUnavailable,
                  "edge: bind " + host + ":" + service + ": " + std::strerror(errno));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<edge::Worker>(*shared_, listen_fd_.get());
    if (auto st = worker->init(); !st.is_ok()) return st.with_context("edge");
    workers_.push_back(std::move(worker));
  }
  for (auto& w : workers_) threads_.emplace_back([w = w.get()] { w->run(); });
  spdlog::info("edge: {} event-loop threads on {}:{}", threads, host, port_);
  return {};
}

std::vector<ScrapeSample> Edge::samples() const {
  if (!shared_) return {};
  uint64_t accepted = 0, total_cap = 0, client_cap = 0, opened = 0, reused = 0, failed = 0;
  uint64_t responses[2][5] = {};
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  for (const auto& w : workers_) {
    const edge::Counters& c = w->counters;
    accepted += get(c.accepted);
    total_cap += get(c.over_total_cap);
    client_cap += get(c.over_client_cap);
    opened += get(c.upstream_opened);
    reused += get(c.upstream_reused);
    failed += get(c.upstream_failed);
    for (int s = 0; s < 2; ++s)
      for (int k = 0; k < 5; ++k) responses[s][k] += get(c.responses[s][k]);
  }
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  std::vector<ScrapeSample> out = {
      {"sandboxd_edge_connections",
       {},
       d(static_cast<uint64_t>(std::max(0, shared_->connections.load())))},
      {"sandboxd_edge_connections_total", {{"result", "accepted"}}, d(accepted)},
      {"sandboxd_edge_connections_total", {{"result", "over_total_cap"}}, d(total_cap)},
      {"sandboxd_edge_connections_total", {{"result", "over_client_cap"}}, d(client_cap)},
      {"sandboxd_edge_upstream_connections_total", {{"result", "opened"}}, d(opened)},
      {"sandboxd_edge_upstream_connections_total", {{"result", "reused"}}, d(reused)},
      {"sandboxd_edge_upstream_connections_total", {{"result", "failed"}}, d(failed)},
  };
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < 5; ++k)
      out.push_back({"sandboxd_edge_responses_total",
                     {{"source", s == edge::Counters::kSandbox ? "sandbox" : "edge"},
                      {"code", std::to_string(k + 1) + "xx"}},
                     d(responses[s][k])});
  return out;
}

void Edge::stop() {
  if (!shared_ || shared_->stopping.exchange(true)) return;
  shared_->flights.cancel();
  for (auto& w : workers_) w->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace sandboxd
