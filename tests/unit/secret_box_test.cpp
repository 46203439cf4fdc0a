// Unit tests of SecretBox on a real key file in a temp dir: seal and unseal under the key
// and context, and a key file that others could read (or that is not ours) is refused.
#include "sandboxd/os/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace sandboxd {
namespace {

struct KeyDir {
  KeyDir() { std::filesystem::create_directories(dir); }
  ~KeyDir() { std::filesystem::remove_all(dir); }
  std::string dir = testing::TempDir() + "/secretbox-" + std::to_string(::getpid());
  std::string key = dir + "/redaction.key";
};

TEST(SecretBox, SealsUnderANewPrivateKeyAndUnsealsOnlyWithItsContext) {
  KeyDir d;
  EXPECT_EQ(SecretBox::open(d.key, /*create=*/false).error().code(), Code::kNotFound);
  auto box = SecretBox::open(d.key, /*create=*/true);
  ASSERT_TRUE(box) << box.error().message();
  struct stat st {};
  ASSERT_EQ(::stat(d.key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto sealed = box->seal("value-1", "task-a");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->find("value-1"), std::string::npos);
  auto again = SecretBox::open(d.key, /*create=*/false);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again->unseal(*sealed, "task-a"), "value-1");
  EXPECT_EQ(again->unseal(*sealed, "task-b").error().code(), Code::kInvalidArgument);
}

TEST(SecretBox, RefusesAKeyFileOpenToGroupOrOthersAndLeavesItInPlace) {
  KeyDir d;
  auto box = SecretBox::open(d.key, /*create=*/true);
  ASSERT_TRUE(box);
  auto sealed = box->seal("value-1", "task-a");
  ASSERT_TRUE(sealed);
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(d.key.c_str(), mode), 0);
    for (bool create : {false, true}) {
      auto refused = SecretBox::open(d.key, create);
      ASSERT_FALSE(refused) << std::oct << mode;
      EXPECT_EQ(refused.error().code(), Code::kInternal);
      EXPECT_NE(refused.error().message().find("mode 0600"), std::string::npos);
    }
  }
  ASSERT_EQ(::chmod(d.key.c_str(), 0600), 0);
  auto back = SecretBox::open(d.key, /*create=*/false);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back->unseal(*sealed, "task-a"), "value-1") << "the same key, not a new one";
}

TEST(SecretBox, RefusesAKeyFileOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  KeyDir d;
  ASSERT_TRUE(SecretBox::open(d.key, /*create=*/true));
  ASSERT_EQ(::chown(d.key.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  auto refused = SecretBox::open(d.key, /*create=*/false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kInternal);
}

}  // namespace
}  // namespace sandboxd
