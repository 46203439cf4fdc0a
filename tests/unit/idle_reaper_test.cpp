#include "sandboxd/reaper/idle_reaper.h"

#include <gtest/gtest.h>

#include <condition_variable>
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

class IdleReaperTest : public testing::Test {
 protected:
  IdleReaperTest() : h_("reaper-test") {
    h_.config.idle_threshold_s = 60;
    h_.init();
  }
  void create(const std::string& id, IdlePolicy policy = IdlePolicy::kSleep) {
    h_.create(id, policy);
  }
  std::optional<SandboxStatus> status(const std::string& id) { return h_.status(id); }

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
  IdleReaper reaper(*h_.service, h_.clock, 60'000, h_.metrics);
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

}  // namespace
}  // namespace sandboxd
