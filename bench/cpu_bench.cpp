// bench/cpu: CPU isolation. The same measurements with the host quiet and with one
// sandbox running a busy loop per CPU of the host and more (8 loops), held to its
// --cpus (SANDBOXD_DEFAULT_CPUS, 1 here), side by side in one run:
//   healthz: GET /healthz of sandboxd, N requests: p50 and p99;
//   wake:    first byte of GET / through the wake listener to another, stopped
//            sandbox (start + dev server up + proxy), W wakes: median;
//   burner:  CPUs the burning sandbox used over the busy phase (from its cgroup, GET
//            usage.cpu_seconds), against its cap.
// Targets: healthz p99 ratio (busy/quiet) <= 2; wake ratio <= 1.5; burner <= its cap
// + 10%. Printed, never asserted: the exit status says only whether the run worked.
// Own sandboxd (private instance, network and data dir); everything removed on exit.
// Usage: build/bench_cpu [N] [W]   (defaults 500 and 5; root, dockerd, the image)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "integration/daemon.h"

using namespace sandboxd::testing_support;
using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

[[noreturn]] void die(const std::string& what, const std::string& log = "") {
  std::fprintf(stderr, "bench/cpu: %s\n%s", what.c_str(), log.c_str());
  std::exit(1);
}

double ms_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Figures {
  double health_p50 = 0, health_p99 = 0, wake_median = 0;
};

Figures measure(Daemon& d, int n, int w) {
  std::vector<double> health, wake;
  for (int i = 0; i < n; ++i) {
    auto t0 = SteadyClock::now();
    auto r = d.http().Get("/healthz");
    if (!r || r->status != 200) die("healthz failed", d.log());
    health.push_back(ms_since(t0));
  }
  for (int i = 0; i < w; ++i) {
    auto s = d.http().Post("/v1/sandboxes/app/stop", "", "application/json");
    if (!s || s->status != 200) die("stop app failed", d.log());
    auto t0 = SteadyClock::now();
    auto r = d.preview("app", 3000)->Get("/");
    if (!r || r->body != "up") die("wake failed", d.log());
    wake.push_back(ms_since(t0));
  }
  return {pct(health, 0.5), pct(health, 0.99), pct(wake, 0.5)};
}

double cpu_seconds(Daemon& d) {
  auto r = d.http().Get("/v1/sandboxes/burn");
  if (!r || r->status != 200) die("GET burn failed");
  return json::parse(r->body)["usage"]["cpu_seconds"].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(10, std::atoi(argv[1])) : 500;
  const int w = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  Daemon d("benchcpu", {{"SANDBOXD_DEFAULT_CPUS", "1"},
                        {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "0"},
                        {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "0"}});
  if (!d.start()) die("sandboxd did not start", d.log());
  for (const char* body : {R"({"id":"burn"})", R"({"id":"app","ports":[3000]})"}) {
    auto r = d.http().Post("/v1/sandboxes", body, "application/json");
    if (!r || r->status != 201) die(std::string("create failed: ") + body, d.log());
  }
  if (!d.write_node_app("app",
                        "require('http').createServer((q, s) => s.end('up'))"
                        ".listen(process.env.PORT);"))
    die("app write failed");
  std::printf("bench/cpu: N=%d healthz requests, W=%d wakes, per phase\n", n, w);
  Figures quiet = measure(d, n, w);
  json burn = d.exec("burn", {{"cmd",
                               {"sh", "-c",
                                "for i in 1 2 3 4 5 6 7 8; do (while :; do :; done) "
                                ">/dev/null 2>&1 & done"}}});
  if (burn.is_null() || burn["exit_code"] != 0) die("burner did not start");
  double c0 = cpu_seconds(d);
  auto t0 = SteadyClock::now();
  Figures busy = measure(d, n, w);
  double burned = (cpu_seconds(d) - c0) / (ms_since(t0) / 1000);
  std::printf("healthz p50:  quiet %7.2f ms   busy %7.2f ms\n", quiet.health_p50, busy.health_p50);
  std::printf("healthz p99:  quiet %7.2f ms   busy %7.2f ms\n", quiet.health_p99, busy.health_p99);
  std::printf("wake median:  quiet %7.0f ms   busy %7.0f ms\n", quiet.wake_median,
              busy.wake_median);
  std::printf("burner:       %.2f CPUs used, cap 1.00\n", burned);
  double health_ratio = busy.health_p99 / quiet.health_p99;
  double wake_ratio = busy.wake_median / quiet.wake_median;
  std::printf("ratio healthz p99 busy/quiet: %.2f (target <= 2.00: %s)\n", health_ratio,
              health_ratio <= 2.0 ? "met" : "NOT met");
  std::printf("ratio wake busy/quiet:        %.2f (target <= 1.50: %s)\n", wake_ratio,
              wake_ratio <= 1.5 ? "met" : "NOT met");
  std::printf("burner within its cap:        %.2f (target <= 1.10: %s)\n", burned,
              burned <= 1.1 ? "met" : "NOT met");
  return 0;
}
