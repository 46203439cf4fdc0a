#include "sandboxd/base/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace sandboxd {
namespace {

TEST(NormalizeId, LowerCasesLettersAndKeepsDigits) {
  auto id = normalize_id("Demo01ABC");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "demo01abc");
}

TEST(NormalizeId, RejectsEmptyTooLongAndForeignCharacters) {
  for (const char* bad : {"", "../x", "a/b", "a-b", "a_b", "a.b", "a b", "é", "x\n"}) {
    auto id = normalize_id(bad);
    ASSERT_FALSE(id) << bad;
    EXPECT_EQ(id.error().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(normalize_id(std::string(32, 'a')));
  EXPECT_FALSE(normalize_id(std::string(33, 'a')));
}

TEST(NewUlid, Is26LowerCaseCrockfordCharactersThatValidateAsId) {
  std::string u = new_ulid(1'800'000'000'000);
  ASSERT_EQ(u.size(), 26u);
  EXPECT_EQ(u.find_first_not_of("0123456789abcdefghjkmnpqrstvwxyz"), std::string::npos);
  EXPECT_TRUE(normalize_id(u));
}

TEST(NewUlid, SortsByTimeAndIsUnique) {
  EXPECT_LT(new_ulid(1000).substr(0, 10), new_ulid(2000).substr(0, 10));
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(new_ulid(5));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RandomHex, HasTwoCharactersPerByte) {
  std::string h = random_hex(8);
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(random_hex(8), h);
}

}  // namespace
}  // namespace sandboxd
