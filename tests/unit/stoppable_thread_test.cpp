// StoppableThread: stop() ends a wait at once and joins; wait_for() times out without it.
#include "sandboxd/os/stoppable_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace sandboxd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

TEST(StoppableThreadTest, StopEndsAWaitAtOnceAndJoins) {
  std::promise<void> waiting;
  std::atomic<bool> woke_by_stop{false};
  StoppableThread t;
  t.start([&] {
    waiting.set_value();
    woke_by_stop = t.wait_for(hours(1));
  });
  waiting.get_future().wait();
  auto before = std::chrono::steady_clock::now();
  t.stop();
  EXPECT_TRUE(woke_by_stop) << "the body returned, so stop() joined it";
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::minutes(1));
  EXPECT_TRUE(t.stopping());
}

TEST(StoppableThreadTest, WaitForTimesOutWhenNoStopIsRequested) {
  StoppableThread t;
  EXPECT_FALSE(t.stopping());
  EXPECT_FALSE(t.wait_for(milliseconds(0)));
  EXPECT_FALSE(t.wait_for(milliseconds(1)));
}

TEST(StoppableThreadTest, AWaitAfterStopReturnsAtOnce) {
  StoppableThread t;
  t.stop();
  EXPECT_TRUE(t.wait_for(hours(1)));
  t.stop();  // idempotent
}

TEST(StoppableThreadTest, DestructionStopsAndJoinsALoopingBody) {
  std::promise<void> looping;
  std::atomic<int> rounds{0};
  std::atomic<bool> ended{false};
  {
    StoppableThread t;
    t.start([&] {
      do {
        if (++rounds == 1) looping.set_value();
      } while (!t.wait_for(hours(1)));
      ended = true;
    });
    looping.get_future().wait();
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(rounds, 1);
}

}  // namespace
}  // namespace sandboxd
