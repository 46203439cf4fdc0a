// LogLimiter as a table over a fake clock: per kind, at most `burst` lines per window,
// then the first line of the next window reports how many were dropped.
#include "sandboxd/base/log_limiter.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace sandboxd {
namespace {

using std::chrono::seconds;

TEST(LogLimiter, AtMostBurstLinesPerWindowPerKindThenTheDroppedCount) {
  FakeClock clock;
  LogLimiter limiter(seconds(60), 3);
  struct Step {
    int advance_s;
    const char* kind;
    bool log, last;
    int64_t suppressed;
  };
  const Step steps[] = {
      {0, "a", true, false, 0},   {1, "a", true, false, 0},  {1, "a", true, true, 0},
      {1, "a", false, false, 0},  {1, "a", false, false, 0},  // dropped, counted
      {0, "b", true, false, 0},                               // kinds are independent
      {10, "a", false, false, 0},                             // 14 s: still in a's window
      {47, "a", true, false, 3},  // 61 s: a new window, which reports the 3 dropped
      {0, "a", true, false, 0},   {0, "a", true, true, 0},   {0, "a", false, false, 0},
      {600, "a", true, false, 1},  // much later: one dropped, reported once
      {0, "b", true, false, 0},
  };
  int i = 0;
  for (const auto& s : steps) {
    clock.advance(seconds(s.advance_s));
    auto v = limiter.admit(s.kind, clock.steady_now());
    EXPECT_EQ(v.log, s.log) << "step " << i;
    EXPECT_EQ(v.last, s.last) << "step " << i;
    EXPECT_EQ(v.suppressed, s.suppressed) << "step " << i;
    ++i;
  }
}

TEST(LogLimiter, AFloodWritesABoundedNumberOfLines) {
  FakeClock clock;
  LogLimiter limiter(seconds(60), 10);
  int written = 0;
  for (int i = 0; i < 100000; ++i) {
    clock.advance(std::chrono::milliseconds(3));  // 300 s in all
    written += limiter.admit("not_found", clock.steady_now()).log;
  }
  EXPECT_LE(written, 10 * 6);
  EXPECT_GE(written, 10 * 5);
}

}  // namespace
}  // namespace sandboxd
