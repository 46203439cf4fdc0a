#include "sandboxd/reconcile/reconciler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fakes/service_harness.h"

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

class ReconcilerTest : public testing::Test {
 protected:
  ReconcilerTest() : h_("reconcile-test") {
    h_.config.instance = "r1";
    h_.config.network = "net-r1";
    h_.init();
  }

  SandboxRecord create(const std::string& id, IdlePolicy policy = IdlePolicy::kSleep) {
    return h_.create(id, policy);
  }
  std::optional<SandboxStatus> status(const std::string& id) { return h_.status(id); }
  ReconcileStats tick() {
    Reconciler rec(*h_.service);
    auto r = rec.tick();
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : ReconcileStats{};
  }
  // Writes a row as a crash would have left it.
  void set_status(const std::string& id, SandboxStatus s) {
    auto row = **h_.store->get(id);
    row.status = s;
    ASSERT_TRUE(h_.store->update(row).is_ok());
  }

  ServiceHarness h_;
};

TEST_F(ReconcilerTest, AConvergedTickCostsOneDockerCallWhateverTheNumberOfSandboxes) {
  for (int i = 0; i < 40; ++i) create("s" + std::to_string(i));
  h_.runtime.clear_calls();
  auto stats = tick();
  EXPECT_EQ(stats.rows, 40);
  EXPECT_EQ(stats.converged, 0);
  EXPECT_EQ(h_.runtime.calls(), std::vector<std::string>{"list"});
}

TEST_F(ReconcilerTest, ARunningRowWhoseContainerExitedBecomesStopped) {
  create("a1");
  h_.runtime.set_running("r1-s-a1", false);
  EXPECT_EQ(tick().converged, 1);
  EXPECT_EQ(status("a1"), SandboxStatus::kStopped);
  EXPECT_NE((**h_.store->get("a1")).stop_reason.find("exited"), std::string::npos);
  EXPECT_EQ(tick().converged, 0);
}

TEST_F(ReconcilerTest, AVanishedContainerMarksStoppedAndTheNextStartRecreatesIt) {
  create("a1");
  h_.runtime.drop_container("r1-s-a1");
  tick();
  EXPECT_EQ(status("a1"), SandboxStatus::kStopped);
  ASSERT_TRUE(h_.service->start("a1", Trigger::kApi));
  EXPECT_TRUE(h_.runtime.container("r1-s-a1")->running);
}

TEST_F(ReconcilerTest, AnAlwaysOnSandboxWhoseContainerDiedIsStartedAgain) {
  create("on1", IdlePolicy::kAlwaysOn);
  h_.runtime.drop_container("r1-s-on1");
  tick();
  EXPECT_EQ(status("on1"), SandboxStatus::kRunning);
  EXPECT_TRUE(h_.runtime.container("r1-s-on1")->running);
}

TEST_F(ReconcilerTest, AContainerRunningForAStoppedRowIsStopped) {
  create("a1");
  ASSERT_TRUE(h_.service->stop("a1"));
  h_.runtime.set_running("r1-s-a1", true);
  tick();
  EXPECT_FALSE(h_.runtime.container("r1-s-a1")->running);
  EXPECT_EQ(status("a1"), SandboxStatus::kStopped);
}

TEST_F(ReconcilerTest, InterruptedOperationsAreFinished) {
  create("st");
  ASSERT_TRUE(h_.service->stop("st"));
  set_status("st", SandboxStatus::kStarting);
  create("sp");
  set_status("sp", SandboxStatus::kStopping);
  create("dl");
  set_status("dl", SandboxStatus::kDeleting);
  create("pg");
  set_status("pg", SandboxStatus::kPurging);
  tick();
  EXPECT_EQ(status("st"), SandboxStatus::kRunning);
  EXPECT_EQ(status("sp"), SandboxStatus::kStopped);
  EXPECT_EQ((**h_.store->get("sp")).stop_reason, "interrupted stop finished by the reconciler");
  EXPECT_EQ(status("dl"), std::nullopt);
  EXPECT_TRUE(fs::exists(h_.workspaces->path("dl")));
  EXPECT_EQ(status("pg"), std::nullopt);
  EXPECT_FALSE(fs::exists(h_.workspaces->path("pg")));
  EXPECT_FALSE(h_.runtime.container("r1-s-dl"));
}

TEST_F(ReconcilerTest, AnInterruptedCreateIsFinished) {
  SandboxRecord row;
  row.id = "cr1";
  row.status = SandboxStatus::kCreating;
  row.image = h_.config.image;
  row.container_name = "r1-s-cr1";
  row.env = {{"K", "v"}};
  row.limits = h_.config.default_limits;
  ASSERT_TRUE(h_.store->insert(row).is_ok());
  tick();
  EXPECT_EQ(status("cr1"), SandboxStatus::kRunning);
  ASSERT_TRUE(h_.runtime.container("r1-s-cr1"));
  std::ifstream env(h_.config.identity_dir() + "/cr1/run/env");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(env)), {}),
            std::string("K=v\0SANDBOXED_PORTS=\0", 21));
  EXPECT_TRUE(fs::is_directory(h_.workspaces->path("cr1") + "/workspace/app"));
}

TEST_F(ReconcilerTest, OrphansOfThisInstallationAreRemovedOthersAreKept) {
  RunSpec ours;
  ours.name = "r1-s-gone";
  ours.network = "net-r1";
  ours.labels = {{"sandboxed.managed", "true"},
                 {"sandboxed.instance", "r1"},
                 {"sandboxed.id", "gone"},
                 {"sandboxed.install", h_.service->install_id()}};
  ASSERT_TRUE(h_.runtime.create(ours));
  RunSpec foreign = ours;
  foreign.name = "r1-s-other";
  foreign.labels["sandboxed.id"] = "other";
  foreign.labels["sandboxed.install"] = "someone-else";
  ASSERT_TRUE(h_.runtime.create(foreign));
  auto stats = tick();
  EXPECT_EQ(stats.orphans, 2);
  EXPECT_FALSE(h_.runtime.container("r1-s-gone"));
  EXPECT_TRUE(h_.runtime.container("r1-s-other"));
}

}  // namespace
}  // namespace sandboxd
