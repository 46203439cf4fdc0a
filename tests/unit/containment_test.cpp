// Tenant containment in SandboxService, on fakes: each sandbox's own uid, its disk, CPU,
// egress and OCI runtime in its RunSpec, the capacity caps, and the migration of rows and
// workspaces from before all of these. (The kernel's side is proven by the integration
// tests on real loop devices, iptables and dockerd.)
#include <gtest/gtest.h>

#include <filesystem>

#include "fakes/fake_process_runner.h"
#include "fakes/service_harness.h"

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

class ContainmentTest : public testing::Test {
 protected:
  void SetUp() override {
    h_.config.instance = "t1";
    h_.config.network = "net-t1";
  }
  Result<SandboxRecord> create(const std::string& id, CreateRequest req = {}) {
    req.id = id;
    return h_.service->create(req);
  }
  ServiceHarness h_{"containment-test"};
};

TEST_F(ContainmentTest, EverySandboxGetsAUidOfItsOwnThatIsNeverReused) {
  h_.init();
  auto a = create("a1");
  auto b = create("b1");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->uid, h_.config.uid_base);
  EXPECT_EQ(b->uid, h_.config.uid_base + 1);
  struct stat sb {};
  ASSERT_EQ(::stat(h_.workspaces->path("b1").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, static_cast<uid_t>(b->uid));
  ASSERT_TRUE(h_.service->purge("a1"));
  auto c = create("c1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->uid, h_.config.uid_base + 2) << "a purged sandbox's uid is not handed out again";
  EXPECT_FALSE(fs::exists(h_.config.identity_dir() + "/a1")) << "purge removes its identity";
}

TEST_F(ContainmentTest, DiskCpusEgressAndRuntimeReachTheContainer) {
  h_.runtime.add_oci_runtime("runsc");
  h_.init();
  CreateRequest req;
  req.disk_bytes = 256LL << 20;
  req.cpu_millis = 1500;
  req.egress = Egress::kNone;
  req.isolation = Isolation::kGvisor;
  auto r = create("a1", req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(h_.disks.size("a1"), 256LL << 20);
  EXPECT_EQ(r->limits.disk_bytes, 256LL << 20);
  const RunSpec s = h_.runtime.container("t1-s-a1")->spec;
  EXPECT_EQ(s.cpu_millis, 1500);
  EXPECT_EQ(s.network, "net-t1-none");
  EXPECT_EQ(s.oci_runtime, "runsc");
  // Defaults come from the config.
  auto d = create("d1");
  ASSERT_TRUE(d);
  const RunSpec ds = h_.runtime.container("t1-s-d1")->spec;
  EXPECT_EQ(ds.network, "net-t1");
  EXPECT_EQ(ds.oci_runtime, "");
  EXPECT_EQ(ds.cpu_millis, h_.config.default_limits.cpu_millis);
  EXPECT_EQ(h_.disks.size("d1"), h_.config.default_limits.disk_bytes);
}

TEST_F(ContainmentTest, GvisorIsRefusedWhereTheEngineLacksItAndNothingIsLeft) {
  h_.init();
  CreateRequest req;
  req.isolation = Isolation::kGvisor;
  auto r = create("a1", req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("gvisor"), std::string::npos);
  EXPECT_FALSE(h_.status("a1"));
  EXPECT_EQ(h_.runtime.container_count(), 0u);
  EXPECT_FALSE(h_.disks.size("a1"));
}

TEST_F(ContainmentTest, LimitsPastTheOperatorsMaximaAreRefused) {
  h_.config.max_limits.disk_bytes = 1LL << 30;
  h_.config.max_limits.cpu_millis = 2000;
  h_.init();
  CreateRequest big_disk;
  big_disk.disk_bytes = 2LL << 30;
  CreateRequest tiny_disk;
  tiny_disk.disk_bytes = 1 << 20;
  CreateRequest many_cpus;
  many_cpus.cpu_millis = 2001;
  CreateRequest no_cpu;
  no_cpu.cpu_millis = 0;
  for (const auto& req : {big_disk, tiny_disk, many_cpus, no_cpu}) {
    auto r = create("a1", req);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << r.error().message();
  }
  EXPECT_FALSE(h_.status("a1"));
  EXPECT_FALSE(h_.disks.size("a1"));
}

TEST_F(ContainmentTest, CapsOnSandboxesAndRunningOnesAnswerCapacityAndLeaveNothing) {
  h_.config.max_sandboxes = 3;
  h_.config.max_running = 2;
  h_.init();
  ASSERT_TRUE(create("a1"));
  ASSERT_TRUE(create("b1"));
  auto over_running = create("c1");
  ASSERT_FALSE(over_running);
  EXPECT_EQ(over_running.error().code(), Code::kCapacity);
  EXPECT_NE(over_running.error().message().find("SANDBOXD_MAX_RUNNING"), std::string::npos);
  EXPECT_FALSE(h_.status("c1"));
  EXPECT_FALSE(h_.disks.size("c1"));
  ASSERT_TRUE(h_.service->stop("b1"));
  ASSERT_TRUE(create("c1"));
  auto start = h_.service->start("b1", Trigger::kApi);
  ASSERT_FALSE(start);
  EXPECT_EQ(start.error().code(), Code::kCapacity);
  EXPECT_EQ(h_.status("b1"), SandboxStatus::kStopped) << "a refused start changes nothing";
  ASSERT_TRUE(h_.service->stop("a1"));
  auto over_rows = create("d1");
  ASSERT_FALSE(over_rows);
  EXPECT_EQ(over_rows.error().code(), Code::kCapacity);
  EXPECT_NE(over_rows.error().message().find("SANDBOXD_MAX_SANDBOXES"), std::string::npos);
  EXPECT_EQ(h_.runtime.container_count(), 3u);
  ASSERT_TRUE(h_.service->start("b1", Trigger::kApi));
}

TEST_F(ContainmentTest, ARowLeftStartingDoesNotCountAgainstItsOwnStart) {
  h_.config.max_running = 1;
  h_.init();
  ASSERT_TRUE(create("a1"));
  SandboxRecord rec = **h_.store->get("a1");
  rec.status = SandboxStatus::kStarting;  // as a crash mid-start leaves it
  ASSERT_TRUE(h_.store->update(rec).is_ok());
  auto started = h_.service->start("a1", Trigger::kApi);
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_EQ(started->status, SandboxStatus::kRunning);
}

TEST_F(ContainmentTest, ConcurrentCreatesNeverPassTheRunningCapTogether) {
  h_.config.max_running = 3;
  h_.init();
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] { created += create("s" + std::to_string(i)) ? 1 : 0; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 3);
  EXPECT_EQ(h_.runtime.container_count(), 3u);
}

TEST_F(ContainmentTest, ARowFromBeforeUidsAndDisksIsMigratedOnItsNextStart) {
  h_.init();
  ASSERT_TRUE(create("old"));
  // As an earlier sandboxd left it: no uid, no disk, no CPU cap; a container running as
  // the old shared uid, stopped.
  SandboxRecord rec = **h_.store->get("old");
  rec.uid = 0;
  rec.limits.disk_bytes = 0;
  rec.limits.cpu_millis = 0;
  ASSERT_TRUE(h_.store->update(rec).is_ok());
  ASSERT_TRUE(h_.service->stop("old"));
  auto started = h_.service->start("old", Trigger::kApi);
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_GE(started->uid, h_.config.uid_base + 1);
  EXPECT_EQ(started->limits.disk_bytes, h_.config.default_limits.disk_bytes);
  EXPECT_EQ(started->limits.cpu_millis, h_.config.default_limits.cpu_millis);
  auto c = h_.runtime.container("t1-s-old");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->spec.user, sandbox_user(started->uid)) << "the container was rebuilt";
  EXPECT_EQ((*h_.store->get("old"))->uid, started->uid);
  struct stat sb {};
  ASSERT_EQ(::stat(h_.workspaces->path("old").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, static_cast<uid_t>(started->uid));
}

TEST_F(ContainmentTest, DeleteKeepsTheDiskUnmountedAndARecreateReattachesItWithItsSize) {
  h_.init();
  CreateRequest req;
  req.disk_bytes = 64LL << 20;
  ASSERT_TRUE(create("a1", req));
  ASSERT_TRUE(h_.service->destroy("a1").is_ok());
  EXPECT_TRUE(h_.disks.was_detached(h_.workspaces->path("a1")));
  EXPECT_EQ(h_.disks.size("a1"), 64LL << 20);
  CreateRequest bigger;
  bigger.disk_bytes = 128LL << 20;
  auto again = create("a1", bigger);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->limits.disk_bytes, 64LL << 20) << "a kept disk keeps its size";
}

