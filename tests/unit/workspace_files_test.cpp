// WorkspaceFiles against a real temporary tree: the API's reads, writes and removals,
// and every hostile layout a tenant can make in its own workspace (symlinks to /, to
// /etc, to another workspace, mid-path and at the leaf; FIFOs; '..'; absolute; NUL;
// oversized), each refused without touching anything outside the workspace.
#include "sandboxd/sandbox/workspace_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

class WorkspaceFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(base_);
    fs::create_directories(base_ + "/workspaces/a/workspace/app");
    fs::create_directories(base_ + "/workspaces/victim");
    fs::create_directories(base_ + "/outside");
    std::ofstream(base_ + "/workspaces/victim/secret") << "victim's";
    std::ofstream(base_ + "/outside/secret") << "host's";
  }
  void TearDown() override { fs::remove_all(base_); }
  std::string ws(const std::string& rel = "") const { return base_ + "/workspaces/a/" + rel; }
  // Every file below `dir`, to prove a refused call changed nothing there.
  static std::set<std::string> tree(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(e.path().string());
    return out;
  }
  std::string base_ = testing::TempDir() + "/wsfiles-" + std::to_string(::getpid());
  WorkspaceFiles files_{base_ + "/workspaces", 1024};
};

TEST(SplitWorkspacePath, AcceptsRelativePathsAndRefusesEscapes) {
  EXPECT_EQ(*split_workspace_path("workspace/app/a.txt", false),
            (std::vector<std::string>{"workspace", "app", "a.txt"}));
  EXPECT_EQ(*split_workspace_path("dir/", true), std::vector<std::string>{"dir"});
  EXPECT_TRUE(split_workspace_path("", true)->empty());
  EXPECT_TRUE(split_workspace_path(".", true)->empty());
  for (const char* bad :
       {"", ".", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "..", "a/.."}) {
    EXPECT_FALSE(split_workspace_path(bad, false)) << bad;
  }
  EXPECT_FALSE(split_workspace_path(std::string("a\0b", 3), false));
  EXPECT_FALSE(split_workspace_path(std::string(5000, 'a'), false));
  EXPECT_FALSE(split_workspace_path(std::string(256, 'a'), false));
}

TEST_F(WorkspaceFilesTest, WritesReadsListsAppendsAndRemoves) {
  ASSERT_TRUE(files_.put("a", "workspace/app/src/main.js", "hello", false).is_ok());
  auto f = files_.get("a", "workspace/app/src/main.js");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->type, "file");
  EXPECT_EQ(f->content, "hello");
  ASSERT_TRUE(files_.put("a", "workspace/app/src/main.js", " world", true).is_ok());
  EXPECT_EQ(files_.get("a", "workspace/app/src/main.js")->content, "hello world");
  ASSERT_TRUE(files_.put("a", "workspace/app/src/main.js", "replaced", false).is_ok());
  EXPECT_EQ(files_.get("a", "workspace/app/src/main.js")->content, "replaced");

  auto dir = files_.get("a", "workspace/app/src");
  ASSERT_TRUE(dir);
  EXPECT_EQ(dir->type, "dir");
  ASSERT_EQ(dir->entries.size(), 1u) << "no temporary files are left behind";
  EXPECT_EQ(dir->entries[0].name, "main.js");
  EXPECT_EQ(dir->entries[0].size, 8);
  EXPECT_EQ(files_.get("a", "")->entries[0].name, "workspace");

  EXPECT_EQ(files_.remove("a", "workspace/app/src").code(), Code::kConflict) << "not empty";
  ASSERT_TRUE(files_.remove("a", "workspace/app/src/main.js").is_ok());
  ASSERT_TRUE(files_.remove("a", "workspace/app/src").is_ok());
  EXPECT_EQ(files_.get("a", "workspace/app/src").error().code(), Code::kNotFound);
  EXPECT_EQ(files_.remove("a", "workspace/app/src").code(), Code::kNotFound);
  EXPECT_EQ(files_.get("nosuch", "").error().code(), Code::kNotFound);
}

