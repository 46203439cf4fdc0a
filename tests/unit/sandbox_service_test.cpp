#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "fakes/service_harness.h"

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

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
  SandboxServiceTest() : h_("svc-test"), config_(h_.config), clock_(h_.clock), docker_(h_.docker) {}
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
  FakeDocker& docker_;
  Store* store_ = nullptr;
  Workspaces* ws_ = nullptr;
  SandboxService* svc_ = nullptr;
};

TEST_F(SandboxServiceTest, CreateRunsAHardenedInstanceScopedContainerAndRecordsIt) {
  SandboxRecord r = create("Demo1");
  EXPECT_EQ(r.id, "demo1");
  EXPECT_EQ(r.status, kStatusRunning);
  EXPECT_EQ(r.container_name, "t1-s-demo1");
  auto c = docker_.container("t1-s-demo1");
  ASSERT_TRUE(c);
  const RunSpec& s = c->spec;
  EXPECT_TRUE(s.init && s.read_only && s.cap_drop_all && s.no_new_privileges);
  EXPECT_EQ(s.user, "1000:1000");
  EXPECT_EQ(s.network, "net-t1");
  EXPECT_EQ(s.memory_bytes, config_.default_limits.memory_bytes);
  EXPECT_EQ(s.labels.at("sandboxed.managed"), "true");
  EXPECT_EQ(s.labels.at("sandboxed.id"), "demo1");
  EXPECT_EQ(s.labels.at("sandboxed.instance"), "t1");
  EXPECT_EQ(s.labels.at("traefik.http.routers.t1-s-demo1-3000.rule"),
            "Host(`s-demo1-3000.preview.localhost`)");
  EXPECT_EQ(s.env.at("TOKEN"), "s3cret");
  ASSERT_EQ(s.mounts.size(), 1u);
  EXPECT_EQ(s.mounts[0].host_path, ws_->path("demo1"));
  EXPECT_EQ(s.mounts[0].container_path, "/home/sandbox");
  EXPECT_TRUE(fs::is_directory(ws_->path("demo1") + "/workspace/app"));
  auto row = store_->get("demo1");
  ASSERT_TRUE(row && row->has_value());
  EXPECT_EQ((*row)->status, kStatusRunning);
  EXPECT_EQ((*row)->ports, std::vector<int>{3000});
}

TEST(TraefikLabels, RouteEveryPortAboveTheCatchAll) {
  Config c;
  c.preview_domain = "apps.example.com";
  auto l = traefik_labels(c, "abc", {3000, 5173});
  EXPECT_EQ(l.at("traefik.enable"), "true");
  EXPECT_EQ(l.at("traefik.docker.network"), "sandboxed");
  EXPECT_EQ(l.at("traefik.http.routers.s-abc-3000.rule"),
            "Host(`s-abc-3000.preview.apps.example.com`)");
  EXPECT_EQ(l.at("traefik.http.routers.s-abc-3000.entrypoints"), "web");
  EXPECT_EQ(l.at("traefik.http.routers.s-abc-3000.priority"), "100");
  EXPECT_EQ(l.at("traefik.http.routers.s-abc-3000.service"), "s-abc-3000");
  EXPECT_EQ(l.at("traefik.http.services.s-abc-3000.loadbalancer.server.port"), "3000");
  EXPECT_EQ(l.at("traefik.http.services.s-abc-5173.loadbalancer.server.port"), "5173");
  EXPECT_FALSE(l.count("traefik.http.routers.s-abc-3000.tls"));
  c.preview_tls = true;
  c.instance = "blue";
  c.preview_entrypoint = "websecure";
  l = traefik_labels(c, "abc", {3000});
  EXPECT_EQ(l.at("traefik.http.routers.blue-s-abc-3000.tls"), "true");
  EXPECT_EQ(l.at("traefik.http.routers.blue-s-abc-3000.entrypoints"), "websecure");
  EXPECT_EQ(l.at("traefik.http.routers.blue-s-abc-3000.rule"),
            "Host(`s-abc-3000.preview.apps.example.com`)");
  EXPECT_TRUE(traefik_labels(c, "abc", {}).empty());
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
  EXPECT_EQ(docker_.container_count(), 0u);
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
  docker_.fail_next("run", Status(Code::kUnavailable, "image missing"));
  CreateRequest req;
  req.id = "x1";
  auto r = svc_->create(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_FALSE(store_->get("x1")->has_value());
  EXPECT_FALSE(fs::exists(ws_->path("x1")));
  EXPECT_EQ(docker_.container_count(), 0u);
}

TEST_F(SandboxServiceTest, CreateRecreatesAMissingNetworkAndRetries) {
  docker_.fail_next("run", Status(Code::kNotFound, "network net-t1 not found"));
  auto r = svc_->create(CreateRequest{});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, kStatusRunning);
}

