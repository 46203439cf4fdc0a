#include "sandboxd/sandbox/workspaces.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

class WorkspacesTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/ws-test-" + std::to_string(::getpid());
    fs::create_directories(base_);
    ws_ = std::make_unique<Workspaces>(base_ + "/workspaces", ::getuid(), ::getgid());
    ASSERT_TRUE(ws_->init().is_ok());
  }
  void TearDown() override { fs::remove_all(base_); }

  std::string base_;
  std::unique_ptr<Workspaces> ws_;
};

TEST_F(WorkspacesTest, EnsureCreatesASeededPrivateWorkspaceOnce) {
  auto created = ws_->ensure("abc");
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_TRUE(*created);
  EXPECT_TRUE(fs::is_directory(ws_->path("abc") + "/workspace/app"));
  struct stat sb {};
  ASSERT_EQ(::stat(ws_->path("abc").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0700u);
  EXPECT_EQ(sb.st_uid, ::getuid());
  std::ofstream(ws_->path("abc") + "/workspace/app/keep.txt") << "x";
  auto again = ws_->ensure("abc");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_TRUE(fs::exists(ws_->path("abc") + "/workspace/app/keep.txt"));
}

TEST_F(WorkspacesTest, EnsureRefusesASymlinkInPlaceOfTheWorkspace) {
  fs::create_directories(base_ + "/elsewhere");
  fs::create_directory_symlink(base_ + "/elsewhere", ws_->path("evil"));
  auto r = ws_->ensure("evil");
  EXPECT_FALSE(r);
}

TEST_F(WorkspacesTest, RemoveCountsBytesAndNeverFollowsSymlinks) {
  ASSERT_TRUE(ws_->ensure("abc"));
  fs::create_directories(base_ + "/outside/dir");
  std::ofstream(base_ + "/outside/dir/precious") << "do not delete";
  std::ofstream(ws_->path("abc") + "/workspace/app/big") << std::string(100000, 'x');
  fs::create_directory_symlink(base_ + "/outside/dir",
                               ws_->path("abc") + "/workspace/app/link-dir");
  fs::create_symlink(base_ + "/outside/dir/precious", ws_->path("abc") + "/workspace/link-file");
  auto freed = ws_->remove("abc");
  ASSERT_TRUE(freed) << freed.error().message();
  EXPECT_GE(*freed, 100000);
  EXPECT_FALSE(fs::exists(ws_->path("abc")));
  EXPECT_TRUE(fs::exists(base_ + "/outside/dir/precious"));
  auto missing = ws_->remove("abc");
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, 0);
}

}  // namespace
}  // namespace sandboxd
