// The warm pool on fakes: entries are made like cold creates, claimed by creates that fit,
// left alone by the reconciler's orphan sweep, and discarded when no longer wanted.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "fakes/service_harness.h"

namespace sandboxd {
namespace {

class WarmPoolTest : public testing::Test {
 protected:
  void SetUp() override {
    h_.config.instance = "wp";
    h_.config.network = "net-wp";
    h_.config.warm_pool = 2;
    h_.init();
    ASSERT_TRUE(h_.service->fill_pool().is_ok());
  }
  std::vector<std::string> pool_ids() {
    std::vector<std::string> ids;
    auto entries = h_.store->list_pool();
    EXPECT_TRUE(entries);
    if (entries)
      for (const auto& e : *entries) ids.push_back(e.id);
    return ids;
  }
  std::string env_file(const std::string& id) {
    std::ifstream in(h_.config.identity_dir() + "/" + id + "/run/env");
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
  ServiceHarness h_{"warm-pool"};
};

TEST_F(WarmPoolTest, AFillMakesStartedEntriesUpToTheConfiguredSize) {
  EXPECT_EQ(h_.service->pool_ready(), 2);
  for (const auto& id : pool_ids()) {
    auto c = h_.runtime.container("wp-s-" + id);
    ASSERT_TRUE(c) << id;
    EXPECT_TRUE(c->running);
    EXPECT_EQ(c->spec.labels.at("sandboxed.id"), id);
  }
  EXPECT_TRUE(h_.service->fill_pool().is_ok());
  EXPECT_EQ(pool_ids().size(), 2u) << "a full pool makes no more";
}

TEST_F(WarmPoolTest, ACreateThatFitsIsServedByAnEntryExactlyAsAColdCreateWouldRunIt) {
  const auto before = pool_ids();
  CreateRequest req;
  req.ports = {3000};
  req.env = {{"SECRET", "s3cret"}};
  auto rec = h_.service->create(req);
  ASSERT_TRUE(rec) << rec.error().message();
  EXPECT_NE(std::find(before.begin(), before.end(), rec->id), before.end());
  EXPECT_EQ(rec->status, SandboxStatus::kRunning);
  EXPECT_EQ(h_.service->pool_ready(), 1);
  EXPECT_EQ(h_.metrics.counter("sandboxd_warm_pool_claims_total", {{"result", "hit"}}), 1);
  // The container it got is the one run_spec gives for its row: a restart or a recreate
  // after a vanished container makes the same one.
  auto c = h_.runtime.container(rec->container_name);
  ASSERT_TRUE(c);
  RunSpec want = h_.service->run_spec(*rec);
  EXPECT_EQ(c->spec.name, want.name);
  EXPECT_EQ(c->spec.hostname, want.hostname);
  EXPECT_EQ(c->spec.labels, want.labels);
  EXPECT_EQ(c->spec.env, want.env);
  EXPECT_EQ(c->spec.user, want.user);
  EXPECT_EQ(c->spec.memory_bytes, want.memory_bytes);
  EXPECT_EQ(c->spec.mounts.size(), want.mounts.size());
  EXPECT_FALSE(c->spec.env.count("SECRET"));
  EXPECT_EQ(env_file(rec->id), std::string("SANDBOXED_PORTS=3000\0SECRET=s3cret\0", 35));
  EXPECT_EQ(c->signals, std::vector<std::string>({"HUP"})) << "its app starts again";
}

TEST_F(WarmPoolTest, CreatesThatDoNotFitOrNameTheirIdAreCold) {
  CreateRequest small;
  small.memory_bytes = 64 << 20;
  auto a = h_.service->create(small);
  ASSERT_TRUE(a) << a.error().message();
  CreateRequest named;
  named.id = "mine";
  ASSERT_TRUE(h_.service->create(named));
  EXPECT_EQ(h_.service->pool_ready(), 2);
  for (const auto& id : pool_ids()) EXPECT_NE(id, a->id);
  EXPECT_EQ(h_.metrics.counter("sandboxd_warm_pool_claims_total", {{"result", "hit"}}), 0);
}

TEST_F(WarmPoolTest, AnEmptyPoolFallsBackToAColdCreateAndCountsAMiss) {
  h_.config.warm_pool = 0;
  ASSERT_TRUE(h_.service->fill_pool().is_ok());  // discards both
  EXPECT_TRUE(pool_ids().empty());
  h_.config.warm_pool = 2;
  auto rec = h_.service->create(CreateRequest{});
  ASSERT_TRUE(rec) << rec.error().message();
  EXPECT_EQ(h_.metrics.counter("sandboxd_warm_pool_claims_total", {{"result", "miss"}}), 1);
}

TEST_F(WarmPoolTest, ASmallerPoolDiscardsTheExtraEntriesAndAllTheyMade) {
  const auto before = pool_ids();
  h_.config.warm_pool = 1;
  ASSERT_TRUE(h_.service->fill_pool().is_ok());
  ASSERT_EQ(pool_ids().size(), 1u);
  const std::string gone = before[0] == pool_ids()[0] ? before[1] : before[0];
  EXPECT_FALSE(h_.runtime.container("wp-s-" + gone));
  EXPECT_FALSE(std::filesystem::exists(h_.workspaces->path(gone)));
  EXPECT_FALSE(std::filesystem::exists(h_.config.identity_dir() + "/" + gone));
}

TEST_F(WarmPoolTest, AnEntryWhoseContainerDiedIsReplaced) {
  const auto before = pool_ids();
  h_.runtime.set_running("wp-s-" + before[0], false);
  ASSERT_TRUE(h_.service->fill_pool().is_ok());
  auto after = pool_ids();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(std::find(after.begin(), after.end(), before[0]), after.end());
}

TEST_F(WarmPoolTest, PoolContainersAreNotOrphansAndPoolIdsAreNotTheApis) {
  const auto ids = pool_ids();
  auto seen = h_.service->observe();
  ASSERT_TRUE(seen);
  for (const auto& c : *seen) ASSERT_TRUE(h_.service->remove_orphan(c).is_ok());
  for (const auto& id : ids) EXPECT_TRUE(h_.runtime.container("wp-s-" + id));
  EXPECT_EQ(h_.service->destroy(ids[0]).code(), Code::kNotFound);
  EXPECT_TRUE(h_.runtime.container("wp-s-" + ids[0]));
  CreateRequest taken;
  taken.id = ids[1];
  EXPECT_EQ(h_.service->create(taken).error().code(), Code::kConflict);
  EXPECT_EQ(h_.service->pool_ready(), 2);
}

}  // namespace
}  // namespace sandboxd
