#include "sandboxd/edge/edge.h"

#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "worker.h"

namespace sandboxd {
namespace {

// A non-blocking listening socket on `addr` with SO_REUSEPORT (one per loop; the kernel
// spreads new connections across them); -1 with errno.
int listen_on(const sockaddr* addr, socklen_t len) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
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
  for (int fd : listen_fds_) ::close(fd);
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
  for (int i = 0; i < threads; ++i) {
    int fd = listen_on(reinterpret_cast<sockaddr*>(&addr), addr_len);
    if (fd < 0)
      return Status(Code::kUnavailable,
                    "edge: bind " + host + ":" + service + ": " + std::strerror(errno));
    listen_fds_.push_back(fd);
    if (i == 0) {
      // Port 0 chose a port: the other loops' sockets join that one.
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      auto* p = bound.ss_family == AF_INET6 ? &reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : &reinterpret_cast<sockaddr_in*>(&bound)->sin_port;
      port_ = ntohs(*p);
      if (addr.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = *p;
      } else {
        reinterpret_cast<sockaddr_in*>(&addr)->sin_port = *p;
      }
    }
    auto worker = std::make_unique<edge::Worker>(*shared_, fd);
    if (auto st = worker->init(); !st.is_ok()) return st.with_context("edge");
    workers_.push_back(std::move(worker));
  }
  for (auto& w : workers_) threads_.emplace_back([w = w.get()] { w->run(); });
  spdlog::info("edge: {} event-loop threads on {}:{}", threads, host, port_);
  return {};
}

void Edge::stop() {
  if (!shared_ || shared_->stopping.exchange(true)) return;
  shared_->flights.cancel();
  for (auto& w : workers_) w->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace sandboxd
