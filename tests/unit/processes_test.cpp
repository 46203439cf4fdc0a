// Background processes: their rows in the Store (round trip, running first, retention
// that never drops a running one), the API's JSON of one, the exec body's `background`
// flag, and ProcessService's follower on the fake runtime (ends from exit.json, a stop,
// a purge, a missing heartbeat; forged files; the cap; a restart).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fakes/service_harness.h"
#include "sandboxd/api/json_codec.h"
#include "sandboxd/procs/process_service.h"
#include "sandboxd/store/store.h"

namespace sandboxd {
namespace {

ProcessRecord sample(const std::string& id, ProcessState state, int64_t started) {
  ProcessRecord p;
  p.id = id;
  p.sandbox_id = "sb";
  p.cmd = {"python3", "-m", "http.server", "3000"};
  p.workdir = "/home/sandbox/workspace/app";
  p.state = state;
  p.started_at = started;
  p.sandbox_started_at = 7;
  return p;
}

TEST(ProcessStore, RoundTripsEveryFieldAndListsRunningFirst) {
  auto store = std::move(*Store::open(":memory:"));
  ProcessRecord a = sample("p1", ProcessState::kExited, 100);
  a.exit_code = 3;
  a.signal = 0;
  a.timed_out = true;
  a.os_pid = 42;
  a.ended_at = 200;
  a.timeout_s = 9;
  a.sealed_env = "v1:abc";
  ASSERT_TRUE(store->insert_process(a).is_ok());
  ASSERT_TRUE(store->insert_process(sample("p2", ProcessState::kRunning, 50)).is_ok());
  EXPECT_EQ(store->insert_process(a).code(), Code::kConflict);
  auto got = store->get_process("p1");
  ASSERT_TRUE(got && *got);
  const ProcessRecord& g = **got;
  EXPECT_EQ(g.cmd, a.cmd);
  EXPECT_EQ(g.exit_code, std::optional<int>(3));
  EXPECT_TRUE(g.timed_out);
  EXPECT_EQ(g.os_pid, 42);
  EXPECT_EQ(g.ended_at, 200);
  EXPECT_EQ(g.timeout_s, 9);
  EXPECT_EQ(g.sealed_env, "v1:abc");
  EXPECT_EQ(g.sandbox_started_at, 7);
  auto list = store->list_processes("sb");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "p2");  // running, though older
  auto running = store->running_processes();
  ASSERT_TRUE(running);
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].id, "p2");
}

TEST(ProcessStore, PruneKeepsTheNewestEndedAndEveryRunningOne) {
  auto store = std::move(*Store::open(":memory:"));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(
        store->insert_process(sample("e" + std::to_string(i), ProcessState::kExited, i)).is_ok());
  ASSERT_TRUE(store->insert_process(sample("r", ProcessState::kRunning, 0)).is_ok());
  auto pruned = store->prune_processes("sb", 2);
  ASSERT_TRUE(pruned);
  EXPECT_EQ(*pruned, (std::vector<std::string>{"e2", "e1", "e0"}));
  auto left = store->list_processes("sb");
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 3u);
  EXPECT_EQ((*left)[0].id, "r");
  EXPECT_EQ((*left)[1].id, "e4");
}

TEST(ProcessJson, ShowsStateAndEndButNoEnv) {
  ProcessRecord p = sample("p1", ProcessState::kExited, 1'700'000'000'000);
  p.signal = 15;
  p.sealed_env = "v1:secret";
  auto j = nlohmann::json::parse(encode_process(p));
  EXPECT_EQ(j["state"], "exited");
  EXPECT_EQ(j["signal"], 15);
  EXPECT_TRUE(j["exit_code"].is_null());
  EXPECT_TRUE(j["pid"].is_null());
  EXPECT_TRUE(j["timeout_s"].is_null());
  EXPECT_EQ(j["output_url"], "/v1/sandboxes/sb/processes/p1/output");
  EXPECT_EQ(j.dump().find("secret"), std::string::npos);
}

