// Task retention (TaskService::prune_finished) on the in-memory store: finished tasks go
// by age and per-sandbox count, with their events; every pass removes the task
// directories that have no row (never through a symlink); running tasks stay.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fakes/service_harness.h"
#include "sandboxd/base/metrics.h"
#include "sandboxd/tasks/task_service.h"

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDayMs = 86'400'000;

class TaskRetentionTest : public testing::Test {
 protected:
  TaskRetentionTest() : h_("retention") {}
  void SetUp() override {
    h_.config.task_retention_days = 30;
    h_.config.task_max_finished = 2;
    h_.init();
    h_.create("s1");
    h_.create("s2");
    tasks_ = std::make_unique<TaskService>(h_.config, *h_.store, *h_.service, h_.clock,
                                           *h_.workspaces, h_.metrics);
  }

  // A task id (the shape of a ULID) for a readable label.
  static std::string tid(const std::string& label) {
    return label + std::string(26 - label.size(), '0');
  }
  // A stored task (with two events) that finished `age_days` ago (running: started then),
  // and its directory in the sandbox's workspace.
  void add(const std::string& label, const std::string& sandbox, double age_days,
           TaskStatus status = TaskStatus::kSucceeded) {
    const int64_t at = h_.clock.now_ms() - static_cast<int64_t>(age_days * kDayMs);
    TaskRecord t = test_task(tid(label), sandbox, status, 0);
    t.created_at = t.started_at = at - 1000;
    if (status != TaskStatus::kRunning) t.finished_at = at;
    ASSERT_TRUE(h_.store->insert_task(t).is_ok());
    ASSERT_TRUE(h_.store->append_task_events(t, {{"status", "{}"}, {"done", "{}"}}, at).is_ok());
    fs::create_directories(dir(sandbox, label));
    std::ofstream(dir(sandbox, label) + "/out.jsonl") << "{}\n";
  }
  std::string dir(const std::string& sandbox, const std::string& label) {
    return h_.workspaces->path(sandbox) + "/.sandboxed/tasks/" + tid(label);
  }
  bool kept(const std::string& label) {
    auto t = h_.store->get_task(tid(label));
    return t && t->has_value();
  }

  ServiceHarness h_;
  std::unique_ptr<TaskService> tasks_;
};

TEST_F(TaskRetentionTest, PrunesTasksFinishedBeforeTheRetentionAgeWithEventsAndDirectories) {
  add("old", "s1", 31);
  add("recent", "s1", 29);
  add("oldrun", "s2", 400, TaskStatus::kRunning);
  auto r = tasks_->prune_finished();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->expired, 1);
  EXPECT_EQ(r->over_cap, 0);
  EXPECT_EQ(r->dirs_removed, 1);
  EXPECT_FALSE(kept("old"));
  EXPECT_TRUE(h_.store->task_events(tid("old"), 0, 10)->empty());
  EXPECT_FALSE(fs::exists(dir("s1", "old")));
  EXPECT_TRUE(kept("recent"));
  EXPECT_TRUE(fs::exists(dir("s1", "recent")));
  EXPECT_TRUE(kept("oldrun")) << "a running task is never pruned";
  EXPECT_EQ(h_.store->task_events(tid("oldrun"), 0, 10)->size(), 2u);
  EXPECT_TRUE(fs::exists(dir("s2", "oldrun")));
  EXPECT_EQ(h_.metrics.counter("sandboxd_tasks_pruned_total", {{"reason", "age"}}), 1);
}

