#include "sandboxd/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace sandboxd {
namespace {

SandboxRecord sample(const std::string& id) {
  SandboxRecord r;
  r.id = id;
  r.status = kStatusRunning;
  r.image = "img:1";
  r.container_name = "s-" + id;
  r.ports = {3000, 5173};
  r.env = {{"API_KEY", "secret"}};
  r.limits = {1 << 30, 256, 4096};
  r.created_at = 1000;
  r.updated_at = 2000;
  r.last_active_at = 2000;
  r.last_active_source = "create";
  return r;
}

std::unique_ptr<Store> memory_store() {
  auto s = Store::open(":memory:");
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

TEST(Store, AppliesEmbeddedMigrations) {
  auto store = memory_store();
  auto v = store->schema_version();
  ASSERT_TRUE(v);
  EXPECT_GE(*v, 1);
  EXPECT_TRUE(store->ping().is_ok());
}

TEST(Store, RoundTripsEveryField) {
  auto store = memory_store();
  SandboxRecord r = sample("abc");
  r.keepalive_until = 77;
  r.error_message = "boom";
  ASSERT_TRUE(store->insert(r).is_ok());
  auto got = store->get("abc");
  ASSERT_TRUE(got && got->has_value());
  const SandboxRecord& g = **got;
  EXPECT_EQ(g.ports, r.ports);
  EXPECT_EQ(g.env, r.env);
  EXPECT_EQ(g.limits.memory_bytes, r.limits.memory_bytes);
  EXPECT_EQ(g.limits.pids, 256);
  EXPECT_EQ(g.keepalive_until, 77);
  EXPECT_EQ(g.error_message, "boom");
  EXPECT_EQ(g.last_active_source, "create");
}

TEST(Store, InsertOfAnExistingIdIsConflict) {
  auto store = memory_store();
  ASSERT_TRUE(store->insert(sample("a")).is_ok());
  EXPECT_EQ(store->insert(sample("a")).code(), Code::kConflict);
}

TEST(Store, UpdateReplacesAndMissingIsNotFound) {
  auto store = memory_store();
  SandboxRecord r = sample("a");
  ASSERT_TRUE(store->insert(r).is_ok());
  r.status = kStatusStopped;
  ASSERT_TRUE(store->update(r).is_ok());
  EXPECT_EQ((*store->get("a"))->status, kStatusStopped);
  EXPECT_EQ(store->update(sample("zzz")).code(), Code::kNotFound);
}

TEST(Store, RemoveIsIdempotent) {
  auto store = memory_store();
  ASSERT_TRUE(store->insert(sample("a")).is_ok());
  EXPECT_TRUE(store->remove("a").is_ok());
  EXPECT_TRUE(store->remove("a").is_ok());
  EXPECT_FALSE(store->get("a")->has_value());
}

TEST(Store, ListPagesByIdAndFiltersByStatus) {
  auto store = memory_store();
  for (const char* id : {"c", "a", "b", "d"}) {
    SandboxRecord r = sample(id);
    if (std::string(id) == "b") r.status = kStatusStopped;
    ASSERT_TRUE(store->insert(r).is_ok());
  }
  auto page1 = store->list({.status = "", .after_id = "", .limit = 2});
  ASSERT_TRUE(page1);
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].id, "a");
  EXPECT_EQ((*page1)[1].id, "b");
  auto page2 = store->list({.status = "", .after_id = "b", .limit = 2});
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ((*page2)[0].id, "c");
  auto stopped = store->list({.status = kStatusStopped, .after_id = "", .limit = 10});
  ASSERT_EQ(stopped->size(), 1u);
  EXPECT_EQ((*stopped)[0].id, "b");
}

TEST(Store, FileIsOwnerOnlyInWalModeAndSurvivesReopen) {
  std::string dir = testing::TempDir() + "/store-test-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::string path = dir + "/sandboxd.db";
  {
    auto s = Store::open(path);
    ASSERT_TRUE(s) << s.error().message();
    ASSERT_TRUE((*s)->insert(sample("keep")).is_ok());
  }
  struct stat sb {};
  ASSERT_EQ(::stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600);
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  }
  auto again = Store::open(path);
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->get("keep")->has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sandboxd
