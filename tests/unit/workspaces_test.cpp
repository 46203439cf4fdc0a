#include "sandboxd/sandbox/workspaces.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fakes/fake_disks.h"

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

class WorkspacesTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/ws-test-" + std::to_string(::getpid());
    fs::create_directories(base_);
    ws_ = std::make_unique<Workspaces>(base_ + "/workspaces", disks_);
    ASSERT_TRUE(ws_->init().is_ok());
  }
  void TearDown() override { fs::remove_all(base_); }

  // ensure() with this test's defaults: the sandbox uid, a 64 MiB disk.
  Result<AttachedWorkspace> ensure(const std::string& id) {
    return ws_->ensure(id, kUid, 64 << 20);
  }

  // A uid no account has when run as root (chown needs root); else the test's own.
  const uid_t kUid = ::getuid() == 0 ? 0x70000003 : ::getuid();
  std::string base_;
  FakeDisks disks_;
  std::unique_ptr<Workspaces> ws_;
};

TEST_F(WorkspacesTest, EnsureCreatesASeededPrivateWorkspaceOnItsOwnDiskOnce) {
  auto created = ensure("abc");
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->disk_bytes, 64 << 20);
  EXPECT_EQ(disks_.size("abc"), 64 << 20);
  EXPECT_TRUE(fs::is_directory(ws_->path("abc") + "/workspace/app"));
  struct stat sb {};
  ASSERT_EQ(::stat(ws_->path("abc").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0700u);
  EXPECT_EQ(sb.st_uid, kUid);
  EXPECT_EQ(sb.st_gid, kUid);
  std::ofstream(ws_->path("abc") + "/workspace/app/keep.txt") << "x";
  auto again = ws_->ensure("abc", kUid, 1 << 30);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->disk_bytes, 64 << 20) << "a kept disk keeps its size";
  EXPECT_TRUE(fs::exists(ws_->path("abc") + "/workspace/app/keep.txt"));
  EXPECT_FALSE(disks_.was_filled("abc"));
}

