// Unit tests of TaskFeed (the ring of formatted SSE frames that a task's streams share)
// and of how TaskService feeds it: published once stored, done at the end, closed at
// stop, dropped a minute after the end.
#include "sandboxd/tasks/task_feed.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "fakes/service_harness.h"
#include "sandboxd/tasks/task_service.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Events = std::vector<std::pair<std::string, std::string>>;

constexpr auto kLong = std::chrono::seconds(30);  // a wait that must end early

std::string joined(const TaskFeed::Batch& b) {
  std::string out;
  for (const auto& f : b.frames) out += *f;
  return out;
}

// Events seq `first`..`first + n - 1` as {"tool", {"n":seq}}.
Events tools(int64_t first, int n) {
  Events out;
  for (int64_t s = first; s < first + n; ++s)
    out.emplace_back("tool", "{\"n\":" + std::to_string(s) + "}");
  return out;
}

TEST(TaskFeed, FramesAreFormattedAsSseEvents) {
  EXPECT_EQ(sse_frame(7, "message", R"({"text":"hi"})"),
            "id: 7\nevent: message\ndata: {\"text\":\"hi\"}\n\n");
}

TEST(TaskFeed, AFollowerGetsEverythingAfterItsResumePointInOneBatch) {
  TaskFeed feed(0);
  feed.publish(1, tools(1, 3), false);
  auto b = feed.next(1, SteadyClock::now());
  ASSERT_EQ(b.frames.size(), 2u);
  EXPECT_EQ(joined(b), sse_frame(2, "tool", R"({"n":2})") + sse_frame(3, "tool", R"({"n":3})"));
  EXPECT_EQ(b.last_seq, 3);
  EXPECT_FALSE(b.behind || b.done || b.closed);
  // Every follower shares the one formatted copy.
  EXPECT_EQ(feed.next(0, SteadyClock::now()).frames[2].get(), b.frames[1].get());
}

TEST(TaskFeed, TheRingKeepsTheNewestFramesAndOlderResumePointsAreBehind) {
  TaskFeed by_count(10, /*max_frames=*/3);
  by_count.publish(11, tools(11, 5), false);  // 11..15: keeps 13..15
  EXPECT_TRUE(by_count.next(10, SteadyClock::now()).behind);
  EXPECT_TRUE(by_count.next(11, SteadyClock::now()).behind);
  auto b = by_count.next(12, SteadyClock::now());
  EXPECT_FALSE(b.behind);
  EXPECT_EQ(joined(b), sse_frame(13, "tool", R"({"n":13})") + sse_frame(14, "tool", R"({"n":14})") +
                           sse_frame(15, "tool", R"({"n":15})"));

  // By bytes: two frames fit, a big one pushes both out but is itself kept.
  const std::size_t small = sse_frame(1, "tool", R"({"n":1})").size();
  TaskFeed by_bytes(0, 1024, 2 * small);
  by_bytes.publish(1, tools(1, 3), false);
  EXPECT_TRUE(by_bytes.next(0, SteadyClock::now()).behind);
  EXPECT_EQ(by_bytes.next(1, SteadyClock::now()).frames.size(), 2u);
  const std::string big(10 * small, 'x');
  by_bytes.publish(4, {{"message", big}}, false);
  EXPECT_TRUE(by_bytes.next(2, SteadyClock::now()).behind);
  EXPECT_EQ(joined(by_bytes.next(3, SteadyClock::now())), sse_frame(4, "message", big));
}

TEST(TaskFeed, AFeedStartedMidTaskSendsEarlierResumePointsToTheStore) {
  TaskFeed feed(41);  // events 1..41 were stored before the feed existed
  EXPECT_TRUE(feed.next(40, SteadyClock::now()).behind);
  auto at_start = feed.next(41, SteadyClock::now());
  EXPECT_FALSE(at_start.behind);
  EXPECT_TRUE(at_start.frames.empty());
  feed.publish(42, tools(42, 1), false);
  EXPECT_EQ(feed.next(41, SteadyClock::now()).last_seq, 42);
}

TEST(TaskFeed, AGapInSeqsSendsFollowersToTheStoreAcrossIt) {
  TaskFeed feed(0);
  feed.publish(1, tools(1, 2), false);
  feed.publish(5, tools(5, 1), false);
  EXPECT_TRUE(feed.next(2, SteadyClock::now()).behind);
  EXPECT_EQ(feed.next(4, SteadyClock::now()).last_seq, 5);
}

TEST(TaskFeed, WaitingWithNothingNewReturnsAnEmptyBatchAtTheDeadline) {
  TaskFeed feed(0);
  feed.publish(1, tools(1, 1), false);
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(50);
  auto b = feed.next(1, deadline);
  EXPECT_GE(SteadyClock::now(), deadline);
  EXPECT_TRUE(b.frames.empty());
  EXPECT_EQ(b.last_seq, 1);
  EXPECT_FALSE(b.behind || b.done || b.closed);
  // A resume point ahead of the feed waits for events past it.
  feed.publish(2, tools(2, 1), false);
  EXPECT_TRUE(feed.next(5, SteadyClock::now()).frames.empty());
}

