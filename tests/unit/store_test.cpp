#include "sandboxd/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

#include "fakes/service_harness.h"

namespace sandboxd {
namespace {

SandboxRecord sample(const std::string& id) {
  SandboxRecord r;
  r.id = id;
  r.status = SandboxStatus::kRunning;
  r.image = "img:1";
  r.container_name = "s-" + id;
  r.ports = {3000, 5173};
  r.env = {{"API_KEY", "secret"}};
  r.limits = {1 << 30, 256, 4096};
  r.created_at = 1000;
  r.updated_at = 2000;
  r.last_active_at = 2000;
  r.last_active_source = Trigger::kCreate;
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
  EXPECT_EQ(g.last_active_source, Trigger::kCreate);
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
  r.status = SandboxStatus::kStopped;
  ASSERT_TRUE(store->update(r).is_ok());
  EXPECT_EQ((*store->get("a"))->status, SandboxStatus::kStopped);
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
    if (std::string(id) == "b") r.status = SandboxStatus::kStopped;
    ASSERT_TRUE(store->insert(r).is_ok());
  }
  auto page1 = store->list({.status = std::nullopt, .after_id = "", .limit = 2, .metadata = {}});
  ASSERT_TRUE(page1);
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].id, "a");
  EXPECT_EQ((*page1)[1].id, "b");
  auto page2 = store->list({.status = std::nullopt, .after_id = "b", .limit = 2, .metadata = {}});
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ((*page2)[0].id, "c");
  auto stopped =
      store->list({.status = SandboxStatus::kStopped, .after_id = "", .limit = 10, .metadata = {}});
  ASSERT_EQ(stopped->size(), 1u);
  EXPECT_EQ((*stopped)[0].id, "b");
}

TEST(Store, ListFiltersByEveryMetadataPairGiven) {
  auto store = memory_store();
  auto put = [&](const char* id, std::map<std::string, std::string> md) {
    SandboxRecord r = sample(id);
    r.metadata = std::move(md);
    ASSERT_TRUE(store->insert(r).is_ok());
  };
  put("a", {{"user", "alice"}, {"project", "p1"}});
  put("b", {{"user", "alice"}, {"project", "p2"}});
  put("c", {{"user", "bob"}});
  put("d", {{"user.name", "alice"}});
  auto ids = [&](std::map<std::string, std::string> md) {
    ListQuery q;
    q.metadata = std::move(md);
    std::vector<std::string> out;
    auto rows = store->list(q);
    EXPECT_TRUE(rows);
    if (rows)
      for (const auto& r : *rows) out.push_back(r.id);
    return out;
  };
  EXPECT_EQ(ids({{"user", "alice"}}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ids({{"user", "alice"}, {"project", "p2"}}), (std::vector<std::string>{"b"}));
  EXPECT_EQ(ids({{"user", "carol"}}), (std::vector<std::string>{}));
  // A dot in a key is part of the key, not a JSON path step.
  EXPECT_EQ(ids({{"user.name", "alice"}}), (std::vector<std::string>{"d"}));
  EXPECT_EQ(ids({}).size(), 4u);
}

TEST(Store, RoundTripsMetadataAndPendingRestart) {
  auto store = memory_store();
  SandboxRecord r = sample("m1");
  r.metadata = {{"user", "alice"}, {"note", "\"quoted\" é"}};
  r.pending_restart = {"memory", "nofile"};
  ASSERT_TRUE(store->insert(r).is_ok());
  auto got = store->get("m1");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->metadata, r.metadata);
  EXPECT_EQ((*got)->pending_restart, r.pending_restart);
}

TEST(Store, AWordTheDomainDoesNotKnowIsAnErrorForItsRowAndSkippedInListings) {
  std::string dir = testing::TempDir() + "/store-enum-test-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::string path = dir + "/sandboxd.db";
  auto s = Store::open(path);
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE((*s)->insert(sample("odd")).is_ok());
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE sandboxes SET status = 'hibernating' WHERE id = 'odd'");
  }
  ASSERT_TRUE((*s)->insert(sample("fine")).is_ok());
  auto row = (*s)->get("odd");
  ASSERT_FALSE(row);
  EXPECT_EQ(row.error().code(), Code::kInternal);
  EXPECT_NE(row.error().message().find("unknown status 'hibernating'"), std::string::npos)
      << row.error().message();
  // A listing skips (and logs) the row it cannot read; the others are still served.
  auto rows = (*s)->list({.status = std::nullopt, .after_id = "", .limit = 10, .metadata = {}});
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, "fine");
  s->reset();
  std::filesystem::remove_all(dir);
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

class StoreFileTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/store-file-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/sandboxd.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(StoreFileTest, PurgeRemovesTheRowAndItsTasksInOneTransaction) {
  auto store = std::move(*Store::open(path_));
  ASSERT_TRUE(store->insert(sample("a")).is_ok());
  ASSERT_TRUE(store->insert(sample("b")).is_ok());
  for (auto t : {test_task("t1", "a", TaskStatus::kSucceeded, 100),
                 test_task("t2", "a", TaskStatus::kRunning, 0),
                 test_task("t3", "b", TaskStatus::kFailed, 100)}) {
    ASSERT_TRUE(store->insert_task(t).is_ok());
    ASSERT_TRUE(store->append_task_events(t, {{"status", "{}"}}, 5).is_ok());
  }
  // The last statement fails: nothing of the purge may remain done.
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec(
        "CREATE TRIGGER refuse BEFORE DELETE ON sandboxes BEGIN SELECT RAISE(ABORT, 'no'); "
        "END");
  }
  EXPECT_FALSE(store->remove_with_tasks("a").is_ok());
  EXPECT_TRUE(store->get("a")->has_value());
  EXPECT_EQ(store->list_tasks("a", 10)->size(), 2u);
  EXPECT_EQ(store->task_events("t1", 0, 10)->size(), 1u);
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("DROP TRIGGER refuse");
  }
  ASSERT_TRUE(store->remove_with_tasks("a").is_ok());
  EXPECT_FALSE(store->get("a")->has_value());
  EXPECT_TRUE(store->list_tasks("a", 10)->empty());
  EXPECT_TRUE(store->task_events("t1", 0, 10)->empty());
  EXPECT_TRUE(store->task_events("t2", 0, 10)->empty());
  EXPECT_TRUE(store->get("b")->has_value()) << "other sandboxes are untouched";
  EXPECT_EQ(store->task_events("t3", 0, 10)->size(), 1u);
  EXPECT_TRUE(store->remove_with_tasks("a").is_ok()) << "idempotent";
}

// Retention: rows by age and per-sandbox count, in batches; running tasks never.
TEST(Store, PruneFinishedTasksByAgeThenPerSandboxCount) {
  auto store = memory_store();
  const int64_t cutoff = 1000;
  struct Row {
    const char* id;
    const char* sandbox;
    TaskStatus status;
    int64_t finished_at;
  };
  const Row rows[] = {
      {"old1", "a", TaskStatus::kSucceeded, 10},  // past the age
      {"old2", "b", TaskStatus::kFailed, 20},     // past the age
      {"run1", "a", TaskStatus::kRunning, 0},     // running: kept, however old
      {"a1", "a", TaskStatus::kSucceeded, 1100},  // a: 4 recent finished, keep 2
      {"a2", "a", TaskStatus::kCancelled, 1200},
      {"a3", "a", TaskStatus::kSucceeded, 1300},
      {"a4", "a", TaskStatus::kFailed, 1400},
      {"b1", "b", TaskStatus::kSucceeded, 1500},  // b: 1 recent finished, kept
  };
  for (const auto& r : rows) {
    TaskRecord t = test_task(r.id, r.sandbox, r.status, r.finished_at);
    ASSERT_TRUE(store->insert_task(t).is_ok());
    ASSERT_TRUE(store->append_task_events(t, {{"status", "{}"}, {"done", "{}"}}, 5).is_ok());
  }
  std::map<std::string, bool> pruned;  // id -> over_cap
  for (int pass = 0; pass < 10; ++pass) {
    auto batch = store->prune_finished_tasks(cutoff, /*keep_per_sandbox=*/2, /*limit=*/3);
    ASSERT_TRUE(batch) << batch.error().message();
    EXPECT_LE(batch->size(), 3u);
    for (const auto& p : *batch) EXPECT_TRUE(pruned.emplace(p.id, p.over_cap).second) << p.id;
    if (batch->size() < 3) break;
  }
  EXPECT_EQ(pruned, (std::map<std::string, bool>{
                        {"old1", false}, {"old2", false}, {"a1", true}, {"a2", true}}));
  for (const auto& r : rows) {
    bool gone = pruned.count(r.id) > 0;
    EXPECT_EQ(!store->get_task(r.id)->has_value(), gone) << r.id;
    EXPECT_EQ(store->task_events(r.id, 0, 10)->empty(), gone) << r.id << ": its events";
  }
  EXPECT_TRUE(store->prune_finished_tasks(cutoff, 2, 3)->empty()) << "nothing more is due";
}

}  // namespace
}  // namespace sandboxd
