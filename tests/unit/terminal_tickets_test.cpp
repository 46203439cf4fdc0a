// TerminalTickets: single use, bound to one sandbox, expiry on the fake clock, the cap.
#include "sandboxd/api/terminal_tickets.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"

namespace sandboxd {
namespace {

using std::chrono::seconds;

TEST(TerminalTickets, ATicketIs64HexCharactersAndUnique) {
  FakeClock clock;
  TerminalTickets tickets(clock);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = tickets.issue("app1", "token");
    ASSERT_EQ(t.size(), 64u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos) << t;
    EXPECT_TRUE(seen.insert(t).second);
  }
}

TEST(TerminalTickets, ATicketIsRedeemedOnceForItsSandbox) {
  FakeClock clock;
  TerminalTickets tickets(clock);
  std::string t = tickets.issue("app1", "ada");
  EXPECT_EQ(tickets.redeem(t, "app1"), (TerminalTicket{"app1", "ada"}));
  EXPECT_EQ(tickets.redeem(t, "app1"), std::nullopt);
  EXPECT_EQ(tickets.redeem("", "app1"), std::nullopt);
  EXPECT_EQ(tickets.redeem(std::string(64, '0'), "app1"), std::nullopt);
}

TEST(TerminalTickets, ATicketForAnotherSandboxIsRefusedAndConsumed) {
  FakeClock clock;
  TerminalTickets tickets(clock);
  std::string t = tickets.issue("app1", "ada");
  EXPECT_EQ(tickets.redeem(t, "app2"), std::nullopt);
  EXPECT_EQ(tickets.redeem(t, "app1"), std::nullopt);
}

TEST(TerminalTickets, ATicketExpiresAfterItsTtl) {
  FakeClock clock;
  TerminalTickets tickets(clock, seconds(30));
  EXPECT_EQ(tickets.ttl(), seconds(30));
  std::string fresh = tickets.issue("app1", "ada");
  std::string stale = tickets.issue("app1", "ada");
  clock.advance(std::chrono::milliseconds(29'999));
  EXPECT_TRUE(tickets.redeem(fresh, "app1"));
  clock.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(tickets.redeem(stale, "app1"), std::nullopt);
}

TEST(TerminalTickets, TheOldestTicketIsDroppedOverTheCap) {
  FakeClock clock;
  TerminalTickets tickets(clock, seconds(30), 3);
  std::vector<std::string> issued;
  for (int i = 0; i < 4; ++i) issued.push_back(tickets.issue("app1", std::to_string(i)));
  EXPECT_EQ(tickets.redeem(issued[0], "app1"), std::nullopt);
  for (int i = 1; i < 4; ++i)
    EXPECT_EQ(tickets.redeem(issued[i], "app1"), (TerminalTicket{"app1", std::to_string(i)}));
}

TEST(TerminalTickets, ConcurrentRedeemsOfOneTicketSucceedOnce) {
  FakeClock clock;
  TerminalTickets tickets(clock);
  for (int round = 0; round < 50; ++round) {
    std::string t = tickets.issue("app1", "ada");
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&] {
        if (tickets.redeem(t, "app1")) ++wins;
      });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins, 1);
  }
}

}  // namespace
}  // namespace sandboxd
