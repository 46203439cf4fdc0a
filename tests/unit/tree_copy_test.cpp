#include "sandboxd/sandbox/tree_copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sandboxd/os/fd.h"

namespace sandboxd {
namespace {

namespace fs = std::filesystem;

constexpr struct timespec kOld = {1600000000, 123456789};
constexpr struct timespec kOlder = {1500000000, 987654321};

void write_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << content;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

// atime kOlder, mtime kOld, on the entry itself (a symlink included).
void set_times(const std::string& path) {
  const struct timespec times[2] = {kOlder, kOld};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool is_root() { return ::geteuid() == 0; }

class TreeCopyTest : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    base_ = testing::TempDir() + "/tree-copy-" + std::to_string(::getpid()) + "-" + info->name();
    fs::remove_all(base_);
    from_ = base_ + "/from";
    to_ = base_ + "/to";
    outside_ = base_ + "/outside";
    for (const auto& d : {from_, to_, outside_}) fs::create_directories(d);
  }
  void TearDown() override { fs::remove_all(base_); }

  Result<TreeCopyStats> copy(const TreeCopyOptions& opts = {}) {
    return copy_tree(from_, to_, opts);
  }

  std::string base_, from_, to_, outside_;
};

TEST_F(TreeCopyTest, CopiesContentsModesAndTimesOfFilesDirsAndSymlinks) {
  fs::create_directories(from_ + "/sub/deep");
  write_file(from_ + "/a.txt", "hello", 0640);
  write_file(from_ + "/run.sh", "#!/bin/sh\n", 0755);
  write_file(from_ + "/empty", "", 0600);
  std::string big(5 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  write_file(from_ + "/sub/deep/big.bin", big);
  ASSERT_EQ(::symlink("../a.txt", (from_ + "/sub/link").c_str()), 0);
  fs::create_directories(from_ + "/ro");
  write_file(from_ + "/ro/inside", "x");
  ASSERT_EQ(::chmod((from_ + "/ro").c_str(), 0555), 0);
  ASSERT_EQ(::chmod((from_ + "/sub").c_str(), 0750), 0);
  for (const char* p : {"/a.txt", "/sub/link", "/sub/deep", "/sub", "/ro"}) set_times(from_ + p);

  auto stats = copy();
  ASSERT_TRUE(stats) << stats.error().message();

  EXPECT_EQ(stats->files, 5);
  EXPECT_EQ(stats->bytes, 5 + 10 + 0 + (5 << 20) + 1);
  EXPECT_GE(stats->reflinked, 0);
  EXPECT_LE(stats->reflinked, stats->files);
  // Times first: reading an entry whose atime is over a day old updates it (relatime).
  for (const char* p : {"/a.txt", "/sub/link", "/sub/deep", "/sub", "/ro"}) {
    const auto st = lstat_of(to_ + p);
    EXPECT_TRUE(same_time(st.st_mtim, kOld)) << p;
    EXPECT_TRUE(same_time(st.st_atim, kOlder)) << p;
  }
  EXPECT_EQ(read_file(to_ + "/a.txt"), "hello");
  EXPECT_EQ(read_file(to_ + "/sub/deep/big.bin"), big);
  EXPECT_EQ(read_file(to_ + "/ro/inside"), "x");
  EXPECT_TRUE(fs::is_regular_file(to_ + "/empty"));
  EXPECT_EQ(lstat_of(to_ + "/a.txt").st_mode & 07777, 0640u);
  EXPECT_EQ(lstat_of(to_ + "/run.sh").st_mode & 07777, 0755u);
  EXPECT_EQ(lstat_of(to_ + "/empty").st_mode & 07777, 0600u);
  EXPECT_EQ(lstat_of(to_ + "/sub").st_mode & 07777, 0750u);
  EXPECT_EQ(lstat_of(to_ + "/ro").st_mode & 07777, 0555u);
  ASSERT_TRUE(fs::is_symlink(to_ + "/sub/link"));
  EXPECT_EQ(fs::read_symlink(to_ + "/sub/link"), "../a.txt");
  ASSERT_EQ(::chmod((from_ + "/ro").c_str(), 0755), 0);  // so that a non-root run can clean up
  ASSERT_EQ(::chmod((to_ + "/ro").c_str(), 0755), 0);
}

TEST_F(TreeCopyTest, SymlinksToHostPathsAreCopiedAsLinksAndNeverFollowed) {
  write_file(outside_ + "/victim", "secret", 0600);
  set_times(outside_ + "/victim");  // an atime over a day old: relatime records a read
  ASSERT_EQ(::symlink("/etc/passwd", (from_ + "/passwd").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/victim").c_str(), (from_ + "/victim").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), (from_ + "/outdir").c_str()), 0);
  const auto passwd_before = lstat_of("/etc/passwd");
  const auto victim_before = lstat_of(outside_ + "/victim");
  const auto outdir_before = lstat_of(outside_);

  TreeCopyOptions opts;
  if (is_root()) opts.owner = 0x70000005;
  auto stats = copy(opts);
  ASSERT_TRUE(stats) << stats.error().message();

  EXPECT_EQ(stats->files, 0);
  EXPECT_EQ(stats->bytes, 0);
  EXPECT_EQ(fs::read_symlink(to_ + "/passwd"), "/etc/passwd");
  EXPECT_EQ(fs::read_symlink(to_ + "/victim"), outside_ + "/victim");
  EXPECT_EQ(fs::read_symlink(to_ + "/outdir"), outside_);
  const auto passwd_after = lstat_of("/etc/passwd");
  EXPECT_TRUE(same_time(passwd_after.st_ctim, passwd_before.st_ctim));
  EXPECT_TRUE(same_time(passwd_after.st_mtim, passwd_before.st_mtim));
  EXPECT_EQ(passwd_after.st_uid, passwd_before.st_uid);
  const auto victim_after = lstat_of(outside_ + "/victim");
  EXPECT_TRUE(same_time(victim_after.st_ctim, victim_before.st_ctim)) << "metadata changed";
  EXPECT_TRUE(same_time(victim_after.st_atim, victim_before.st_atim)) << "it was read";
  EXPECT_EQ(victim_after.st_uid, victim_before.st_uid);
  EXPECT_EQ(read_file(outside_ + "/victim"), "secret");
  EXPECT_TRUE(same_time(lstat_of(outside_).st_ctim, outdir_before.st_ctim));
}

TEST_F(TreeCopyTest, NeverWritesThroughASymlinkInTheDestination) {
  fs::create_directories(from_ + "/sub");
  write_file(from_ + "/sub/f", "planted");
  ASSERT_EQ(::symlink(outside_.c_str(), (to_ + "/sub").c_str()), 0);

  auto into_dir = copy();

  ASSERT_FALSE(into_dir);
  EXPECT_EQ(into_dir.error().code(), Code::kConflict);
  EXPECT_NE(into_dir.error().message().find("sub"), std::string::npos)
      << into_dir.error().message();
  EXPECT_TRUE(fs::is_empty(outside_));

  fs::remove_all(from_ + "/sub");
  fs::remove(to_ + "/sub");
  write_file(from_ + "/f.txt", "tenant");
  write_file(outside_ + "/victim", "host", 0600);
  ASSERT_EQ(::symlink((outside_ + "/victim").c_str(), (to_ + "/f.txt").c_str()), 0);
  const auto victim_before = lstat_of(outside_ + "/victim");

  auto onto_file = copy();

  ASSERT_FALSE(onto_file);
  EXPECT_EQ(onto_file.error().code(), Code::kConflict);
  EXPECT_NE(onto_file.error().message().find("f.txt"), std::string::npos);
  EXPECT_EQ(read_file(outside_ + "/victim"), "host");
  EXPECT_TRUE(same_time(lstat_of(outside_ + "/victim").st_ctim, victim_before.st_ctim));
}

TEST_F(TreeCopyTest, AnExistingEntryInTheDestinationIsAConflict) {
  write_file(from_ + "/a", "new");
  write_file(to_ + "/a", "old");

  auto stats = copy();

  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code(), Code::kConflict);
  EXPECT_EQ(read_file(to_ + "/a"), "old");
}

TEST_F(TreeCopyTest, ExcludeTopSkipsOnlyTopLevelNames) {
  fs::create_directories(from_ + "/.sandboxed");
  fs::create_directories(from_ + "/app/.sandboxed");
  write_file(from_ + "/.sandboxed/state", "x");
  write_file(from_ + "/app/.sandboxed/kept", "y");
  write_file(from_ + "/skipme", "z");

  auto stats = copy({.exclude_top = {".sandboxed", "skipme"}});

  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_FALSE(fs::exists(to_ + "/.sandboxed"));
  EXPECT_FALSE(fs::exists(to_ + "/skipme"));
  EXPECT_EQ(read_file(to_ + "/app/.sandboxed/kept"), "y");
  EXPECT_EQ(stats->files, 1);
}

TEST_F(TreeCopyTest, OwnerGetsEveryCopiedEntry) {
  if (!is_root()) GTEST_SKIP() << "chown to another uid needs root";
  fs::create_directories(from_ + "/d/e");
  write_file(from_ + "/d/e/f", "x");
  write_file(from_ + "/g", "y");
  ASSERT_EQ(::symlink("g", (from_ + "/d/l").c_str()), 0);
  const uid_t owner = 0x70000006;
  const auto root_before = lstat_of(to_);

  auto stats = copy({.owner = owner});

  ASSERT_TRUE(stats) << stats.error().message();
  int seen = 0;
  for (const auto& entry : fs::recursive_directory_iterator(to_)) {
    const auto st = lstat_of(entry.path());
    EXPECT_EQ(st.st_uid, owner) << entry.path();
    EXPECT_EQ(st.st_gid, owner) << entry.path();
    ++seen;
  }
  EXPECT_EQ(seen, 5);
  EXPECT_EQ(lstat_of(to_).st_uid, root_before.st_uid) << "the destination root is left alone";
}

TEST_F(TreeCopyTest, WithoutOwnerEntriesKeepTheSourceOwner) {
  if (!is_root()) GTEST_SKIP() << "chown to another uid needs root";
  fs::create_directories(from_ + "/d");
  write_file(from_ + "/d/f", "x");
  ASSERT_EQ(::symlink("f", (from_ + "/d/l").c_str()), 0);
  for (const char* p : {"/d", "/d/f", "/d/l"})
    ASSERT_EQ(::lchown((from_ + p).c_str(), 12345, 23456), 0);

  auto stats = copy();

  ASSERT_TRUE(stats) << stats.error().message();
  for (const char* p : {"/d", "/d/f", "/d/l"}) {
    EXPECT_EQ(lstat_of(to_ + p).st_uid, 12345u) << p;
    EXPECT_EQ(lstat_of(to_ + p).st_gid, 23456u) << p;
  }
}

TEST_F(TreeCopyTest, SetuidAndSetgidBitsAreStrippedStickyKept) {
  write_file(from_ + "/suid", "x", 04755);
  write_file(from_ + "/sgid", "x", 02755);
  fs::create_directories(from_ + "/gdir");
  fs::create_directories(from_ + "/tmp");
  ASSERT_EQ(::chmod((from_ + "/gdir").c_str(), 02775), 0);
  ASSERT_EQ(::chmod((from_ + "/tmp").c_str(), 01777), 0);
  ASSERT_EQ(lstat_of(from_ + "/suid").st_mode & 07777, 04755u);

  auto stats = copy();

  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(lstat_of(to_ + "/suid").st_mode & 07777, 0755u);
  EXPECT_EQ(lstat_of(to_ + "/sgid").st_mode & 07777, 0755u);
  EXPECT_EQ(lstat_of(to_ + "/gdir").st_mode & 07777, 0775u);
  EXPECT_EQ(lstat_of(to_ + "/tmp").st_mode & 07777, 01777u);
}

TEST_F(TreeCopyTest, FifosSocketsAndDevicesAreSkipped) {
  ASSERT_EQ(::mkfifo((from_ + "/fifo").c_str(), 0644), 0);
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = from_ + "/sock";
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const bool made_device = ::mknod((from_ + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  write_file(from_ + "/plain", "x");

  auto stats = copy();
  ::close(sock);

  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->files, 1);
  EXPECT_TRUE(fs::exists(to_ + "/plain"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(to_ + "/fifo")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(to_ + "/sock")));
  if (made_device) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(to_ + "/null")));
  }
}

TEST_F(TreeCopyTest, ACopyStopsAtItsByteLimitSoHardLinksCannotMultiplyATree) {
  write_file(from_ + "/big", std::string(64 << 10, 'x'));
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(::link((from_ + "/big").c_str(), (from_ + "/l" + std::to_string(i)).c_str()), 0);
  TreeCopyOptions opts;
  opts.max_allocated = 256 << 10;  // four copies of the file, not 21
  auto r = copy(opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kCapacity) << r.error().message();
}

TEST_F(TreeCopyTest, AllocatedBytesLeaveHolesOut) {
  {
    Fd fd(::open((from_ + "/sparse").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.ok());
    ASSERT_EQ(::ftruncate(fd.get(), int64_t{1} << 30), 0);
    ASSERT_EQ(::pwrite(fd.get(), "x", 1, 0), 1);
  }
  auto r = copy();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->bytes, int64_t{1} << 30);
  EXPECT_LT(r->allocated, 1 << 20);
}

TEST_F(TreeCopyTest, HardLinksBecomeSeparateFiles) {
  write_file(from_ + "/a", "same");
  ASSERT_EQ(::link((from_ + "/a").c_str(), (from_ + "/b").c_str()), 0);

  auto stats = copy();

  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->files, 2);
  EXPECT_EQ(stats->bytes, 8);
  EXPECT_NE(lstat_of(to_ + "/a").st_ino, lstat_of(to_ + "/b").st_ino);
  EXPECT_EQ(lstat_of(to_ + "/a").st_nlink, 1u);
  EXPECT_EQ(read_file(to_ + "/b"), "same");
}