TEST(ExecBody, BackgroundIsABoolean) {
  auto yes = decode_exec(R"({"cmd":["x"],"background":true})");
  ASSERT_TRUE(yes);
  EXPECT_TRUE(yes->background);
  auto no = decode_exec(R"({"cmd":["x"]})");
  ASSERT_TRUE(no);
  EXPECT_FALSE(no->background);
  auto bad = decode_exec(R"({"cmd":["x"],"background":"yes"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace sandboxd

namespace sandboxd {
namespace {

// ProcessService's follower on the fake runtime: the runner's files are written by the
// test where `sandbox-run proc` would write them (the tenant's workspace).
class ProcessFollower : public testing::Test {
 protected:
  void SetUp() override {
    h_.init();
    h_.create("pf");
    procs_ = std::make_unique<ProcessService>(h_.config, *h_.store, *h_.service, *h_.workspaces,
                                              h_.clock);
  }
  ProcessRecord start() {
    ExecRequest req;
    req.cmd = {"sleep", "600"};
    auto p = procs_->start_process("pf", req);
    EXPECT_TRUE(p) << p.error().message();
    return p ? *p : ProcessRecord{};
  }
  void write(const std::string& id, const std::string& name, const std::string& content) {
    std::string dir = h_.config.workspaces_dir() + "/pf/.sandboxed/procs/" + id;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/" + name) << content;
  }
  ProcessState state(const std::string& id) { return procs_->get("pf", id)->state; }

  ServiceHarness h_{"process-follower"};
  std::unique_ptr<ProcessService> procs_;
};

TEST_F(ProcessFollower, ExitJsonEndsItAndReleasesTheBusyHold) {
  ProcessRecord p = start();
  EXPECT_EQ(p.state, ProcessState::kRunning);
  EXPECT_TRUE(h_.service->busy().is_busy("pf"));
  procs_->poll_once();
  EXPECT_EQ(state(p.id), ProcessState::kRunning);
  write(p.id, "exit.json", R"({"exit_code":3,"signal":0,"timed_out":false,"signalled":""})");
  procs_->poll_once();
  auto got = procs_->get("pf", p.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, ProcessState::kExited);
  EXPECT_EQ(got->exit_code, std::optional<int>(3));
  EXPECT_FALSE(h_.service->busy().is_busy("pf"));
}

TEST_F(ProcessFollower, AForgedExitJsonOrPidIsReadSafely) {
  ProcessRecord p = start();
  write(p.id, "pid", "not a number");
  write(p.id, "exit.json", R"({"timed_out":"yes","exit_code":"3","signal":1e9})");
  procs_->poll_once();  // must not throw
  auto got = procs_->get("pf", p.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, ProcessState::kExited);
  EXPECT_FALSE(got->exit_code);
  EXPECT_FALSE(got->timed_out);
  EXPECT_EQ(got->os_pid, 0);
  ProcessRecord q = start();
  std::filesystem::create_directories(h_.config.workspaces_dir() + "/pf/.sandboxed/procs/" + q.id +
                                      "/exit.json");  // a directory, not a file
  procs_->poll_once();
  EXPECT_EQ(state(q.id), ProcessState::kRunning);
}

TEST_F(ProcessFollower, TheSandboxsStopEndsItAsStopped) {
  ProcessRecord p = start();
  ASSERT_TRUE(h_.service->stop("pf"));
  procs_->poll_once();
  EXPECT_EQ(state(p.id), ProcessState::kStopped);
  EXPECT_FALSE(h_.service->busy().is_busy("pf"));
}

TEST_F(ProcessFollower, APurgedSandboxLeavesNoProcessHoldingItsId) {
  start();
  ASSERT_TRUE(h_.service->purge("pf"));
  procs_->poll_once();
  EXPECT_FALSE(h_.service->busy().is_busy("pf"));
  h_.create("pf");  // the same id again: nothing of the old one is followed
  EXPECT_FALSE(h_.service->busy().is_busy("pf"));
  auto list = procs_->list("pf");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST_F(ProcessFollower, ARunnerWithoutAHeartbeatWhileItsSandboxRunsIsLost) {
  ProcessRecord p = start();
  procs_->poll_once();
  h_.clock.advance(std::chrono::seconds(20));
  procs_->poll_once();
  EXPECT_EQ(state(p.id), ProcessState::kRunning);
  h_.clock.advance(std::chrono::seconds(20));
  procs_->poll_once();
  EXPECT_EQ(state(p.id), ProcessState::kLost);
}

TEST_F(ProcessFollower, AtMost32RunPerSandboxAndARestartFollowsThemAgain) {
  for (int i = 0; i < ProcessService::kMaxRunning; ++i) start();
  ExecRequest req;
  req.cmd = {"true"};
  auto over = procs_->start_process("pf", req);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code(), Code::kCapacity);
  procs_.reset();  // sandboxd goes away; the processes run on
  EXPECT_FALSE(h_.service->busy().is_busy("pf"));
  procs_ =
      std::make_unique<ProcessService>(h_.config, *h_.store, *h_.service, *h_.workspaces, h_.clock);
  procs_->start();
  EXPECT_TRUE(h_.service->busy().is_busy("pf"));
  procs_->stop();
}

}  // namespace
}  // namespace sandboxd
