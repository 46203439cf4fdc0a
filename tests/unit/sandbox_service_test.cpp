#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "fakes/service_harness.h"

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

// The env file sandboxd wrote for sandbox `id` (mounted at /run/sandboxed/env).
std::string env_file_of(const Config& config, const std::string& id) {
  std::ifstream in(config.identity_dir() + "/" + id + "/run/env");
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

ExecRequest exec_req(std::vector<std::string> cmd, std::optional<int> timeout_s = std::nullopt,
                     std::string workdir = "") {
  ExecRequest r;
  r.cmd = std::move(cmd);
  r.timeout_s = timeout_s;
  r.workdir = std::move(workdir);
  return r;
}

class SandboxServiceTest : public testing::Test {
 protected:
  SandboxServiceTest()
      : h_("svc-test"), config_(h_.config), clock_(h_.clock), runtime_(h_.runtime) {}
  void SetUp() override {
    config_.instance = "t1";
    config_.network = "net-t1";
    h_.init();
    store_ = h_.store.get();
    ws_ = h_.workspaces.get();
    svc_ = h_.service.get();
  }

  SandboxRecord create(const std::string& id) {
    CreateRequest req;
    req.id = id;
    req.ports = {3000};
    req.env = {{"TOKEN", "s3cret"}};
    auto r = svc_->create(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : SandboxRecord{};
  }

  ServiceHarness h_;
  Config& config_;
  FakeClock& clock_;
  FakeRuntime& runtime_;
  Store* store_ = nullptr;
  Workspaces* ws_ = nullptr;
  SandboxService* svc_ = nullptr;
};

TEST_F(SandboxServiceTest, CreateRunsAHardenedInstanceScopedContainerAndRecordsIt) {
  SandboxRecord r = create("Demo1");
  EXPECT_EQ(r.id, "demo1");
  EXPECT_EQ(r.status, SandboxStatus::kRunning);
  EXPECT_EQ(r.container_name, "t1-s-demo1");
  auto c = runtime_.container("t1-s-demo1");
  ASSERT_TRUE(c);
  const RunSpec& s = c->spec;
  EXPECT_TRUE(s.init && s.read_only && s.cap_drop_all && s.no_new_privileges);
  // Its own uid (the first slot of the range), named `sandbox` by its identity files.
  EXPECT_EQ(r.uid, config_.uid_base);
  EXPECT_EQ(s.user, std::to_string(config_.uid_base) + ":" + std::to_string(config_.uid_base));
  EXPECT_EQ(s.network, "net-t1");
  EXPECT_EQ(s.memory_bytes, config_.default_limits.memory_bytes);
  EXPECT_EQ(s.cpu_millis, config_.default_limits.cpu_millis);
  EXPECT_EQ(s.oci_runtime, "");
  EXPECT_EQ(r.limits.disk_bytes, config_.default_limits.disk_bytes);
  EXPECT_EQ(s.labels.at("sandboxed.managed"), "true");
  EXPECT_EQ(s.labels.at("sandboxed.id"), "demo1");
  EXPECT_EQ(s.labels.at("sandboxed.instance"), "t1");
  for (const auto& [key, value] : s.labels)  // previews are routed by the edge, not by labels
    EXPECT_NE(key.rfind("traefik.", 0), 0u) << key;
  EXPECT_FALSE(s.env.count("TOKEN")) << "the sandbox's env lives in its env file";
  EXPECT_EQ(env_file_of(config_, "demo1"), std::string("SANDBOXED_PORTS=3000\0TOKEN=s3cret\0", 34));
  struct stat st {};
  ASSERT_EQ(::stat((config_.identity_dir() + "/demo1/run/env").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  EXPECT_EQ(static_cast<int64_t>(st.st_uid), r.uid);
  ASSERT_EQ(s.mounts.size(), 4u);
  EXPECT_EQ(s.mounts[0].host_path, ws_->path("demo1"));
  EXPECT_EQ(s.mounts[0].container_path, "/home/sandbox");
  EXPECT_FALSE(s.mounts[0].read_only);
  const std::string identity = config_.identity_dir() + "/demo1";
  EXPECT_EQ(s.mounts[1].host_path, identity + "/passwd");
  EXPECT_EQ(s.mounts[1].container_path, "/etc/passwd");
  EXPECT_TRUE(s.mounts[1].read_only);
  EXPECT_EQ(s.mounts[2].container_path, "/etc/group");
  EXPECT_TRUE(s.mounts[2].read_only);
  EXPECT_EQ(s.mounts[3].host_path, identity + "/run");
  EXPECT_EQ(s.mounts[3].container_path, "/run/sandboxed");
  EXPECT_TRUE(s.mounts[3].read_only);
  std::ifstream passwd(identity + "/passwd");
  std::string text((std::istreambuf_iterator<char>(passwd)), {});
  EXPECT_NE(text.find("sandbox:x:" + std::to_string(r.uid) + ":" + std::to_string(r.uid) +
                      ":sandbox:/home/sandbox:/bin/bash\n"),
            std::string::npos)
      << text;
  EXPECT_TRUE(fs::is_directory(ws_->path("demo1") + "/workspace/app"));
  auto row = store_->get("demo1");
  ASSERT_TRUE(row && row->has_value());
  EXPECT_EQ((*row)->status, SandboxStatus::kRunning);
  EXPECT_EQ((*row)->ports, std::vector<int>{3000});
}

TEST_F(SandboxServiceTest, CreateGeneratesAUlidWhenNoIdIsGiven) {
  auto r = svc_->create(CreateRequest{});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id.size(), 26u);
}

TEST_F(SandboxServiceTest, InvalidCreateWritesNothing) {
  std::vector<CreateRequest> bad(6);
  bad[0].id = "../x";
  bad[1].ports = {3000, 3000};
  bad[2].ports = {0};
  bad[3].env = {{"A=B", "v"}};
  bad[4].env = {{"A", "line\nbreak"}};
  bad[5].memory_bytes = config_.max_limits.memory_bytes + 1;
  for (const auto& req : bad) {
    auto r = svc_->create(req);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << r.error().message();
  }
  EXPECT_EQ(runtime_.container_count(), 0u);
  EXPECT_TRUE(store_->list({})->empty());
  EXPECT_TRUE(fs::is_empty(config_.workspaces_dir()));
}

TEST_F(SandboxServiceTest, CreateOfAnExistingIdIsConflict) {
  create("a1");
  CreateRequest req;
  req.id = "A1";
  auto r = svc_->create(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kConflict);
}

TEST_F(SandboxServiceTest, FailedDockerRunRollsBackRowAndNewWorkspace) {
  runtime_.fail_next("create", Status(Code::kUnavailable, "image missing"));
  CreateRequest req;
  req.id = "x1";
  auto r = svc_->create(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_FALSE(store_->get("x1")->has_value());
  EXPECT_FALSE(fs::exists(ws_->path("x1")));
  EXPECT_EQ(runtime_.container_count(), 0u);
}

TEST_F(SandboxServiceTest, CreateRecreatesAMissingNetworkAndRetries) {
  runtime_.fail_next("create", Status(Code::kNotFound, "network net-t1 not found"));
  auto r = svc_->create(CreateRequest{});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, SandboxStatus::kRunning);
}

TEST_F(SandboxServiceTest, CreateReplacesAStaleContainerOfItsOwn) {
  RunSpec stale;
  stale.name = "t1-s-z1";
  stale.network = "net-t1";
  stale.labels = {{"sandboxed.id", "z1"},
                  {"sandboxed.install", *store_->meta_get_or_set("install_id", "")}};
  ASSERT_TRUE(runtime_.create(stale));
  CreateRequest req;
  req.id = "z1";
  auto r = svc_->create(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(runtime_.container("t1-s-z1")->spec.labels.at("sandboxed.managed"), "true");
}

TEST_F(SandboxServiceTest, CreateNeverRemovesAContainerItDidNotMake) {
  RunSpec foreign;
  foreign.name = "t1-s-z2";
  foreign.network = "net-t1";
  foreign.labels = {{"sandboxed.id", "z2"}, {"sandboxed.install", "another-install"}};
  ASSERT_TRUE(runtime_.create(foreign));
  CreateRequest req;
  req.id = "z2";
  auto r = svc_->create(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kConflict);
  EXPECT_EQ(runtime_.container("t1-s-z2")->spec.labels.at("sandboxed.install"), "another-install");
  EXPECT_FALSE(store_->get("z2")->has_value());
}

TEST_F(SandboxServiceTest, PatchMergesMetadataAndEnvAndRestartsTheRunningApp) {
  CreateRequest req;
  req.id = "p1";
  req.metadata = {{"user", "alice"}, {"project", "p1"}};
  req.env = {{"OLD", "x"}};
  ASSERT_TRUE(svc_->create(req));
  PatchRequest patch;
  patch.metadata = PatchRequest::Merge{{"project", std::nullopt}, {"tier", "pro"}};
  patch.env = PatchRequest::Merge{{"OLD", std::nullopt}, {"NEW", "y"}};
  patch.ports = std::vector<int>{5173};
  auto r = svc_->patch("p1", patch);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->metadata, (std::map<std::string, std::string>{{"user", "alice"}, {"tier", "pro"}}));
  EXPECT_EQ(r->env, (std::map<std::string, std::string>{{"NEW", "y"}}));
  EXPECT_TRUE(r->pending_restart.empty());
  EXPECT_EQ((*store_->get("p1"))->metadata, r->metadata);
  // The app's env file has the new env and ports, and its supervisor was told (SIGHUP).
  std::string env = env_file_of(config_, "p1");
  EXPECT_NE(env.find("NEW=y"), std::string::npos);
  EXPECT_EQ(env.find("OLD="), std::string::npos);
  EXPECT_NE(env.find("SANDBOXED_PORTS=5173"), std::string::npos);
  EXPECT_EQ(runtime_.container("t1-s-p1")->signals, std::vector<std::string>{"HUP"});
}

TEST_F(SandboxServiceTest, PatchedLimitsWaitForTheNextStartWhichMakesANewContainer) {
  create("p2");
  PatchRequest patch;
  patch.memory_bytes = 300LL << 20;
  patch.nofile = 2048;
  auto r = svc_->patch("p2", patch);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->pending_restart, (std::vector<std::string>{"memory", "nofile"}));
  EXPECT_EQ(r->limits.memory_bytes, 300LL << 20);
  // The running container keeps its limits; nothing was restarted for them.
  EXPECT_NE(runtime_.container("t1-s-p2")->spec.memory_bytes, 300LL << 20);
  ASSERT_TRUE(svc_->stop("p2"));
  auto started = svc_->start("p2", Trigger::kApi);
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_TRUE(started->pending_restart.empty());
  EXPECT_TRUE((*store_->get("p2"))->pending_restart.empty());
  EXPECT_EQ(runtime_.container("t1-s-p2")->spec.memory_bytes, 300LL << 20);
  EXPECT_EQ(runtime_.container("t1-s-p2")->spec.nofile, 2048);
  EXPECT_TRUE(runtime_.container("t1-s-p2")->running);
}

TEST_F(SandboxServiceTest, AnInvalidPatchChangesNothing) {
  create("p3");
  auto before = **store_->get("p3");
  PatchRequest bad_metadata;
  bad_metadata.metadata = PatchRequest::Merge{{"ok", "1"}, {"bad key", "2"}};
  PatchRequest too_much_memory;
  too_much_memory.memory_bytes = config_.max_limits.memory_bytes + 1;
  too_much_memory.metadata = PatchRequest::Merge{{"ok", "1"}};
  PatchRequest bad_env;
  bad_env.env = PatchRequest::Merge{{"1X", "v"}};
  for (const auto* p : {&bad_metadata, &too_much_memory, &bad_env}) {
    auto r = svc_->patch("p3", *p);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  }
  auto after = **store_->get("p3");
  EXPECT_EQ(after.metadata, before.metadata);
  EXPECT_EQ(after.env, before.env);
  EXPECT_EQ(after.limits.memory_bytes, before.limits.memory_bytes);
  EXPECT_TRUE(after.pending_restart.empty());
  EXPECT_TRUE(runtime_.container("t1-s-p3")->signals.empty());
  EXPECT_EQ(svc_->patch("nope", PatchRequest{}).error().code(), Code::kNotFound);
}

TEST_F(SandboxServiceTest, StartOfARunningRowRecreatesAVanishedContainer) {
  // e.g. after a dockerd reset: the row says running, the container is gone.
  create("a1");
  runtime_.drop_container("t1-s-a1");
  auto r = svc_->start("a1", Trigger::kApi);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(runtime_.container("t1-s-a1")->running);
}

TEST_F(SandboxServiceTest, ExecHealsARunningRowWhoseContainerIsGone) {
  create("a1");
  runtime_.drop_container("t1-s-a1");
  auto r = svc_->exec("a1", exec_req({"ls"}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, "ran");
}

TEST_F(SandboxServiceTest, StartRecreatesTheNetworkWhenItVanished) {
  create("a1");
  ASSERT_TRUE(svc_->stop("a1"));
  runtime_.fail_next("start", Status(Code::kNotFound,
                                     "docker start t1-s-a1: Error response from "
                                     "daemon: network net-t1 not found"));
  auto r = svc_->start("a1", Trigger::kApi);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, SandboxStatus::kRunning);
}

TEST_F(SandboxServiceTest, AFailedStopLeavesStoppingAndARetryFinishesIt) {
  create("a1");
  runtime_.fail_next("stop", Status(Code::kUnavailable, "daemon down"));
  EXPECT_FALSE(svc_->stop("a1"));
  EXPECT_EQ((*store_->get("a1"))->status, SandboxStatus::kStopping);
  auto r = svc_->stop("a1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, SandboxStatus::kStopped);
}

TEST_F(SandboxServiceTest, AFailedStartLeavesStartingAndARetryFinishesIt) {
  create("a1");
  ASSERT_TRUE(svc_->stop("a1"));
  runtime_.fail_next("start", Status(Code::kUnavailable, "daemon down"));
  EXPECT_FALSE(svc_->start("a1", Trigger::kApi));
  EXPECT_EQ((*store_->get("a1"))->status, SandboxStatus::kStarting);
  ASSERT_TRUE(svc_->start("a1", Trigger::kApi));
  EXPECT_EQ((*store_->get("a1"))->status, SandboxStatus::kRunning);
}

TEST_F(SandboxServiceTest, StopThenStartAreIdempotent) {
  create("a1");
  auto stopped = svc_->stop("a1");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, SandboxStatus::kStopped);
  EXPECT_GT(stopped->stopped_at, 0);
  EXPECT_FALSE(runtime_.container("t1-s-a1")->running);
  ASSERT_TRUE(svc_->stop("a1"));
  auto started = svc_->start("a1", Trigger::kApi);
  ASSERT_TRUE(started);
  EXPECT_EQ(started->status, SandboxStatus::kRunning);
  EXPECT_TRUE(runtime_.container("t1-s-a1")->running);
  ASSERT_TRUE(svc_->start("a1", Trigger::kApi));
  auto calls = runtime_.calls();
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "stop t1-s-a1"), 1);
  // The second start finds the row running and only verifies it (`docker start` is a
  // no-op on a running container).
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "start t1-s-a1"), 2);
}