TEST_F(TreeCopyTest, SparseFilesKeepTheirHoles) {
  constexpr off_t kSize = off_t{256} << 20;
  const std::string path = from_ + "/sparse";
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
    ASSERT_EQ(::pwrite(fd, "tail", 4, kSize - 4), 4);
    ::close(fd);
  }
  ASSERT_LT(lstat_of(path).st_blocks * 512, 1 << 20);

  auto stats = copy();

  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->bytes, kSize);
  const auto st = lstat_of(to_ + "/sparse");
  EXPECT_EQ(st.st_size, kSize);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "holes were filled";
  int fd = ::open((to_ + "/sparse").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char head[4], mid[4], tail[4];
  EXPECT_EQ(::pread(fd, head, 4, 0), 4);
  EXPECT_EQ(::pread(fd, mid, 4, kSize / 2), 4);
  EXPECT_EQ(::pread(fd, tail, 4, kSize - 4), 4);
  ::close(fd);
  EXPECT_EQ(std::string(head, 4), "head");
  EXPECT_EQ(std::string(mid, 4), std::string(4, '\0'));
  EXPECT_EQ(std::string(tail, 4), "tail");
}

TEST_F(TreeCopyTest, ADestinationInsideTheSourceIsRefused) {
  fs::create_directories(from_ + "/snap");
  write_file(from_ + "/a", "x");

  auto inside = copy_tree(from_, from_ + "/snap", {});
  auto onto_itself = copy_tree(from_, from_ + "/", {});

  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error().code(), Code::kConflict);
  EXPECT_FALSE(fs::exists(from_ + "/snap/snap")) << "the copy went into itself";
  ASSERT_FALSE(onto_itself);
  EXPECT_EQ(onto_itself.error().code(), Code::kConflict);
}

