#include "sandboxd/reaper/pressure_reaper.h"

#include <gtest/gtest.h>

#include "fakes/service_harness.h"
#include "sandboxd/base/metrics.h"

namespace sandboxd {
namespace {

TEST(PickPressureVictims, LeastRecentlyActiveFirstAndProtectedOnlyInAnEmergency) {
  std::vector<SandboxRecord> rows = {test_row("new", 300), test_row("old", 100),
                                     test_row("on", 50, IdlePolicy::kAlwaysOn),
                                     test_row("busy", 10), test_row("mid", 200)};
  rows.push_back(test_row("off", 0, IdlePolicy::kSleep, 0, SandboxStatus::kStopped));
  EXPECT_EQ(pick_pressure_victims(rows, {"busy"}, false),
            (std::vector<std::string>{"old", "mid", "new"}));
  EXPECT_EQ(pick_pressure_victims(rows, {"busy"}, true),
            (std::vector<std::string>{"old", "mid", "new", "busy", "on"}));
}

TEST(PickPressureVictims, FrozenBeforeRunningEachLeastRecentlyActiveFirst) {
  const auto frozen = [](const std::string& id, int64_t last_active,
                         IdlePolicy policy = IdlePolicy::kSleep) {
    return test_row(id, last_active, policy, 0, SandboxStatus::kFrozen);
  };
  std::vector<SandboxRecord> rows = {test_row("run-old", 100),
                                     frozen("frz-new", 400),
                                     test_row("run-new", 300),
                                     frozen("frz-old", 200),
                                     frozen("frz-on", 50, IdlePolicy::kAlwaysOn),
                                     test_row("run-on", 10, IdlePolicy::kAlwaysOn)};
  EXPECT_EQ(pick_pressure_victims(rows, {}, false),
            (std::vector<std::string>{"frz-old", "frz-new", "run-old", "run-new"}));
  EXPECT_EQ(
      pick_pressure_victims(rows, {}, true),
      (std::vector<std::string>{"frz-old", "frz-new", "run-old", "run-new", "frz-on", "run-on"}));
}

// Host memory that recovers after the first stop: its second read reports 50% available.
struct RecoversAfterOneStop : MemoryProbe {
  FakeMemoryProbe& inner;
  int calls = 0;
  explicit RecoversAfterOneStop(FakeMemoryProbe& m) : inner(m) {}
  Result<MemInfo> read() override {
    if (++calls == 2) inner.available_pct = 50;
    return inner.read();
  }
};

class PressureTest : public testing::Test {
 protected:
  PressureTest() : h_("pressure-test") {
    h_.config.mem_headroom_pct = 15;
    h_.config.mem_refuse_pct = 10;
    h_.config.mem_emergency_pct = 5;
    h_.init();
  }
  void create(const std::string& id, IdlePolicy policy = IdlePolicy::kSleep) {
    h_.create(id, policy);
    h_.clock.advance(std::chrono::seconds(1));  // distinct activity times
  }
  std::optional<SandboxStatus> status(const std::string& id) { return h_.status(id); }