TEST_F(SandboxServiceTest, StartRecreatesAVanishedContainerOnTheSameWorkspace) {
  create("a1");
  ASSERT_TRUE(svc_->stop("a1"));
  std::ofstream(ws_->path("a1") + "/workspace/app/file") << "kept";
  runtime_.drop_container("t1-s-a1");
  auto r = svc_->start("a1", Trigger::kApi);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, SandboxStatus::kRunning);
  auto c = runtime_.container("t1-s-a1");
  ASSERT_TRUE(c);
  EXPECT_NE(env_file_of(config_, "a1").find(std::string("TOKEN=s3cret\0", 13)), std::string::npos);
  EXPECT_TRUE(fs::exists(ws_->path("a1") + "/workspace/app/file"));
}

TEST_F(SandboxServiceTest, StopOfAVanishedContainerStillMarksStopped) {
  create("a1");
  runtime_.drop_container("t1-s-a1");
  auto r = svc_->stop("a1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, SandboxStatus::kStopped);
}

TEST_F(SandboxServiceTest, UnknownIdsAreNotFoundAndBadIdsInvalid) {
  EXPECT_EQ(svc_->get("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(svc_->stop("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(svc_->start("nope", Trigger::kApi).error().code(), Code::kNotFound);
  EXPECT_EQ(svc_->keepalive("nope", std::nullopt).error().code(), Code::kNotFound);
  EXPECT_EQ(svc_->exec("nope", exec_req({"ls"})).error().code(), Code::kNotFound);
  EXPECT_EQ(svc_->get("a/b").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(svc_->purge("../x").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(svc_->destroy(std::string(33, 'a')).code(), Code::kInvalidArgument);
}

TEST_F(SandboxServiceTest, DestroyKeepsTheWorkspaceAndRecreateReattachesIt) {
  create("a1");
  std::ofstream(ws_->path("a1") + "/workspace/app/keep") << "x";
  ASSERT_TRUE(svc_->destroy("a1").is_ok());
  EXPECT_FALSE(store_->get("a1")->has_value());
  EXPECT_FALSE(runtime_.container("t1-s-a1"));
  EXPECT_TRUE(svc_->destroy("a1").is_ok());  // idempotent
  create("a1");
  EXPECT_TRUE(fs::exists(ws_->path("a1") + "/workspace/app/keep"));
}

TEST_F(SandboxServiceTest, PurgeRemovesEverythingAndIsIdempotent) {
  create("a1");
  std::ofstream(ws_->path("a1") + "/workspace/app/data") << std::string(50000, 'x');
  auto freed = svc_->purge("a1");
  ASSERT_TRUE(freed);
  EXPECT_GE(*freed, 50000);
  EXPECT_FALSE(fs::exists(ws_->path("a1")));
  EXPECT_FALSE(store_->get("a1")->has_value());
  EXPECT_TRUE(store_->list_tasks("a1", 10)->empty());
  EXPECT_EQ(runtime_.container_count(), 0u);
  auto again = svc_->purge("a1");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
}

// A container under the name sandbox x1 would get, made by someone else (issue 10).
void plant_foreign(FakeRuntime& runtime, const std::map<std::string, std::string>& labels) {
  RunSpec spec;
  spec.name = "t1-s-x1";
  spec.network = "net-t1";
  spec.labels = labels;
  ASSERT_TRUE(runtime.create(spec));
}

TEST_F(SandboxServiceTest, DeleteAndPurgeOfAnIdWithoutARowLeaveOtherContainersAlone) {
  struct Case {
    const char* what;
    std::map<std::string, std::string> labels;
  };
  const Case cases[] = {
      {"no labels", {}},
      {"another instance's",
       {{"sandboxed.managed", "true"}, {"sandboxed.instance", "other"}, {"sandboxed.id", "x1"}}},
      {"no sandbox id", {{"sandboxed.managed", "true"}, {"sandboxed.instance", "t1"}}},
      {"not managed", {{"sandboxed.instance", "t1"}, {"sandboxed.id", "x1"}}},
  };
  fs::create_directories(ws_->path("x1") + "/workspace");
  for (const auto& c : cases) {
    plant_foreign(runtime_, c.labels);
    EXPECT_EQ(svc_->destroy("x1").code(), Code::kNotFound) << c.what;
    EXPECT_TRUE(runtime_.container("t1-s-x1")) << c.what << ": DELETE removed it";
    auto purged = svc_->purge("x1");
    ASSERT_FALSE(purged) << c.what;
    EXPECT_EQ(purged.error().code(), Code::kNotFound) << c.what;
    EXPECT_TRUE(runtime_.container("t1-s-x1")) << c.what << ": purge removed it";
    EXPECT_TRUE(fs::exists(ws_->path("x1"))) << c.what << ": a refused purge changes nothing";
    runtime_.drop_container("t1-s-x1");
  }
}

TEST_F(SandboxServiceTest, DeleteOfAnIdWithoutARowRemovesThisInstancesLeftoverContainer) {
  plant_foreign(
      runtime_,
      {{"sandboxed.managed", "true"}, {"sandboxed.instance", "t1"}, {"sandboxed.id", "x1"}});
  EXPECT_TRUE(svc_->destroy("x1").is_ok());
  EXPECT_FALSE(runtime_.container("t1-s-x1"));
  EXPECT_TRUE(svc_->destroy("x1").is_ok()) << "idempotent without any container";
}

TEST_F(SandboxServiceTest, DeleteOfASandboxWhoseNameAForeignContainerHoldsRemovesOnlyTheRow) {
  create("x1");
  runtime_.drop_container("t1-s-x1");
  plant_foreign(runtime_, {});
  EXPECT_TRUE(svc_->destroy("x1").is_ok());
  EXPECT_FALSE(store_->get("x1")->has_value());
  EXPECT_TRUE(runtime_.container("t1-s-x1"));
}

TEST_F(SandboxServiceTest, FailedRemoveLeavesARowMarkedForRetry) {
  create("a1");
  runtime_.fail_next("remove", Status(Code::kUnavailable, "daemon down"));
  EXPECT_EQ(svc_->destroy("a1").code(), Code::kUnavailable);
  EXPECT_EQ((*store_->get("a1"))->status, SandboxStatus::kDeleting);
  EXPECT_TRUE(svc_->destroy("a1").is_ok());
  EXPECT_FALSE(store_->get("a1")->has_value());
}

TEST_F(SandboxServiceTest, ExecStartsAStoppedSandboxAndRunsAsTheSandboxUser) {
  create("a1");
  ASSERT_TRUE(svc_->stop("a1"));
  ExecRequest req;
  req.cmd = {"ls"};
  req.env = {{"X", "1"}};
  auto r = svc_->exec("a1", req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, "ran");
  EXPECT_EQ((*store_->get("a1"))->status, SandboxStatus::kRunning);
  ExecSpec spec = runtime_.last_exec();
  const std::string uid = std::to_string((*store_->get("a1"))->uid);
  EXPECT_EQ(spec.user, uid + ":" + uid);
  EXPECT_EQ(spec.workdir, kSandboxAppDir);
  EXPECT_EQ(spec.env.at("X"), "1");
  EXPECT_EQ(spec.env.at("TOKEN"), "s3cret") << "each command gets the sandbox's env";
  EXPECT_EQ(spec.timeout, std::chrono::seconds(config_.exec_default_timeout_s));
  EXPECT_EQ((*store_->get("a1"))->last_active_source, Trigger::kExec);
}

TEST_F(SandboxServiceTest, ExecRejectsBadInput) {
  create("a1");
  EXPECT_EQ(svc_->exec("a1", exec_req({})).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(svc_->exec("a1", exec_req({""})).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(svc_->exec("a1", exec_req({"ls"}, 999999)).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(svc_->exec("a1", exec_req({"ls"}, std::nullopt, "rel")).error().code(),
            Code::kInvalidArgument);
}

TEST_F(SandboxServiceTest, KeepaliveRecordsActivityAndClampsTheHold) {
  create("a1");
  clock_.advance(std::chrono::seconds(10));
  auto r = svc_->keepalive("a1", 10LL * 86400 * 365);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last_active_at, clock_.now_ms());
  EXPECT_EQ(r->last_active_source, Trigger::kKeepalive);
  EXPECT_EQ(r->keepalive_until, clock_.now_ms() + int64_t{config_.keepalive_max_s} * 1000);
}

TEST_F(SandboxServiceTest, ListPagesWithACursor) {
  for (const char* id : {"a", "b", "c"}) create(id);
  auto p1 = svc_->list({.status = std::nullopt, .after_id = "", .limit = 2, .metadata = {}});
  ASSERT_TRUE(p1);
  ASSERT_EQ(p1->sandboxes.size(), 2u);
  EXPECT_EQ(p1->next_after, "b");
  auto p2 =
      svc_->list({.status = std::nullopt, .after_id = p1->next_after, .limit = 2, .metadata = {}});
  ASSERT_EQ(p2->sandboxes.size(), 1u);
  EXPECT_TRUE(p2->next_after.empty());
}

TEST_F(SandboxServiceTest, ReadinessCachesTheDockerAnswer) {
  EXPECT_TRUE(svc_->readiness().is_ok());
  EXPECT_TRUE(svc_->readiness().is_ok());
  EXPECT_EQ(runtime_.pings(), 1);
  clock_.advance(std::chrono::seconds(5));
  runtime_.fail_next("ping", Status(Code::kUnavailable, "down"));
  EXPECT_EQ(svc_->readiness().code(), Code::kUnavailable);
  EXPECT_EQ(runtime_.pings(), 2);
}

// A latch a fake runtime call waits on, and the test releases.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> arrived;  // "verb name" of calls held at the gate
  bool open = false;
  // Holds the calling thread until open(); returns at once once opened.
  void hold(const std::string& call) {
    std::unique_lock lock(mu);
    arrived.insert(call);
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  bool wait_arrived(const std::string& call) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return arrived.count(call) > 0; });
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

// Returns true once `cond` holds, false after 30 s.
template <class Cond>
bool eventually(Cond cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_F(SandboxServiceTest, AnOperationOnAnIdWaitsForTheOneInProgress) {
  create("a1");
  Gate gate;
  int starts_during_stop = -1;
  runtime_.hook = [&](const std::string& verb, const std::string& name) {
    if (verb == "stop") gate.hold(verb + " " + name);
  };
  std::thread stopper([&] { EXPECT_TRUE(svc_->stop("a1")); });
  ASSERT_TRUE(gate.wait_arrived("stop t1-s-a1"));
  // The stop is inside the runtime: a start of the same sandbox must queue on its lock.
  std::thread starter([&] { EXPECT_TRUE(svc_->start("a1", Trigger::kApi)); });
  ASSERT_TRUE(eventually([&] { return svc_->lock_waiters("a1") == 1; }));
  starts_during_stop = runtime_.in_flight("t1-s-a1");
  gate.release();
  stopper.join();
  starter.join();
  EXPECT_EQ(starts_during_stop, 1) << "only the held stop was in the runtime";
  auto calls = runtime_.calls();
  auto stop_at = std::find(calls.begin(), calls.end(), "stop t1-s-a1");
  auto start_at = std::find(calls.begin(), calls.end(), "start t1-s-a1");
  ASSERT_NE(stop_at, calls.end());
  ASSERT_NE(start_at, calls.end());
  EXPECT_LT(stop_at, start_at) << "the start ran after the stop finished";
  EXPECT_EQ(h_.status("a1"), SandboxStatus::kRunning);
}

TEST_F(SandboxServiceTest, OperationsOnDifferentIdsRunAtTheSameTime) {
  create("a1");
  create("b1");
  ASSERT_TRUE(svc_->stop("a1"));
  ASSERT_TRUE(svc_->stop("b1"));
  Gate gate;
  runtime_.hook = [&](const std::string& verb, const std::string& name) {
    if (verb == "start") gate.hold(verb + " " + name);
  };
  std::thread ta([&] { EXPECT_TRUE(svc_->start("a1", Trigger::kApi)); });
  std::thread tb([&] { EXPECT_TRUE(svc_->start("b1", Trigger::kApi)); });
  // Both starts reach the runtime while neither has finished: no lock is shared.
  bool a_in = gate.wait_arrived("start t1-s-a1");
  bool b_in = gate.wait_arrived("start t1-s-b1");
  gate.release();
  ta.join();
  tb.join();
  EXPECT_TRUE(a_in && b_in);
}

TEST_F(SandboxServiceTest, ExecsBeyondTheCapAreRefusedAsUnavailable) {
  config_.max_concurrent_execs = 0;  // every exec is over the cap
  create("a1");
  auto r = svc_->exec("a1", exec_req({"ls"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace sandboxd
