// base/text.h: printable() for client-chosen strings in log lines and messages.
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

}  // namespace
}  // namespace sandboxd