TEST_F(SandboxServiceTest, CreateReplacesAStaleContainerOfItsOwn) {
  RunSpec stale;
  stale.name = "t1-s-z1";
  stale.network = "net-t1";
  stale.labels = {{"sandboxed.id", "z1"},
                  {"sandboxed.install", *store_->meta_get_or_set("install_id", "")}};
  ASSERT_TRUE(docker_.run(stale));
  CreateRequest req;
  req.id = "z1";
  auto r = svc_->create(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(docker_.container("t1-s-z1")->spec.labels.at("sandboxed.managed"), "true");
}

TEST_F(SandboxServiceTest, CreateNeverRemovesAContainerItDidNotMake) {
  RunSpec foreign;
  foreign.name = "t1-s-z2";
  foreign.network = "net-t1";
  foreign.labels = {{"sandboxed.id", "z2"}, {"sandboxed.install", "another-install"}};
  ASSERT_TRUE(docker_.run(foreign));
  CreateRequest req;
  req.id = "z2";
  auto r = svc_->create(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kConflict);
  EXPECT_EQ(docker_.container("t1-s-z2")->spec.labels.at("sandboxed.install"), "another-install");
  EXPECT_FALSE(store_->get("z2")->has_value());
}

TEST_F(SandboxServiceTest, StartOfARunningRowRecreatesAVanishedContainer) {
  // e.g. after a dockerd reset: the row says running, the container is gone.
  create("a1");
  docker_.drop_container("t1-s-a1");
  auto r = svc_->start("a1", "api");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(docker_.container("t1-s-a1")->running);
}

TEST_F(SandboxServiceTest, ExecHealsARunningRowWhoseContainerIsGone) {
  create("a1");
  docker_.drop_container("t1-s-a1");
  auto r = svc_->exec("a1", exec_req({"ls"}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, "ran");
}

TEST_F(SandboxServiceTest, StartRecreatesTheNetworkWhenItVanished) {
  create("a1");
  ASSERT_TRUE(svc_->stop("a1"));
  docker_.fail_next("start", Status(Code::kNotFound,
                                    "docker start t1-s-a1: Error response from "
                                    "daemon: network net-t1 not found"));
  auto r = svc_->start("a1", "api");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, kStatusRunning);
}

TEST_F(SandboxServiceTest, AFailedStopLeavesStoppingAndARetryFinishesIt) {
  create("a1");
  docker_.fail_next("stop", Status(Code::kUnavailable, "daemon down"));
  EXPECT_FALSE(svc_->stop("a1"));
  EXPECT_EQ((*store_->get("a1"))->status, kStatusStopping);
  auto r = svc_->stop("a1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, kStatusStopped);
}

TEST_F(SandboxServiceTest, AFailedStartLeavesStartingAndARetryFinishesIt) {
  create("a1");
  ASSERT_TRUE(svc_->stop("a1"));
  docker_.fail_next("start", Status(Code::kUnavailable, "daemon down"));
  EXPECT_FALSE(svc_->start("a1", "api"));
  EXPECT_EQ((*store_->get("a1"))->status, kStatusStarting);
  ASSERT_TRUE(svc_->start("a1", "api"));
  EXPECT_EQ((*store_->get("a1"))->status, kStatusRunning);
}

TEST_F(SandboxServiceTest, StopThenStartAreIdempotent) {
  create("a1");
  auto stopped = svc_->stop("a1");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, kStatusStopped);
  EXPECT_GT(stopped->stopped_at, 0);
  EXPECT_FALSE(docker_.container("t1-s-a1")->running);
  ASSERT_TRUE(svc_->stop("a1"));
  auto started = svc_->start("a1", "api");
  ASSERT_TRUE(started);
  EXPECT_EQ(started->status, kStatusRunning);
  EXPECT_TRUE(docker_.container("t1-s-a1")->running);
  ASSERT_TRUE(svc_->start("a1", "api"));
  auto calls = docker_.calls();
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "stop t1-s-a1"), 1);
  // The second start finds the row running and only verifies it (`docker start` is a
  // no-op on a running container).
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "start t1-s-a1"), 2);
}

