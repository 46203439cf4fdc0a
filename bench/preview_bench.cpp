// bench/preview: the wake listener against raw docker, measured side by side in one run.
//
//   wake:  first byte of GET / through the listener to a stopped sandbox (sandboxd starts
//          it, waits for the dev server's port, proxies)   vs   raw: `docker start` of an
//          identical container (the same sandboxd-made flags, app and image) + polling
//          its port until it accepts + the same GET to its address. N pairs, alternating.
//   proxy: one request on a fresh connection through the listener to a running sandbox
//          vs the same request straight to the container's address. M pairs, alternating;
//          p50 and p99 of each, and the p50 the listener adds. (The edge keeps client
//          connections alive; this measures a fresh connection per request, the cost a
//          client pays for its first one. bench/edge measures keep-alive.)
// Targets: wake ratio <= 1.15; proxy p50 added <= 1 ms. Printed, never asserted: the
// exit status is 0 unless something failed to run.
//
// It runs its own sandboxd (private instance, network and data dir, via the integration
// tests' harness, with docker events and the periodic reconciler off so the raw side's
// `docker start` is left alone) and removes everything on exit.
// Usage: build/bench_preview [N] [M]   (defaults 10 and 2000; root, dockerd, the image)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "integration/daemon.h"

using namespace sandboxd::testing_support;
using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

constexpr const char* kApp =
    "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT || 3000, "
    "process.env.HOST);";

[[noreturn]] void die(const std::string& what, const std::string& detail = "") {
  std::fprintf(stderr, "bench/preview: %s %s\n", what.c_str(), detail.c_str());
  std::exit(1);
}

double ms_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

int connect_once(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends one GET on fd and reads the response: until the first byte when `first_byte`,
// else the whole (small, Content-Length) response. False on any failure.
bool exchange(int fd, const std::string& host, bool first_byte) {
  std::string req = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return false;
  std::string got;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 120000) <= 0) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return !got.empty() && got.find("\r\n\r\nok") != std::string::npos;
    got.append(buf, static_cast<std::size_t>(n));
    if (first_byte) return true;
    if (got.find("\r\n\r\nok") != std::string::npos) return got.rfind("HTTP/1.1 200", 0) == 0;
  }
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * (v.size() - 1))];
}

std::string ip_of(Daemon& d, const std::string& id) {
  json c = docker_inspect(d.container(id));
  if (c.is_null()) return "";
  return c["NetworkSettings"]["Networks"][d.network()]["IPAddress"].get<std::string>();
}

void make_app(Daemon& d, const std::string& id) {
  auto r = d.http().Post("/v1/sandboxes", json{{"id", id}, {"ports", {3000}}}.dump(),
                         "application/json");
  if (!r || r->status != 201) die("create " + id, r ? r->body : "no answer");
  if (!d.write_node_app(id, kApp)) die("write app " + id);
  if (!eventually([&] {
        auto res = d.preview(id, 3000)->Get("/");
        return res && res->status == 200;
      }))
    die("app " + id + " never answered", d.log());
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  const int m = argc > 2 ? std::max(10, std::atoi(argv[2])) : 2000;
  Daemon d("bench", {{"SANDBOXD_DOCKER_EVENTS", "false"},
                     {"SANDBOXD_RECONCILE_INTERVAL_SECONDS", "0"},
                     {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "0"},
                     {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "0"}});
  if (!d.start()) die("sandboxd did not start", d.log());
  make_app(d, "woken");
  make_app(d, "raw");  // sandboxd made it, so the flags are the same; then it is left alone
  const std::string host = Daemon::preview_host("woken", 3000);
  const std::string raw_name = d.container("raw");
  std::printf("bench/preview: wake N=%d pairs, proxy M=%d pairs\n", n, m);

  // --- wake to first byte ------------------------------------------------------------
  std::vector<double> wake_ms, raw_ms;
  for (int i = 0; i < n; ++i) {
    auto r = d.http().Post("/v1/sandboxes/woken/stop", "", "application/json");
    if (!r || r->status != 200) die("stop woken");
    if (run_cmd({"docker", "stop", "-t", "10", raw_name}).first != 0) die("docker stop raw");

    auto t0 = SteadyClock::now();
    int fd = connect_once("127.0.0.1", d.wake_port());
    if (fd < 0 || !exchange(fd, host, true)) die("wake through the listener failed", d.log());
    wake_ms.push_back(ms_since(t0));
    ::close(fd);

    t0 = SteadyClock::now();
    if (run_cmd({"docker", "start", raw_name}).first != 0) die("docker start raw");
    std::string ip = ip_of(d, "raw");
    int rfd = -1;
    auto backoff = std::chrono::milliseconds(10);
    while ((rfd = connect_once(ip, 3000)) < 0 && ms_since(t0) < 60000) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 3 / 2, std::chrono::milliseconds(100));
    }
    if (rfd < 0 || !exchange(rfd, "raw", true)) die("raw start + port ready failed");
    raw_ms.push_back(ms_since(t0));
    ::close(rfd);
    std::printf("  wake %2d: listener %7.1f ms   raw %7.1f ms\n", i + 1, wake_ms.back(),
                raw_ms.back());
  }

  // --- proxied vs direct, on a running sandbox -----------------------------------------
  const std::string ip = ip_of(d, "woken");
  if (ip.empty()) die("no address for woken");
  std::vector<double> via, direct;
  for (int i = 0; i < m; ++i) {
    auto t0 = SteadyClock::now();
    int fd = connect_once("127.0.0.1", d.wake_port());
    if (fd < 0 || !exchange(fd, host, false)) die("proxied request failed");
    via.push_back(ms_since(t0));
    ::close(fd);
    t0 = SteadyClock::now();
    fd = connect_once(ip, 3000);
    if (fd < 0 || !exchange(fd, host, false)) die("direct request failed");
    direct.push_back(ms_since(t0));
    ::close(fd);
  }

  double wake_ratio = percentile(wake_ms, 0.5) / percentile(raw_ms, 0.5);
  double added = percentile(via, 0.5) - percentile(direct, 0.5);
  std::printf(
      "wake to first byte: listener median %.1f ms, raw (docker start + port ready) "
      "median %.1f ms\n",
      percentile(wake_ms, 0.5), percentile(raw_ms, 0.5));
  std::printf(
      "new connection per request: proxied p50 %.3f ms p99 %.3f ms, direct p50 %.3f ms "
      "p99 %.3f ms\n",
      percentile(via, 0.5), percentile(via, 0.99), percentile(direct, 0.5),
      percentile(direct, 0.99));
  std::printf("ratio wake %.2f (target <= 1.15: %s)\n", wake_ratio,
              wake_ratio <= 1.15 ? "met" : "NOT met");
  std::printf("added p50 new-connection %.3f ms (target <= 1 ms: %s)\n", added,
              added <= 1.0 ? "met" : "NOT met");
  return 0;
}