TEST_F(TaskRetentionTest, KeepsTheNewestFinishedTasksPerSandboxAndEveryRunningOne) {
  add("a1", "s1", 5);
  add("a2", "s1", 4);
  add("a3", "s1", 3);
  add("a4", "s1", 2);
  add("arun", "s1", 10, TaskStatus::kRunning);
  add("b1", "s2", 9);
  add("b2", "s2", 8);
  auto r = tasks_->prune_finished();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->over_cap, 2);
  for (const char* id : {"a1", "a2"}) EXPECT_FALSE(kept(id)) << id;
  for (const char* id : {"a3", "a4", "arun", "b1", "b2"}) EXPECT_TRUE(kept(id)) << id;
  EXPECT_FALSE(fs::exists(dir("s1", "a1")));
  EXPECT_TRUE(fs::exists(dir("s1", "a3")));
  auto again = tasks_->prune_finished();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->expired + again->over_cap, 0) << "a second pass has nothing to do";
}

TEST_F(TaskRetentionTest, DirectoryRemovalNeverFollowsATenantsSymlink) {
  const std::string outside = h_.base + "/outside";
  fs::create_directories(outside + "/sub");
  std::ofstream(outside + "/sub/precious") << "keep me";
  add("linked", "s1", 40);
  fs::create_directory_symlink(outside, dir("s1", "linked") + "/link");
  fs::create_directories(dir("s1", "linked") + "/a/b/c");
  fs::create_symlink(outside + "/sub/precious", dir("s1", "linked") + "/a/b/c/file");
  add("swapped", "s1", 40);
  fs::remove_all(dir("s1", "swapped"));
  fs::create_directory_symlink(outside + "/sub", dir("s1", "swapped"));
  auto r = tasks_->prune_finished();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->expired, 2);
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir("s1", "linked"))));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir("s1", "swapped")))) << "the link itself goes";
  std::ifstream kept_file(outside + "/sub/precious");
  std::string content((std::istreambuf_iterator<char>(kept_file)), {});
  EXPECT_EQ(content, "keep me");
}

TEST_F(TaskRetentionTest, TasksOfAPurgedSandboxArePrunedWithoutItsWorkspace) {
  add("gone", "s2", 40);
  ASSERT_TRUE(h_.workspaces->remove("s2"));
  auto r = tasks_->prune_finished();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->expired, 1);
  EXPECT_EQ(r->dirs_removed, 0);
  EXPECT_FALSE(kept("gone"));
}

TEST_F(TaskRetentionTest, EveryPassRemovesTaskDirectoriesWhoseRowIsGoneAndNothingElse) {
  // Left by a crash or a failed removal after their rows were deleted, also in the
  // workspace of a sandbox deleted meanwhile (DELETE keeps the workspace).
  ASSERT_TRUE(h_.workspaces->ensure("deleted", 0x70000009, 64 << 20));
  for (const auto& [sandbox, label] :
       {std::pair{"s1", "orphan"}, std::pair{"s2", "orphan2"}, std::pair{"deleted", "orphan3"}}) {
    fs::create_directories(dir(sandbox, label) + "/deep/er");
    std::ofstream(dir(sandbox, label) + "/deep/er/out.jsonl") << "{}\n";
  }
  add("running", "s1", 400, TaskStatus::kRunning);
  add("recent", "s2", 1);
  const std::string tenants = h_.workspaces->path("s1") + "/.sandboxed/tasks/notes";
  fs::create_directories(tenants);
  auto r = tasks_->prune_finished();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->expired + r->over_cap, 0);
  EXPECT_EQ(r->dirs_removed, 3);
  EXPECT_FALSE(fs::exists(dir("s1", "orphan")));
  EXPECT_FALSE(fs::exists(dir("s2", "orphan2")));
  EXPECT_FALSE(fs::exists(dir("deleted", "orphan3")));
  EXPECT_TRUE(fs::exists(dir("s1", "running") + "/out.jsonl")) << "a running task's is kept";
  EXPECT_TRUE(fs::exists(dir("s2", "recent") + "/out.jsonl"));
  EXPECT_TRUE(fs::exists(tenants)) << "a name that is no task id is not ours";
  auto again = tasks_->prune_finished();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->dirs_removed, 0);
}

}  // namespace
}  // namespace sandboxd
