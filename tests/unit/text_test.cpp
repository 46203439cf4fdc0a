// base/text.h: printable() for client-chosen strings in log lines and messages; split()
// and split_list() for comma-separated settings.
#include "sandboxd/base/text.h"

#include <gtest/gtest.h>

namespace sandboxd {
namespace {

TEST(PrintableTest, EscapesEverythingButPrintableAsciiAndBoundsTheLength) {
  struct Case {
    std::string in;
    std::size_t max_len;
    std::string want;
  };
  const Case cases[] = {
      {"GET /v1/sandboxes", 512, "GET /v1/sandboxes"},
      {"a\nFORGED line", 512, "a\\x0aFORGED line"},
      {std::string("nul\0x", 5), 512, "nul\\x00x"},
      {"\x1b[31mred\x7f", 512, "\\x1b[31mred\\x7f"},
      {"caf\xc3\xa9", 512, "caf\\xc3\\xa9"},
      {"abcdef", 3, "abc..."},
      {"abc", 3, "abc"},
      {"\n\n", 1, "\\x0a..."},
      {"", 512, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(printable(c.in, c.max_len), c.want) << c.in;
}

TEST(SplitTest, KeepsEveryPieceBetweenSeparatorsAsItIs) {
  struct Case {
    std::string in;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"", {""}},
      {"a", {"a"}},
      {"a,b", {"a", "b"}},
      {"a,,b", {"a", "", "b"}},
      {",", {"", ""}},
      {"a,", {"a", ""}},
      {",a", {"", "a"}},
      {" a , b ", {" a ", " b "}},
      {"3000,8080", {"3000", "8080"}},
  };
  for (const auto& c : cases) EXPECT_EQ(split(c.in, ','), c.want) << c.in;
  EXPECT_EQ(split("a/b/c", '/'), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SplitListTest, TrimsItemsAndDropsEmptyOnes) {
  struct Case {
    std::string in;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"", {}},
      {" , ,", {}},
      {"a", {"a"}},
      {" a , b ", {"a", "b"}},
      {"a,,b,", {"a", "b"}},
      {"x:1, y=2", {"x:1", "y=2"}},
  };
  for (const auto& c : cases) EXPECT_EQ(split_list(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace sandboxd