TEST(TaskFeed, APublishWakesEveryWaiterWithTheNewFrame) {
  TaskFeed feed(0);
  feed.publish(1, tools(1, 1), false);
  const auto start = SteadyClock::now();
  std::vector<std::future<TaskFeed::Batch>> waiters;
  for (int i = 0; i < 8; ++i)
    waiters.push_back(
        std::async(std::launch::async, [&] { return feed.next(1, SteadyClock::now() + kLong); }));
  feed.publish(2, tools(2, 1), false);
  for (auto& w : waiters) {
    auto b = w.get();
    EXPECT_EQ(joined(b), sse_frame(2, "tool", R"({"n":2})"));
  }
  EXPECT_LT(SteadyClock::now() - start, kLong);
}

TEST(TaskFeed, TheEndWakesWaitersAndALaterResumeEndsAtOnce) {
  TaskFeed feed(0);
  feed.publish(1, tools(1, 1), false);
  auto waiter =
      std::async(std::launch::async, [&] { return feed.next(1, SteadyClock::now() + kLong); });
  feed.publish(2, {{"done", "{}"}}, /*ends=*/true);
  auto b = waiter.get();
  EXPECT_TRUE(b.done);
  EXPECT_FALSE(b.closed);
  EXPECT_EQ(joined(b), sse_frame(2, "done", "{}"));
  const auto start = SteadyClock::now();
  auto after_end = feed.next(2, SteadyClock::now() + kLong);
  EXPECT_TRUE(after_end.done);
  EXPECT_TRUE(after_end.frames.empty());
  EXPECT_LT(SteadyClock::now() - start, kLong);
}

TEST(TaskFeed, CloseWakesWaitersWithoutEndingTheTask) {
  TaskFeed feed(3);
  auto waiter =
      std::async(std::launch::async, [&] { return feed.next(3, SteadyClock::now() + kLong); });
  feed.close();
  auto b = waiter.get();
  EXPECT_TRUE(b.closed);
  EXPECT_FALSE(b.done);
  EXPECT_TRUE(b.frames.empty());
}

// TaskService's side: a task's feed carries exactly what the store has.

void agent_writes(ServiceHarness& h, const std::string& task, const std::string& name,
                  const std::string& content) {
  const std::string dir = h.config.workspaces_dir() + "/s1/.sandboxed/tasks/" + task;
  std::ofstream(dir + "/." + name + ".tmp", std::ios::app) << content;
  std::filesystem::rename(dir + "/." + name + ".tmp", dir + "/" + name);
}

std::string stored_frames(TaskService& tasks, const std::string& task, int64_t after) {
  auto events = tasks.events(task, after, 1000);
  EXPECT_TRUE(events);
  std::string out;
  if (events)
    for (const auto& e : *events) out += sse_frame(e.seq, e.type, e.data_json);
  return out;
}

TEST(TaskServiceFeed, StoredEventsArePublishedAndTheFeedGoesAMinuteAfterTheEnd) {
  ServiceHarness h("taskfeed");
  h.init();
  h.create("s1");
  TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
  auto t = tasks.create("s1", {"p", Agent::kOpenCode, "", std::nullopt, {}});
  ASSERT_TRUE(t) << t.error().message();
  auto feed = tasks.feed(t->id);
  ASSERT_TRUE(feed);
  EXPECT_EQ(joined(feed->next(0, SteadyClock::now())), stored_frames(tasks, t->id, 0));

  nlohmann::json line = {{"type", "text"}, {"part", {{"text", "hello"}}}};
  agent_writes(h, t->id, "out.jsonl", line.dump() + "\n");
  tasks.poll_once();
  auto b = feed->next(1, SteadyClock::now());
  ASSERT_FALSE(b.frames.empty());
  EXPECT_EQ(joined(b), stored_frames(tasks, t->id, 1));
  EXPECT_FALSE(b.done);

  agent_writes(h, t->id, "exit.json", R"({"exit_code":0})");
  tasks.poll_once();
  b = feed->next(b.last_seq, SteadyClock::now());
  EXPECT_TRUE(b.done);
  EXPECT_NE(joined(b).find("event: done"), std::string::npos);
  EXPECT_EQ(joined(b), stored_frames(tasks, t->id, b.last_seq - 1));

  h.clock.advance(std::chrono::seconds(59));
  tasks.poll_once();
  EXPECT_TRUE(tasks.feed(t->id)) << "kept for late followers";
  h.clock.advance(std::chrono::seconds(2));
  tasks.poll_once();
  EXPECT_FALSE(tasks.feed(t->id));
}

TEST(TaskServiceFeed, StopClosesTheFeedsOfRunningTasks) {
  ServiceHarness h("taskfeedstop");
  h.init();
  h.create("s1");
  TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
  auto t = tasks.create("s1", {"p", Agent::kOpenCode, "", std::nullopt, {}});
  ASSERT_TRUE(t) << t.error().message();
  auto feed = tasks.feed(t->id);
  ASSERT_TRUE(feed);
  auto waiter =
      std::async(std::launch::async, [&] { return feed->next(1, SteadyClock::now() + kLong); });
  tasks.stop();
  auto b = waiter.get();
  EXPECT_TRUE(b.closed);
  EXPECT_FALSE(b.done);
}

}  // namespace
}  // namespace sandboxd
