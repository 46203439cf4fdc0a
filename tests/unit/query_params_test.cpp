#include "sandboxd/api/query_params.h"

#include <gtest/gtest.h>

namespace sandboxd {
namespace {

TEST(ParseIntParam, AcceptsDigitsWithinBoundsAndNamesTheBoundsOtherwise) {
  struct Case {
    const char* value;
    int64_t want;  // -1: refused
  };
  const Case cases[] = {
      {"1", 1},     {"1000", 1000},
      {"0001", 1},  {"0", -1},
      {"1001", -1}, {"", -1},
      {"-5", -1},   {"+5", -1},
      {" 5", -1},   {"5 ", -1},
      {"1e3", -1},  {"12abc", -1},
      {"0x10", -1}, {"99999999999999999999", -1},
  };
  for (const auto& c : cases) {
    auto r = parse_int_param("limit", c.value, 1, 1000);
    if (c.want < 0) {
      ASSERT_FALSE(r) << c.value;
      EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
      EXPECT_EQ(r.error().message().rfind("limit: must be an integer in 1..1000 (got '", 0), 0u)
          << r.error().message();
    } else {
      ASSERT_TRUE(r) << c.value << ": " << r.error().message();
      EXPECT_EQ(*r, c.want) << c.value;
    }
  }
}

TEST(ParseIntParam, TakesEighteenDigitEventIds) {
  EXPECT_EQ(*parse_int_param("since", "999999999999999999", 0, 999'999'999'999'999'999),
            999'999'999'999'999'999);
  EXPECT_FALSE(parse_int_param("since", "1000000000000000000", 0, 999'999'999'999'999'999));
}

TEST(ParseBoolParam, TakesTrueFalseOneAndZeroOnly) {
  struct Case {
    const char* value;
    int want;  // -1: refused
  };
  const Case cases[] = {{"true", 1}, {"1", 1},    {"false", 0}, {"0", 0},
                        {"", -1},    {"yes", -1}, {"TRUE", -1}, {"2", -1}};
  for (const auto& c : cases) {
    auto r = parse_bool_param("raw", c.value);
    if (c.want < 0) {
      ASSERT_FALSE(r) << c.value;
      EXPECT_EQ(r.error().message().rfind("raw: must be true or false", 0), 0u)
          << r.error().message();
    } else {
      ASSERT_TRUE(r) << c.value;
      EXPECT_EQ(*r, c.want == 1) << c.value;
    }
  }
}

TEST(ParseChoiceParam, TakesExactlyAListedValueAndListsThemOtherwise) {
  const std::vector<std::string> states = {"running", "stopped"};
  EXPECT_EQ(*parse_choice_param("status", "stopped", states), "stopped");
  for (const char* bad : {"", "Running", "sleepy", "running "}) {
    auto r = parse_choice_param("status", bad, states);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message().rfind("status: must be one of running, stopped (got '", 0), 0u)
        << r.error().message();
  }
}

TEST(ParseParam, EchoesAHostileValuePrintableAndShort) {
  auto r = parse_bool_param("raw", "\x1b[31m" + std::string(100, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find('\x1b'), std::string::npos) << r.error().message();
  EXPECT_LT(r.error().message().size(), 100u) << r.error().message();
}

TEST(QueryParams, AnAbsentParameterGivesTheDefaultAndAPresentOneMustParse) {
  const std::multimap<std::string, std::string> params = {
      {"limit", "5"}, {"raw", ""}, {"tail", "x"}, {"path", "a/b"}, {"limit", "7"}};
  QueryParams q(params);
  EXPECT_EQ(*q.integer("limit", 1, 10, 3), 5);  // the first of a repeated parameter
  EXPECT_EQ(*q.integer("after", 1, 10, 3), 3);
  EXPECT_FALSE(q.integer("tail", 1, 10, 3));
  ASSERT_TRUE(q.boolean("raw", false));  // present but empty: the default
  EXPECT_FALSE(*q.boolean("raw", false));
  EXPECT_TRUE(*q.boolean("raw", true));
  EXPECT_TRUE(*q.boolean("append", true));
  EXPECT_EQ(*q.choice("status", {"running"}, ""), "");
  EXPECT_EQ(q.text("path"), "a/b");
  EXPECT_EQ(q.text("nothing"), "");
  EXPECT_TRUE(q.has("raw"));
  EXPECT_FALSE(q.has("nothing"));
}

}  // namespace
}  // namespace sandboxd
