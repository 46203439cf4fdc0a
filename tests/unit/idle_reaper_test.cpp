#include "sandboxd/reaper/idle_reaper.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <set>
#include <thread>

#include "fakes/service_harness.h"
#include "sandboxd/base/metrics.h"

namespace sandboxd {
namespace {

using std::chrono::seconds;

TEST(PickIdle, ChoosesOnlyRunningSleepersPastThresholdAndKeepaliveAndNotBusy) {
  const int64_t now = 100'000, threshold = 10'000;
  std::vector<SandboxRecord> rows = {
      test_row("idle", 80'000),
      test_row("recent", 95'000),
      test_row("always", 0, IdlePolicy::kAlwaysOn),
      test_row("kept", 0, IdlePolicy::kSleep, 150'000),
      test_row("keptexpired", 0, IdlePolicy::kSleep, 99'000),
      test_row("stopped", 0, IdlePolicy::kSleep, 0, SandboxStatus::kStopped),
      test_row("busy", 0),
      test_row("edge", 90'000),
  };
  EXPECT_EQ(pick_idle(rows, now, threshold, {"busy"}),
            (std::vector<std::string>{"idle", "keptexpired", "edge"}));
}

TEST(PickIdle, StopsFrozenSleepersPastThresholdAndKeepaliveAndNotBusy) {
  const int64_t now = 100'000, threshold = 10'000;
  const auto frozen = [](const std::string& id, int64_t last_active,
                         IdlePolicy policy = IdlePolicy::kSleep, int64_t keepalive = 0) {
    return test_row(id, last_active, policy, keepalive, SandboxStatus::kFrozen);
  };
  std::vector<SandboxRecord> rows = {
      frozen("idle", 80'000),
      frozen("recent", 95'000),
      frozen("always", 0, IdlePolicy::kAlwaysOn),
      frozen("kept", 0, IdlePolicy::kSleep, 150'000),
      frozen("busy", 0),
      test_row("running", 0),
  };
  EXPECT_EQ(pick_idle(rows, now, threshold, {"busy"}),
            (std::vector<std::string>{"idle", "running"}));
}

TEST(PickFreeze, FreezesOnlyRunningSleepersPastFreezeAfterThatAreNotYetDueToStop) {
  const int64_t now = 100'000;
  struct Case {
    const char* name;
    SandboxRecord row;
    int64_t freeze_after_ms = 10'000;
    int64_t threshold_ms = 60'000;
    bool busy = false;
    bool want = false;
  };
  const Case cases[] = {
      {"idle past freeze_after", test_row("s", 80'000), 10'000, 60'000, false, true},
      {"exactly at freeze_after", test_row("s", 90'000), 10'000, 60'000, false, true},
      {"keepalive expired", test_row("s", 80'000, IdlePolicy::kSleep, 99'000), 10'000, 60'000,
       false, true},
      {"not idle long enough", test_row("s", 95'000)},
      {"busy", test_row("s", 80'000), 10'000, 60'000, /*busy=*/true},
      {"always_on", test_row("s", 0, IdlePolicy::kAlwaysOn)},
      {"held by keepalive", test_row("s", 80'000, IdlePolicy::kSleep, 150'000)},
      {"already frozen", test_row("s", 80'000, IdlePolicy::kSleep, 0, SandboxStatus::kFrozen)},
      {"stopped", test_row("s", 80'000, IdlePolicy::kSleep, 0, SandboxStatus::kStopped)},
      {"due to stop: stopped, not frozen first", test_row("s", 30'000)},
      {"freeze disabled (0)", test_row("s", 80'000), 0, 60'000},
      {"freeze_after equals the threshold", test_row("s", 0), 60'000, 60'000},
      {"freeze_after above the threshold", test_row("s", 30'000), 65'000, 60'000},
  };
  for (const auto& c : cases) {
    std::set<std::string> busy;
    if (c.busy) busy.insert("s");
    auto got = pick_freeze({c.row}, now, c.freeze_after_ms, c.threshold_ms, busy);
    EXPECT_EQ(got, c.want ? std::vector<std::string>{"s"} : std::vector<std::string>{}) << c.name;
  }
}

TEST(PickFreeze, KeepsTheOrderOfTheRows) {
  std::vector<SandboxRecord> rows = {test_row("b", 80'000), test_row("x", 99'000),
                                     test_row("a", 85'000)};
  EXPECT_EQ(pick_freeze(rows, 100'000, 10'000, 60'000, {}), (std::vector<std::string>{"b", "a"}));
}

TEST(IdleInfo, SaysWhenARunningSleeperFreezesAndNeverForOthers) {
  const int64_t last = 1'000'000;
  Config base;
  base.idle_threshold_s = 60;
  base.freeze_after_s = 10;
  base.idle_reap_interval_s = 30;
  struct Case {
    const char* name;
    SandboxRecord row;
    int freeze_after_s = 10;
    bool busy = false;
    int64_t freezes_at = 0;
    int64_t stops_at = 0;
    const char* reason_has = "";
  };
  const Case cases[] = {
      {"running sleeper", test_row("s", last), 10, false, last + 10'000, last + 60'000,
       "idle since"},
      {"keepalive past freeze_after", test_row("s", last, IdlePolicy::kSleep, last + 30'000), 10,
       false, last + 30'000, last + 60'000, "idle since"},
      {"keepalive past the threshold", test_row("s", last, IdlePolicy::kSleep, last + 90'000), 10,
       false, 0, last + 90'000, "kept alive"},
      {"frozen already", test_row("s", last, IdlePolicy::kSleep, 0, SandboxStatus::kFrozen), 10,
       false, 0, last + 60'000, "frozen"},
      {"freeze disabled (0)", test_row("s", last), 0, false, 0, last + 60'000, "idle since"},
      {"freeze_after equals the threshold", test_row("s", last), 60, false, 0, last + 60'000,
       "idle since"},
      {"always_on", test_row("s", last, IdlePolicy::kAlwaysOn), 10, false, 0, 0, "always_on"},
      {"busy", test_row("s", last), 10, /*busy=*/true, 0, 0, "busy"},
      {"stopped", test_row("s", last, IdlePolicy::kSleep, 0, SandboxStatus::kStopped), 10, false, 0,
       0, "stopped"},
  };
  for (const auto& c : cases) {
    Config config = base;
    config.freeze_after_s = c.freeze_after_s;
    IdleInfo info = idle_info(c.row, config, c.busy);
    EXPECT_EQ(info.freezes_at_ms, c.freezes_at) << c.name;
    EXPECT_EQ(info.stops_at_ms, c.stops_at) << c.name;
    EXPECT_NE(info.reason.find(c.reason_has), std::string::npos) << c.name << ": " << info.reason;
  }
  Config off = base;
  off.idle_reap_interval_s = 0;
  IdleInfo info = idle_info(test_row("s", last), off, false);
  EXPECT_EQ(info.freezes_at_ms, 0);
  EXPECT_EQ(info.stops_at_ms, 0);
}

class IdleReaperTest : public testing::Test {
 protected:
  IdleReaperTest() : h_("reaper-test") {
    h_.config.idle_threshold_s = 60;
    h_.config.freeze_after_s = 10;
    h_.init();
  }
  void create(const std::string& id, IdlePolicy policy = IdlePolicy::kSleep) {
    h_.create(id, policy);
  }
  std::optional<SandboxStatus> status(const std::string& id) { return h_.status(id); }
  // The fake's container of sandbox `id`.
  FakeRuntime::Container container(const std::string& id) {
    return *h_.runtime.container((**h_.store->get(id)).container_name);
  }
  IdleReaper reaper() { return IdleReaper(*h_.service, h_.clock, 60'000, 10'000, h_.metrics); }

  ServiceHarness h_;
};

TEST_F(IdleReaperTest, StopsTheIdleAndSparesKeptAliveAlwaysOnAndBusySandboxes) {
  create("idle1");
  create("kept1");
  create("on1", IdlePolicy::kAlwaysOn);
  create("busy1");
  create("fresh1");
  ASSERT_TRUE(h_.service->keepalive("kept1", 3600));
  // busy1 runs a long exec: the fake holds it inside the runtime call until released.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  h_.runtime.hook = [&](const std::string& verb, const std::string&) {
    if (verb != "exec") return;
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  std::thread exec([&] {
    ExecRequest req;
    req.cmd = {"sleep", "1000"};
    (void)h_.service->exec("busy1", req);
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(30), [&] { return entered; }));
  }
  ASSERT_TRUE(h_.service->busy().is_busy("busy1"));
  h_.clock.advance(seconds(61));
  ASSERT_TRUE(h_.service->keepalive("fresh1", std::nullopt));

  const MetricLabels idle_stop = {{"reaper", "idle"}, {"action", "stop"}};
  IdleReaper reaper(*h_.service, h_.clock, 60'000, 0, h_.metrics);
  auto stopped = reaper.tick();
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_EQ(*stopped, 1);
  EXPECT_EQ(h_.metrics.counter("sandboxd_reaper_actions_total", idle_stop), 1);
  EXPECT_EQ(status("idle1"), SandboxStatus::kStopped);
  EXPECT_EQ((**h_.store->get("idle1")).stop_reason, "idle");
  EXPECT_EQ(status("kept1"), SandboxStatus::kRunning);
  EXPECT_EQ(status("on1"), SandboxStatus::kRunning);
  EXPECT_EQ(status("busy1"), SandboxStatus::kRunning);
  EXPECT_EQ(status("fresh1"), SandboxStatus::kRunning);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  exec.join();
  // The end of the exec counts as activity: not idle right after it.
  EXPECT_EQ(*reaper.tick(), 0);
  EXPECT_EQ(status("busy1"), SandboxStatus::kRunning);
}

TEST_F(IdleReaperTest, IdleInfoExplainsTheDecision) {
  create("a1");
  create("on1", IdlePolicy::kAlwaysOn);
  auto a1 = **h_.store->get("a1");
  auto info_of = [&](const SandboxRecord& rec) { return idle_info(rec, h_.config, false); };
  IdleInfo info = info_of(a1);
  EXPECT_EQ(info.threshold_s, 60);
  EXPECT_EQ(info.stops_at_ms, a1.last_active_at + 60'000);
  EXPECT_EQ(info.freezes_at_ms, a1.last_active_at + 10'000);
  EXPECT_NE(info.reason.find("create"), std::string::npos) << info.reason;
  EXPECT_EQ(info_of(**h_.store->get("on1")).stops_at_ms, 0);
  EXPECT_NE(info_of(**h_.store->get("on1")).reason.find("always_on"), std::string::npos);
  EXPECT_EQ(idle_info(a1, h_.config, /*busy=*/true).stops_at_ms, 0);
  auto kept = h_.service->keepalive("a1", 3600);
  ASSERT_TRUE(kept);
  info = info_of(*kept);
  EXPECT_EQ(info.stops_at_ms, kept->keepalive_until);
  EXPECT_NE(info.reason.find("kept alive"), std::string::npos);
  ASSERT_TRUE(h_.service->stop("a1"));
  EXPECT_EQ(info_of(**h_.store->get("a1")).reason, "stopped (api)");
}

TEST_F(IdleReaperTest, FreezesAfterFreezeAfterThenStopsAfterTheThreshold) {
  create("a1");
  create("on1", IdlePolicy::kAlwaysOn);
  create("kept1");
  ASSERT_TRUE(h_.service->keepalive("kept1", 3600));
  const MetricLabels freezes = {{"reaper", "idle"}, {"action", "freeze"}};
  const MetricLabels stops = {{"reaper", "idle"}, {"action", "stop"}};
  IdleReaper r = reaper();

  h_.clock.advance(seconds(9));
  EXPECT_EQ(*r.tick(), 0);
  EXPECT_EQ(status("a1"), SandboxStatus::kRunning);

  h_.clock.advance(seconds(2));
  auto acted = r.tick();
  ASSERT_TRUE(acted) << acted.error().message();
  EXPECT_EQ(*acted, 1);
  EXPECT_EQ(status("a1"), SandboxStatus::kFrozen);
  EXPECT_TRUE(container("a1").paused);
  EXPECT_EQ(h_.metrics.counter("sandboxd_reaper_actions_total", freezes), 1);
  EXPECT_EQ(h_.metrics.counter("sandboxd_sandbox_operations_total",
                               {{"op", "freeze"}, {"trigger", "idle"}, {"result", "ok"}}),
            1);
  EXPECT_EQ(status("on1"), SandboxStatus::kRunning);
  EXPECT_EQ(status("kept1"), SandboxStatus::kRunning);
  EXPECT_FALSE(container("kept1").paused);

  // Frozen and not yet past the threshold: left alone.
  h_.clock.advance(seconds(30));
  EXPECT_EQ(*r.tick(), 0);
  EXPECT_EQ(status("a1"), SandboxStatus::kFrozen);

  h_.clock.advance(seconds(20));  // 61 s since the create
  acted = r.tick();
  ASSERT_TRUE(acted) << acted.error().message();
  EXPECT_EQ(*acted, 1);
  EXPECT_EQ(status("a1"), SandboxStatus::kStopped);
  EXPECT_EQ((**h_.store->get("a1")).stop_reason, "idle");
  EXPECT_FALSE(container("a1").running);
  EXPECT_FALSE(container("a1").paused);
  EXPECT_EQ(h_.metrics.counter("sandboxd_reaper_actions_total", stops), 1);
  EXPECT_EQ(h_.metrics.counter("sandboxd_reaper_actions_total", freezes), 1);
  EXPECT_EQ(status("on1"), SandboxStatus::kRunning);
  EXPECT_EQ(status("kept1"), SandboxStatus::kRunning);
}

TEST_F(IdleReaperTest, ActivityThawsAFrozenSandboxAndRestartsTheLadder) {
  create("a1");
  IdleReaper r = reaper();
  h_.clock.advance(seconds(11));
  ASSERT_EQ(*r.tick(), 1);
  ASSERT_EQ(status("a1"), SandboxStatus::kFrozen);

  h_.clock.advance(seconds(40));
  ExecRequest req;
  req.cmd = {"true"};
  auto ran = h_.service->exec("a1", req);
  ASSERT_TRUE(ran) << ran.error().message();
  EXPECT_EQ(status("a1"), SandboxStatus::kRunning);
  EXPECT_FALSE(container("a1").paused);

  // 61 s after the create but 21 s after the exec: frozen again, not stopped.
  h_.clock.advance(seconds(21));
  EXPECT_EQ(*r.tick(), 1);
  EXPECT_EQ(status("a1"), SandboxStatus::kFrozen);
}

TEST_F(IdleReaperTest, AFailedFreezeLeavesTheSandboxRunning) {
  create("a1");
  h_.runtime.fail_next("pause", Status(Code::kUnavailable, "docker pause failed"));
  h_.clock.advance(seconds(11));
  auto acted = reaper().tick();
  ASSERT_TRUE(acted) << acted.error().message();
  EXPECT_EQ(*acted, 0);
  EXPECT_EQ(status("a1"), SandboxStatus::kRunning);
  EXPECT_FALSE(container("a1").paused);
  EXPECT_EQ(h_.metrics.counter("sandboxd_reaper_actions_total",
                               {{"reaper", "idle"}, {"action", "freeze"}}),
            0);
}

}  // namespace
}  // namespace sandboxd