TEST_F(WorkspacesTest, AWorkspaceFromBeforeDisksAndUidsMovesOntoADiskAndToItsUid) {
  if (::getuid() != 0) GTEST_SKIP() << "giving files to another uid needs root";
  // As the old layout left it: a plain directory owned by the old shared uid 1000, with
  // a symlink the tenant planted that points out of the workspace.
  fs::create_directories(ws_->path("old") + "/workspace/app");
  std::ofstream(ws_->path("old") + "/workspace/app/index.js") << "x";
  std::ofstream(base_ + "/outside") << "host's";
  fs::create_symlink(base_ + "/outside", ws_->path("old") + "/workspace/app/link");
  for (const char* p : {"", "/workspace", "/workspace/app", "/workspace/app/index.js"})
    ASSERT_EQ(::chown((ws_->path("old") + p).c_str(), 1000, 1000), 0);
  ASSERT_EQ(::lchown((ws_->path("old") + "/workspace/app/link").c_str(), 1000, 1000), 0);
  auto migrated = ensure("old");
  ASSERT_TRUE(migrated) << migrated.error().message();
  EXPECT_FALSE(migrated->created) << "its files were kept";
  EXPECT_TRUE(disks_.was_filled("old"));
  struct stat sb {};
  for (const char* p : {"", "/workspace/app", "/workspace/app/index.js"}) {
    ASSERT_EQ(::stat((ws_->path("old") + p).c_str(), &sb), 0) << p;
    EXPECT_EQ(sb.st_uid, kUid) << p;
  }
  ASSERT_EQ(::lstat((ws_->path("old") + "/workspace/app/link").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, kUid) << "the link itself is re-owned";
  ASSERT_EQ(::stat((base_ + "/outside").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, 0u) << "what the link points to is not";
}

TEST_F(WorkspacesTest, EnsureFailsCleanlyWhenTheDiskCannotBeMade) {
  disks_.fail_create = true;
  auto r = ensure("abc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_FALSE(fs::exists(ws_->path("abc")));
}

TEST_F(WorkspacesTest, EnsureRefusesASymlinkInPlaceOfTheWorkspace) {
  fs::create_directories(base_ + "/elsewhere");
  fs::create_directory_symlink(base_ + "/elsewhere", ws_->path("evil"));
  auto r = ensure("evil");
  EXPECT_FALSE(r);
}

TEST_F(WorkspacesTest, ReadTailGivesTheEndOfAFileAndNothingForAnAbsentOne) {
  ASSERT_TRUE(ensure("abc"));
  const std::vector<std::string> log = {".sandboxed", "logs", "dev.log"};
  auto absent = ws_->read_tail("abc", log, 4);
  ASSERT_TRUE(absent) << absent.error().message();
  EXPECT_EQ(*absent, "");
  fs::create_directories(ws_->path("abc") + "/.sandboxed/logs");
  std::ofstream(ws_->path("abc") + "/.sandboxed/logs/dev.log") << "first\nlast\n";
  auto tail = ws_->read_tail("abc", log, 5);
  ASSERT_TRUE(tail) << tail.error().message();
  EXPECT_EQ(*tail, "last\n");
  auto whole = ws_->read_tail("abc", log, 1000);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, "first\nlast\n");
  auto no_workspace = ws_->read_tail("nope", log, 5);
  ASSERT_TRUE(no_workspace);
  EXPECT_EQ(*no_workspace, "");
}

TEST_F(WorkspacesTest, ReadTailNeverFollowsASymlinkAtAnyComponent) {
  ASSERT_TRUE(ensure("abc"));
  fs::create_directories(base_ + "/outside/logs");
  std::ofstream(base_ + "/outside/logs/dev.log") << "secret";
  const std::string dot = ws_->path("abc") + "/.sandboxed";
  fs::create_directories(dot + "/logs");
  fs::create_symlink(base_ + "/outside/logs/dev.log", dot + "/logs/dev.log");
  auto leaf = ws_->read_tail("abc", {".sandboxed", "logs", "dev.log"}, 100);
  ASSERT_FALSE(leaf);
  EXPECT_EQ(leaf.error().code(), Code::kConflict);
  fs::remove_all(dot + "/logs");
  fs::create_directory_symlink(base_ + "/outside/logs", dot + "/logs");
  auto dir = ws_->read_tail("abc", {".sandboxed", "logs", "dev.log"}, 100);
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code(), Code::kConflict);
  fs::remove(dot + "/logs");
  fs::create_directories(dot + "/logs/dev.log");
  auto not_file = ws_->read_tail("abc", {".sandboxed", "logs", "dev.log"}, 100);
  ASSERT_FALSE(not_file);
  EXPECT_EQ(not_file.error().code(), Code::kConflict);
}

TEST_F(WorkspacesTest, RemoveCountsBytesAndNeverFollowsSymlinks) {
  ASSERT_TRUE(ensure("abc"));
  fs::create_directories(base_ + "/outside/dir");
  std::ofstream(base_ + "/outside/dir/precious") << "do not delete";
  std::ofstream(ws_->path("abc") + "/workspace/app/big") << std::string(100000, 'x');
  fs::create_directory_symlink(base_ + "/outside/dir",
                               ws_->path("abc") + "/workspace/app/link-dir");
  fs::create_symlink(base_ + "/outside/dir/precious", ws_->path("abc") + "/workspace/link-file");
  auto freed = ws_->remove("abc");
  ASSERT_TRUE(freed) << freed.error().message();
  EXPECT_GE(*freed, 100000 + (64 << 20)) << "the tree and the disk";
  EXPECT_FALSE(disks_.size("abc"));
  EXPECT_FALSE(fs::exists(ws_->path("abc")));
  EXPECT_TRUE(fs::exists(base_ + "/outside/dir/precious"));
  auto missing = ws_->remove("abc");
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, 0);
}

TEST_F(WorkspacesTest, RemoveHandlesATreeDeeperThanTheDescriptorLimit) {
  ASSERT_TRUE(ensure("deep"));
  // 3000 levels: more than the 1024 descriptors this test allows itself below.
  std::string p = ws_->path("deep") + "/workspace/app";
  int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(::mkdirat(fd, "d", 0755), 0);
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    ::close(fd);
    fd = next;
  }
  ::close(fd);
  // Names the walk would use for the subtrees it moves up, planted by the tenant.
  std::ofstream(ws_->path("deep") + "/.purge-0") << "planted";
  fs::create_directories(ws_->path("deep") + "/.purge-1/x");
  struct rlimit old {};
  ::getrlimit(RLIMIT_NOFILE, &old);
  struct rlimit low = {256, old.rlim_max};
  ::setrlimit(RLIMIT_NOFILE, &low);
  auto freed = ws_->remove("deep");
  ::setrlimit(RLIMIT_NOFILE, &old);
  ASSERT_TRUE(freed) << freed.error().message();
  EXPECT_FALSE(fs::exists(ws_->path("deep")));
}

}  // namespace
}  // namespace sandboxd
