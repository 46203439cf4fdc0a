// ServiceHarness: a SandboxService on fakes (FakeRuntime, FakeClock, FakeDisks), an
// in-memory Store, its own Metrics and real Workspaces in a private temp dir (workspaces
// are given to per-sandbox uids: run as root). Tests adjust `config` before init().
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fakes/fake_clock.h"
#include "fakes/fake_disks.h"
#include "fakes/fake_memory.h"
#include "fakes/fake_runtime.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

struct ServiceHarness {
  explicit ServiceHarness(const std::string& name)
      : base(testing::TempDir() + "/" + name + "-" + std::to_string(::getpid())) {
    std::filesystem::remove_all(base);
    std::filesystem::create_directories(base);
    config.data_dir = base;
  }
  ~ServiceHarness() { std::filesystem::remove_all(base); }

  // Builds the store, workspaces and service from the current config.
  void init() {
    store = std::move(*Store::open(":memory:"));
    workspaces = std::make_unique<Workspaces>(config.workspaces_dir(), disks);
    service = std::make_unique<SandboxService>(config, *store, runtime, clock, *workspaces, memory,
                                               metrics, /*egress=*/nullptr);
    ASSERT_TRUE(service->init().is_ok());
  }

  // Creates sandbox `id` through the service (a test failure if that fails).
  SandboxRecord create(const std::string& id, IdlePolicy policy = IdlePolicy::kSleep) {
    CreateRequest req;
    req.id = id;
    req.idle_policy = policy;
    auto r = service->create(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : SandboxRecord{};
  }
  // The stored status of `id`, nullopt without a row.
  std::optional<SandboxStatus> status(const std::string& id) {
    auto row = store->get(id);
    if (!row || !row->has_value()) return std::nullopt;
    return (*row)->status;
  }

  std::string base;
  Config config;
  FakeClock clock;
  FakeRuntime runtime;
  Metrics metrics;
  FakeMemoryProbe memory;
  FakeDisks disks;
  std::unique_ptr<Store> store;
  std::unique_ptr<Workspaces> workspaces;
  std::unique_ptr<SandboxService> service;
};

// A row for pure decision tests (pick_idle, pick_pressure_victims).
inline SandboxRecord test_row(const std::string& id, int64_t last_active,
                              IdlePolicy policy = IdlePolicy::kSleep, int64_t keepalive = 0,
                              SandboxStatus status = SandboxStatus::kRunning) {
  SandboxRecord r;
  r.id = id;
  r.status = status;
  r.idle_policy = policy;
  r.last_active_at = last_active;
  r.keepalive_until = keepalive;
  return r;
}

// A task row for store and retention tests: opencode, prompt "p", started 10 ms before it
// finished (at 1 when it has not).
inline TaskRecord test_task(const std::string& id, const std::string& sandbox, TaskStatus status,
                            int64_t finished_at) {
  TaskRecord t;
  t.id = id;
  t.sandbox_id = sandbox;
  t.agent = Agent::kOpenCode;
  t.prompt = "p";
  t.status = status;
  t.created_at = t.started_at = finished_at ? finished_at - 10 : 1;
  t.finished_at = finished_at;
  return t;
}

}  // namespace sandboxd