TEST_F(SandboxServiceTest, StartRecreatesAVanishedContainerOnTheSameWorkspace) {
  create("a1");
  ASSERT_TRUE(svc_->stop("a1"));
  std::ofstream(ws_->path("a1") + "/workspace/app/file") << "kept";
  docker_.drop_container("t1-s-a1");
  auto r = svc_->start("a1", "api");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, kStatusRunning);
  auto c = docker_.container("t1-s-a1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->spec.env.at("TOKEN"), "s3cret");
  EXPECT_TRUE(fs::exists(ws_->path("a1") + "/workspace/app/file"));
}

TEST_F(SandboxServiceTest, StopOfAVanishedContainerStillMarksStopped) {
  create("a1");
  docker_.drop_container("t1-s-a1");
  auto r = svc_->stop("a1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, kStatusStopped);
}

TEST_F(SandboxServiceTest, UnknownIdsAreNotFoundAndBadIdsInvalid) {
  EXPECT_EQ(svc_->get("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(svc_->stop("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(svc_->start("nope", "api").error().code(), Code::kNotFound);
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
  EXPECT_FALSE(docker_.container("t1-s-a1"));
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
  EXPECT_EQ(docker_.container_count(), 0u);
  auto again = svc_->purge("a1");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
}

// A container under the name sandbox x1 would get, made by someone else (issue 10).
void plant_foreign(FakeDocker& docker, const std::map<std::string, std::string>& labels) {
  RunSpec spec;
  spec.name = "t1-s-x1";
  spec.network = "net-t1";
  spec.labels = labels;
  ASSERT_TRUE(docker.run(spec));
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
    plant_foreign(docker_, c.labels);
    EXPECT_EQ(svc_->destroy("x1").code(), Code::kNotFound) << c.what;
    EXPECT_TRUE(docker_.container("t1-s-x1")) << c.what << ": DELETE removed it";
    auto purged = svc_->purge("x1");
    ASSERT_FALSE(purged) << c.what;
    EXPECT_EQ(purged.error().code(), Code::kNotFound) << c.what;
    EXPECT_TRUE(docker_.container("t1-s-x1")) << c.what << ": purge removed it";
    EXPECT_TRUE(fs::exists(ws_->path("x1"))) << c.what << ": a refused purge changes nothing";
    docker_.drop_container("t1-s-x1");
  }
}

TEST_F(SandboxServiceTest, DeleteOfAnIdWithoutARowRemovesThisInstancesLeftoverContainer) {
  plant_foreign(
      docker_,
      {{"sandboxed.managed", "true"}, {"sandboxed.instance", "t1"}, {"sandboxed.id", "x1"}});
  EXPECT_TRUE(svc_->destroy("x1").is_ok());
  EXPECT_FALSE(docker_.container("t1-s-x1"));
  EXPECT_TRUE(svc_->destroy("x1").is_ok()) << "idempotent without any container";
}

TEST_F(SandboxServiceTest, DeleteOfASandboxWhoseNameAForeignContainerHoldsRemovesOnlyTheRow) {
  create("x1");
  docker_.drop_container("t1-s-x1");
  plant_foreign(docker_, {});
  EXPECT_TRUE(svc_->destroy("x1").is_ok());
  EXPECT_FALSE(store_->get("x1")->has_value());
  EXPECT_TRUE(docker_.container("t1-s-x1"));
}

TEST_F(SandboxServiceTest, FailedRemoveLeavesARowMarkedForRetry) {
  create("a1");
  docker_.fail_next("remove", Status(Code::kUnavailable, "daemon down"));
  EXPECT_EQ(svc_->destroy("a1").code(), Code::kUnavailable);
  EXPECT_EQ((*store_->get("a1"))->status, kStatusDeleting);
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
  EXPECT_EQ((*store_->get("a1"))->status, kStatusRunning);
  ExecSpec spec = docker_.last_exec();
  EXPECT_EQ(spec.user, "1000:1000");
  EXPECT_EQ(spec.workdir, kSandboxAppDir);
  EXPECT_EQ(spec.env.at("X"), "1");
  EXPECT_EQ(spec.timeout, std::chrono::seconds(config_.exec_default_timeout_s));
  EXPECT_EQ((*store_->get("a1"))->last_active_source, "exec");
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
  EXPECT_EQ(r->last_active_source, "keepalive");
  EXPECT_EQ(r->keepalive_until, clock_.now_ms() + int64_t{config_.keepalive_max_s} * 1000);
}

TEST_F(SandboxServiceTest, ListPagesWithACursor) {
  for (const char* id : {"a", "b", "c"}) create(id);
  auto p1 = svc_->list({.status = "", .after_id = "", .limit = 2});
  ASSERT_TRUE(p1);
  ASSERT_EQ(p1->sandboxes.size(), 2u);
  EXPECT_EQ(p1->next_after, "b");
  auto p2 = svc_->list({.status = "", .after_id = p1->next_after, .limit = 2});
  ASSERT_EQ(p2->sandboxes.size(), 1u);
  EXPECT_TRUE(p2->next_after.empty());
}

TEST_F(SandboxServiceTest, ReadinessCachesTheDockerAnswer) {
  EXPECT_TRUE(svc_->readiness().is_ok());
  EXPECT_TRUE(svc_->readiness().is_ok());
  EXPECT_EQ(docker_.pings(), 1);
  clock_.advance(std::chrono::seconds(5));
  docker_.fail_next("ping", Status(Code::kUnavailable, "down"));
  EXPECT_EQ(svc_->readiness().code(), Code::kUnavailable);
  EXPECT_EQ(docker_.pings(), 2);
}

TEST_F(SandboxServiceTest, OperationsOnOneIdNeverOverlapInDocker) {
  create("a1");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if ((t + i) % 2)
          (void)svc_->stop("a1");
        else
          (void)svc_->start("a1", "api");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(docker_.max_concurrent_per_name(), 1);
  auto row = *store_->get("a1");
  bool running = docker_.container("t1-s-a1")->running;
  EXPECT_EQ(row->status, running ? kStatusRunning : kStatusStopped);
}

TEST_F(SandboxServiceTest, DifferentIdsRunInParallel) {
  create("a1");
  create("b1");
  std::thread ta([&] {
    for (int i = 0; i < 30; ++i) (void)svc_->start("a1", "api");
  });
  std::thread tb([&] {
    for (int i = 0; i < 30; ++i) (void)svc_->start("b1", "api");
  });
  ta.join();
  tb.join();
  EXPECT_EQ(docker_.max_concurrent_per_name(), 1);
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
