#include "sandboxd/auth/auth.h"

#include <gtest/gtest.h>

namespace sandboxd {
namespace {

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Authenticator, AcceptsConfiguredBearerTokensOnly) {
  Authenticator auth(false, {{"ci", "0123456789abcdef"}, {"ops", "fedcba9876543210"}});
  EXPECT_EQ(auth.authenticate("Bearer 0123456789abcdef"), "ci");
  EXPECT_EQ(auth.authenticate("bearer fedcba9876543210"), "ops");
  EXPECT_EQ(auth.authenticate("Bearer wrong"), std::nullopt);
  EXPECT_EQ(auth.authenticate("0123456789abcdef"), std::nullopt);
  EXPECT_EQ(auth.authenticate("Basic 0123456789abcdef"), std::nullopt);
  EXPECT_EQ(auth.authenticate("Bearer "), std::nullopt);
  EXPECT_EQ(auth.authenticate(""), std::nullopt);
}

}  // namespace
}  // namespace sandboxd
