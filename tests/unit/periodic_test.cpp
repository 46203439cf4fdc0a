// Periodic: when the first run happens.
#include "sandboxd/os/periodic.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace sandboxd {
namespace {

// Counts the runs of a Periodic; waits for them with a deadline.
struct Runs {
  std::mutex mu;
  std::condition_variable cv;
  int n = 0;
  void add() {
    {
      std::lock_guard lock(mu);
      ++n;
    }
    cv.notify_all();
  }
  bool wait_for(int want) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return n >= want; });
  }
  int count() {
    std::lock_guard lock(mu);
    return n;
  }
};

TEST(PeriodicTest, RunsTheFirstTimeAtOnceOnItsThreadWhenAsked) {
  Runs runs;
  Periodic p("test", std::chrono::hours(1), [&] { runs.add(); });
  p.start(/*run_first_now=*/true);
  EXPECT_TRUE(runs.wait_for(1));
  p.stop();
  EXPECT_EQ(runs.count(), 1) << "the next run waits for the interval";
}

TEST(PeriodicTest, WaitsOneIntervalBeforeTheFirstRunByDefault) {
  Runs runs;
  Periodic p("test", std::chrono::hours(1), [&] { runs.add(); });
  p.start();
  p.stop();
  EXPECT_EQ(runs.count(), 0);
}

}  // namespace
}  // namespace sandboxd
