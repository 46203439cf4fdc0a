#include "sandboxd/sandbox/busy_tracker.h"

#include <gtest/gtest.h>

#include <utility>

namespace sandboxd {
namespace {

TEST(BusyTracker, HoldsCountAndEndWithTheirLastHold) {
  BusyTracker busy;
  EXPECT_FALSE(busy.is_busy("a1"));
  {
    auto first = busy.hold("a1");
    {
      auto second = busy.hold("a1");
      EXPECT_TRUE(busy.is_busy("a1"));
    }
    EXPECT_TRUE(busy.is_busy("a1"));  // the first hold still counts
    EXPECT_EQ(busy.ids(), (std::set<std::string>{"a1"}));
  }
  EXPECT_FALSE(busy.is_busy("a1"));
  EXPECT_TRUE(busy.ids().empty());
}

TEST(BusyTracker, AMovedHoldReleasesOnceAndReleaseIsIdempotent) {
  BusyTracker busy;
  BusyTracker::Hold kept;
  {
    auto h = busy.hold("b1");
    kept = std::move(h);
  }  // the moved-from hold releases nothing
  EXPECT_TRUE(busy.is_busy("b1"));
  kept.release();
  kept.release();
  EXPECT_FALSE(busy.is_busy("b1"));
  auto other = busy.hold("b1");
  kept.release();  // an ended hold cannot end someone else's
  EXPECT_TRUE(busy.is_busy("b1"));
}

}  // namespace
}  // namespace sandboxd
