// bench/ticks: what one reconciler, idle-reaper and pressure-reaper tick costs with 10
// and with 100 sandboxes: wall time and docker CLI calls, counted at the process-runner
// seam (every docker call sandboxd makes goes through it). Target: the docker calls per
// tick do not grow with N (the ratio of calls at 100 to calls at 10 is 1.00).
//
// It drives sandboxd's own SandboxService, Reconciler and reapers in-process against the
// real dockerd (real DockerCliRuntime, a real SQLite file), with its own instance, network and
// data dir; the sandboxes are real running containers. Removes everything on exit.
// Usage: build/bench_ticks [TICKS]   (default 20 ticks per measurement; root, dockerd, image)
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "integration/daemon.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/os/memory.h"
#include "sandboxd/reaper/idle_reaper.h"
#include "sandboxd/reaper/pressure_reaper.h"
#include "sandboxd/reconcile/reconciler.h"
#include "sandboxd/runtime/docker_cli_runtime.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/workspace_disks.h"
#include "sandboxd/store/store.h"

using namespace sandboxd;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Counts the processes started through it, then runs them for real.
class CountingRunner final : public ProcessRunner {
 public:
  Result<ProcessOutput> run(const ProcessSpec& spec) override {
    ++calls;
    return real_.run(spec);
  }
  std::atomic<int> calls{0};

 private:
  PosixProcessRunner real_;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench/ticks: %s\n", what.c_str());
  std::exit(1);
}

struct TickCost {
  double ms = 0;
  double calls = 0;
};

template <class Fn>
TickCost measure(CountingRunner& runner, int ticks, Fn tick) {
  int before = runner.calls;
  auto t0 = SteadyClock::now();
  for (int i = 0; i < ticks; ++i) tick();
  double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
  return {ms / ticks, static_cast<double>(runner.calls - before) / ticks};
}

}  // namespace

int main(int argc, char** argv) {
  const int ticks = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  spdlog::set_level(spdlog::level::warn);  // not a line per create and purge
  const std::string tag = "bticks-" + std::to_string(::getpid());
  const std::string base = "/tmp/sandboxd-" + tag;
  std::filesystem::create_directories(base + "/state/run");
  Config config;
  config.data_dir = base;
  config.instance = tag;
  config.network = "sbx-" + tag;
  config.default_limits.memory_bytes = 64LL << 20;
  config.idle_threshold_s = 3600;  // nothing is idle: the reaper's no-op cost is measured
  config.mem_headroom_pct = 0;     // and the pressure reaper finds no pressure
  config.mem_refuse_pct = 0;
  config.mem_emergency_pct = 0;
  {
    const char* img = std::getenv("SANDBOXD_IMAGE");
    if (img && *img) config.image = img;
  }
  auto store = Store::open(config.db_path());
  if (!store) die(store.error().message());
  CountingRunner runner;
  DockerCliRuntime docker(runner, "docker", config.state_dir() + "/run", std::chrono::seconds(120));
  Metrics metrics;
  SystemClock clock;
  PosixProcessRunner plain;  // disks are made outside the ticks: not counted
  LoopDisks disks(plain, config.disks_dir());
  if (auto s = disks.init(); !s.is_ok()) die(s.message());
  Workspaces workspaces(config.workspaces_dir(), disks);
  ProcMemoryProbe memory;
  // No egress rules: the ticks' docker calls are what is measured.
  SandboxService sandboxes(config, **store, docker, clock, workspaces, memory, metrics,
                           /*egress=*/nullptr);
  if (auto s = sandboxes.init(); !s.is_ok()) die(s.message());
  Reconciler reconciler(sandboxes);
  IdleReaper idle(sandboxes, clock, int64_t{config.idle_threshold_s} * 1000,
                  int64_t{config.freeze_after_s} * 1000, metrics);
  PressureReaper pressure(sandboxes, memory, config, metrics);

  int exit_code = 0;
  std::vector<TickCost> rec, idl, prs;
  int made = 0;
  for (int target : {10, 100}) {
    for (; made < target; ++made) {
      CreateRequest req;
      req.id = "t" + std::to_string(made);
      if (auto r = sandboxes.create(req); !r) {
        std::fprintf(stderr, "bench/ticks: create: %s\n", r.error().message().c_str());
        exit_code = 1;
        break;
      }
      if ((made + 1) % 10 == 0) std::printf("  %d sandboxes running\n", made + 1);
    }
    if (exit_code) break;
    rec.push_back(measure(runner, ticks, [&] {
      if (auto r = reconciler.tick(); !r || r->converged || r->orphans) die("reconcile drifted");
    }));
    idl.push_back(measure(runner, ticks, [&] {
      if (auto r = idle.tick(); !r || *r) die("idle reaper stopped something");
    }));
    prs.push_back(measure(runner, ticks, [&] {
      if (auto r = pressure.tick(); !r || *r) die("pressure reaper stopped something");
    }));
    std::printf(
        "N=%3d: reconciler %.1f ms %.2f docker calls/tick; idle reaper %.2f ms %.2f "
        "calls/tick; pressure reaper %.2f ms %.2f calls/tick\n",
        target, rec.back().ms, rec.back().calls, idl.back().ms, idl.back().calls, prs.back().ms,
        prs.back().calls);
  }

  // Clean up: every container of the bench instance, its network and data dir.
  if (auto all = sandboxes.all())
    for (const auto& row : *all) (void)sandboxes.purge(row.id);
  testing_support::run_cmd({"docker", "network", "rm", config.network});
  std::filesystem::remove_all(base);
  if (exit_code || rec.size() != 2) return 1;

  auto ratio = [](double a, double b) { return b == 0 ? (a == 0 ? 1.0 : a) : a / b; };
  double calls_ratio = ratio(rec[1].calls, rec[0].calls);
  std::printf("ratio reconciler docker calls 100/10 %.2f (target 1.00: %s)\n", calls_ratio,
              calls_ratio <= 1.0 ? "met" : "NOT met");
  std::printf("ratio reaper docker calls 100/10 %.2f idle, %.2f pressure\n",
              ratio(idl[1].calls, idl[0].calls), ratio(prs[1].calls, prs[0].calls));
  std::printf("ratio reconciler time 100/10 %.2f (SQLite rows and JSON parsing grow with N)\n",
              ratio(rec[1].ms, rec[0].ms));
  return 0;
}