TEST_F(TreeCopyTest, TreesDeeperThanTheCapAreRefused) {
  std::string deepest = from_;
  for (int i = 0; i < kMaxTreeDepth; ++i) deepest += "/d";
  fs::create_directories(deepest);
  write_file(deepest + "/f", "abc");

  auto at_cap = copy();
  auto bytes_at_cap = tree_bytes(from_);
  fs::create_directories(deepest + "/d");
  ASSERT_TRUE(remove_tree(to_ + "/d").is_ok());
  auto beyond = copy();
  auto bytes_beyond = tree_bytes(from_);

  ASSERT_TRUE(at_cap) << at_cap.error().message();
  EXPECT_EQ(read_file(to_ + deepest.substr(from_.size()) + "/f"), "abc");
  ASSERT_TRUE(bytes_at_cap);
  EXPECT_EQ(*bytes_at_cap, 3);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code(), Code::kConflict);
  ASSERT_FALSE(bytes_beyond);
  EXPECT_EQ(bytes_beyond.error().code(), Code::kConflict);
}

TEST_F(TreeCopyTest, ClearTreeKeepsNamedEntriesAndRemovesTheRestWithoutFollowingSymlinks) {
  write_file(outside_ + "/host", "host");
  fs::create_directories(from_ + "/.sandboxed/state");
  write_file(from_ + "/.sandboxed/state/s", "kept");
  write_file(from_ + "/keepfile", "kept too");
  fs::create_directories(from_ + "/app/node_modules/x");
  write_file(from_ + "/app/node_modules/x/index.js", "js");
  ASSERT_EQ(::symlink(outside_.c_str(), (from_ + "/app/node_modules/escape").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), (from_ + "/toplink").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/host").c_str(), (from_ + "/filelink").c_str()), 0);
  const auto host_before = lstat_of(outside_ + "/host");

  ASSERT_TRUE(clear_tree(from_, {".sandboxed", "keepfile"}).is_ok());

  std::set<std::string> left;
  for (const auto& e : fs::directory_iterator(from_)) left.insert(e.path().filename());
  EXPECT_EQ(left, (std::set<std::string>{".sandboxed", "keepfile"}));
  EXPECT_EQ(read_file(from_ + "/.sandboxed/state/s"), "kept");
  EXPECT_EQ(read_file(outside_ + "/host"), "host");
  EXPECT_TRUE(same_time(lstat_of(outside_ + "/host").st_ctim, host_before.st_ctim));
}

TEST_F(TreeCopyTest, ClearAndRemoveRefuseASymlinkedRoot) {
  write_file(outside_ + "/host", "host");
  const std::string link = base_ + "/link";
  ASSERT_EQ(::symlink(outside_.c_str(), link.c_str()), 0);

  EXPECT_EQ(clear_tree(link, {}).code(), Code::kConflict);
  EXPECT_EQ(remove_tree(link).code(), Code::kConflict);
  EXPECT_EQ(tree_bytes(link).error().code(), Code::kConflict);
  EXPECT_EQ(copy_tree(link, to_, {}).error().code(), Code::kConflict);
  EXPECT_EQ(read_file(outside_ + "/host"), "host");
  EXPECT_TRUE(fs::is_symlink(link));
}

TEST_F(TreeCopyTest, RemoveTreeRemovesTheDirectoryAndIsOkWhenItIsGone) {
  fs::create_directories(from_ + "/a/b/c");
  write_file(from_ + "/a/b/c/f", "x");
  write_file(outside_ + "/host", "host");
  ASSERT_EQ(::symlink(outside_.c_str(), (from_ + "/a/out").c_str()), 0);

  ASSERT_TRUE(remove_tree(from_).is_ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(from_)));
  EXPECT_EQ(read_file(outside_ + "/host"), "host");
  EXPECT_TRUE(remove_tree(from_).is_ok());
}

TEST_F(TreeCopyTest, TreeBytesSumsRegularFilesWithoutFollowingSymlinks) {
  fs::create_directories(from_ + "/a/b");
  write_file(from_ + "/a/ten", std::string(10, 'x'));
  write_file(from_ + "/a/b/twenty", std::string(20, 'y'));
  write_file(outside_ + "/big", std::string(1000, 'z'));
  ASSERT_EQ(::symlink((outside_ + "/big").c_str(), (from_ + "/big").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), (from_ + "/a/out").c_str()), 0);
  ASSERT_EQ(::mkfifo((from_ + "/fifo").c_str(), 0644), 0);

  auto bytes = tree_bytes(from_);

  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(*bytes, 30);
}

}  // namespace
}  // namespace sandboxd