  ServiceHarness h_;
};

TEST_F(PressureTest, NothingHappensWithHeadroom) {
  create("a1");
  PressureReaper reaper(*h_.service, h_.memory, h_.config, h_.metrics);
  EXPECT_EQ(*reaper.tick(), 0);
  EXPECT_EQ(status("a1"), SandboxStatus::kRunning);
}

TEST_F(PressureTest, StopsTheLeastRecentlyActiveUntilMemoryRecovers) {
  create("oldest");
  create("middle");
  create("newest");
  create("on1", IdlePolicy::kAlwaysOn);
  h_.memory.available_pct = 12;  // under headroom, above refuse
  // Each stop frees memory in this fake only when the test says so: after the first stop
  // the host has recovered.
  RecoversAfterOneStop probe(h_.memory);
  PressureReaper reaper(*h_.service, probe, h_.config, h_.metrics);
  EXPECT_EQ(*reaper.tick(), 1);
  EXPECT_EQ(status("oldest"), SandboxStatus::kStopped);
  EXPECT_EQ((**h_.store->get("oldest")).stop_reason, "memory pressure");
  EXPECT_EQ(status("middle"), SandboxStatus::kRunning);
  EXPECT_EQ(status("on1"), SandboxStatus::kRunning);
}

TEST_F(PressureTest, StopsAFrozenSandboxBeforeALessRecentlyActiveRunningOne) {
  create("running1");
  create("frozen1");
  ASSERT_TRUE(h_.service->freeze_if("frozen1", [](const SandboxRecord&) { return true; }));
  ASSERT_EQ(status("frozen1"), SandboxStatus::kFrozen);
  h_.memory.available_pct = 12;
  RecoversAfterOneStop probe(h_.memory);
  PressureReaper reaper(*h_.service, probe, h_.config, h_.metrics);
  EXPECT_EQ(*reaper.tick(), 1);
  EXPECT_EQ(status("frozen1"), SandboxStatus::kStopped);
  EXPECT_EQ((**h_.store->get("frozen1")).stop_reason, "memory pressure");
  auto c = h_.runtime.container((**h_.store->get("frozen1")).container_name);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->running);
  EXPECT_FALSE(c->paused);
  EXPECT_EQ(status("running1"), SandboxStatus::kRunning);
}

TEST_F(PressureTest, AlwaysOnIsStoppedOnlyInTheEmergencyBand) {
  create("on1", IdlePolicy::kAlwaysOn);
  h_.memory.available_pct = 8;
  PressureReaper reaper(*h_.service, h_.memory, h_.config, h_.metrics);
  EXPECT_EQ(*reaper.tick(), 0);
  EXPECT_EQ(status("on1"), SandboxStatus::kRunning);
  h_.memory.available_pct = 3;
  const MetricLabels emergency = {{"reaper", "emergency"}, {"action", "stop"}};
  EXPECT_EQ(*reaper.tick(), 1);
  EXPECT_EQ(status("on1"), SandboxStatus::kStopped);
  EXPECT_EQ((**h_.store->get("on1")).stop_reason, "memory emergency");
  EXPECT_EQ(h_.metrics.counter("sandboxd_reaper_actions_total", emergency), 1);
}

TEST_F(PressureTest, CreatesAndStartsAreRefusedBelowTheRefuseBand) {
  create("a1");
  ASSERT_TRUE(h_.service->stop("a1"));
  h_.memory.available_pct = 9;
  CreateRequest req;
  req.id = "b1";
  auto created = h_.service->create(req);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), Code::kUnavailable);
  EXPECT_FALSE(h_.store->get("b1")->has_value());
  auto started = h_.service->start("a1", Trigger::kApi);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code(), Code::kUnavailable);
  EXPECT_EQ(status("a1"), SandboxStatus::kStopped);
  h_.memory.available_pct = 50;
  EXPECT_TRUE(h_.service->start("a1", Trigger::kApi));
  // The refused create and start count as failed operations.
  EXPECT_EQ(h_.metrics.counter("sandboxd_sandbox_operations_total",
                               {{"op", "start"}, {"trigger", "api"}, {"result", "error"}}),
            1);
  EXPECT_EQ(h_.metrics.counter("sandboxd_sandbox_operations_total",
                               {{"op", "create"}, {"trigger", "api"}, {"result", "error"}}),
            1);
}

TEST(ParseMeminfo, ReadsTotalAndAvailable) {
  auto m =
      parse_meminfo("MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   12000000 kB\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->total_bytes, 24000000LL * 1024);
  EXPECT_DOUBLE_EQ(m->available_pct(), 50.0);
  EXPECT_FALSE(parse_meminfo("garbage"));
}

}  // namespace
}  // namespace sandboxd