TEST_F(ContainmentTest, WithoutItsEgressRulesNoSandboxIsCreatedOrStarted) {
  FakeProcessRunner iptables;
  iptables.on({"iptables", "-w", "-S"}, 1, "", "iptables: No chain/target/match by that name.");
  iptables.on({"iptables-restore"}, 4, "", "iptables-restore: unable to initialize table 'filter'");
  EgressFirewall firewall(iptables);
  h_.store = std::move(*Store::open(":memory:"));
  h_.workspaces = std::make_unique<Workspaces>(h_.config.workspaces_dir(), h_.disks);
  SandboxService svc(h_.config, *h_.store, h_.runtime, h_.clock, *h_.workspaces, h_.memory,
                     h_.metrics, &firewall);
  EXPECT_FALSE(svc.init().is_ok()) << "the rules could not be installed";
  CreateRequest req;
  req.id = "a1";
  auto r = svc.create(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_NE(r.error().message().find("egress rules"), std::string::npos) << r.error().message();
  EXPECT_EQ(h_.runtime.container_count(), 0u);
}

TEST_F(ContainmentTest, UsageReportsTheRunningContainersFigures) {
  h_.init();
  auto r = create("a1");
  ASSERT_TRUE(r);
  h_.runtime.set_usage({int64_t{50} << 20, int64_t{1500000}});
  SandboxUsage u = h_.service->usage(*r);
  EXPECT_EQ(u.container.memory_bytes, int64_t{50} << 20);
  EXPECT_EQ(u.container.cpu_usec, 1500000);
  EXPECT_FALSE(u.disk_used_bytes) << "a plain directory is no mounted disk";
  auto stopped = h_.service->stop("a1");
  ASSERT_TRUE(stopped);
  EXPECT_FALSE(h_.service->usage(*stopped).container.memory_bytes);
}

}  // namespace
}  // namespace sandboxd
