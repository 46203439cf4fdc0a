#include "sandboxd/sandbox/id_locks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sandboxd {
namespace {

TEST(IdLocks, SerializesOneIdAndForgetsItWhenReleased) {
  IdLocks locks;
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto g = locks.lock("same");
        int now = ++inside;
        max_inside = std::max(max_inside.load(), now);
        --inside;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_EQ(locks.size(), 0u);
}

TEST(IdLocks, DifferentIdsDoNotBlockEachOther) {
  IdLocks locks;
  auto a = locks.lock("a");
  std::atomic<bool> got_b{false};
  std::thread t([&] {
    auto b = locks.lock("b");
    got_b = true;
  });
  t.join();  // would deadlock if "b" waited for "a"
  EXPECT_TRUE(got_b);
  EXPECT_EQ(locks.size(), 1u);
}

}  // namespace
}  // namespace sandboxd
