// ServiceHarness: a SandboxService on fakes (FakeDocker, FakeClock), an in-memory Store
// and real Workspaces in a private temp dir (owned by the test's uid). Tests adjust
// `config` before calling init().
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fakes/fake_clock.h"
#include "fakes/fake_docker.h"
#include "fakes/fake_memory.h"
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
    workspaces = std::make_unique<Workspaces>(config.workspaces_dir(), ::getuid(), ::getgid());
    service = std::make_unique<SandboxService>(config, *store, docker, clock, *workspaces, memory);
    ASSERT_TRUE(service->init().is_ok());
  }

  std::string base;
  Config config;
  FakeClock clock;
  FakeDocker docker;
  FakeMemoryProbe memory;
  std::unique_ptr<Store> store;
  std::unique_ptr<Workspaces> workspaces;
  std::unique_ptr<SandboxService> service;
};

}  // namespace sandboxd