TEST_F(WorkspaceFilesTest, CreatedFilesAndParentsBelongToTheWorkspacesOwnerAndKeepTheirMode) {
  // The workspace's owner is its sandbox's own uid: as root, one no account has.
  const uid_t owner = ::getuid() == 0 ? 0x70000007 : ::getuid();
  ASSERT_EQ(::chown(ws().c_str(), owner, owner), 0);
  ASSERT_TRUE(files_.put("a", "new/dir/f.sh", "#!/bin/sh", false).is_ok());
  struct stat st {};
  ASSERT_EQ(::stat(ws("new/dir/f.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, owner);
  EXPECT_EQ(st.st_gid, owner);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ASSERT_EQ(::stat(ws("new/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, owner);
  ASSERT_EQ(::chmod(ws("new/dir/f.sh").c_str(), 0755), 0);
  ASSERT_TRUE(files_.put("a", "new/dir/f.sh", "echo", false).is_ok());
  ASSERT_EQ(::stat(ws("new/dir/f.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u) << "a replaced file keeps its mode";
}

TEST_F(WorkspaceFilesTest, SymlinksAreNeverFollowedAnywhereOnThePath) {
  fs::create_symlink("/", ws("to-root"));
  fs::create_symlink("/etc", ws("to-etc"));
  fs::create_symlink(base_ + "/workspaces/victim", ws("to-victim"));
  fs::create_symlink(base_ + "/outside/secret", ws("leaf"));
  fs::create_symlink(base_ + "/outside", ws("workspace/app/mid"));
  auto outside = tree(base_ + "/outside");
  auto victim = tree(base_ + "/workspaces/victim");
  for (const char* path : {"to-root", "to-root/etc/passwd", "to-etc/passwd", "to-victim/secret",
                           "leaf", "workspace/app/mid/secret", "workspace/app/mid"}) {
    auto r = files_.get("a", path);
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << path << ": " << r.error().message();
  }
  for (const char* path : {"to-root/tmp/pwned", "to-etc/pwned", "to-victim/secret", "leaf",
                           "workspace/app/mid/secret", "workspace/app/mid/new/deeper"}) {
    for (bool append : {false, true}) {
      Status s = files_.put("a", path, "pwned", append);
      EXPECT_EQ(s.code(), Code::kInvalidArgument)
          << path << " append=" << append << ": " << s.message();
    }
    EXPECT_EQ(files_.remove("a", std::string(path) + "/x").code(), Code::kInvalidArgument) << path;
  }
  EXPECT_EQ(tree(base_ + "/outside"), outside);
  EXPECT_EQ(tree(base_ + "/workspaces/victim"), victim);
  std::ifstream secret(base_ + "/outside/secret");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(secret), {}), "host's");
  EXPECT_FALSE(fs::exists("/tmp/pwned"));
  // Removing a symlink removes the link itself, never its target.
  ASSERT_TRUE(files_.remove("a", "leaf").is_ok());
  EXPECT_TRUE(fs::exists(base_ + "/outside/secret"));
}

TEST_F(WorkspaceFilesTest, FifosAndOtherSpecialFilesAreRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(ws("pipe").c_str(), 0644), 0);
  EXPECT_EQ(files_.get("a", "pipe").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(files_.put("a", "pipe", "x", true).code(), Code::kInvalidArgument);
  EXPECT_EQ(files_.put("a", "pipe", "x", false).code(), Code::kInvalidArgument);
  struct stat st {};
  ASSERT_EQ(::lstat(ws("pipe").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "left as it was";
}

TEST_F(WorkspaceFilesTest, SizeLimitsAreEnforcedOnReadWriteAndAppend) {
  std::string big(1025, 'x');
  EXPECT_EQ(files_.put("a", "big", big, false).code(), Code::kTooLarge);
  EXPECT_FALSE(fs::exists(ws("big")));
  ASSERT_TRUE(files_.put("a", "grow", std::string(1000, 'x'), false).is_ok());
  EXPECT_EQ(files_.put("a", "grow", std::string(100, 'x'), true).code(), Code::kTooLarge);
  EXPECT_EQ(fs::file_size(ws("grow")), 1000u);
  std::ofstream(ws("huge")) << big;  // made by the tenant
  EXPECT_EQ(files_.get("a", "huge").error().code(), Code::kTooLarge);
  EXPECT_EQ(files_.put("a", "workspace", "x", false).code(), Code::kConflict) << "a directory";
}

TEST_F(WorkspaceFilesTest, WorkspaceIdsAreTheRootsEntriesNamedLikeIds) {
  fs::create_directories(base_ + "/workspaces/.seed-b");
  fs::create_directories(base_ + "/workspaces/Upper");
  auto ids = files_.workspace_ids();
  ASSERT_TRUE(ids) << ids.error().message();
  EXPECT_EQ(std::set<std::string>(ids->begin(), ids->end()),
            (std::set<std::string>{"a", "victim"}));
}

}  // namespace
}  // namespace sandboxd
