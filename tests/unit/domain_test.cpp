#include "sandboxd/domain/domain.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sandboxd {
namespace {

// Every enumerator has one spelling that parses back to it, and no two share one.
template <class E>
void expect_round_trip(int count, std::optional<E> (*parse)(std::string_view)) {
  std::set<std::string> seen;
  for (int i = 0; i < count; ++i) {
    const E v = static_cast<E>(i);
    const std::string text(to_string(v));
    EXPECT_NE(text, "?") << "enumerator " << i << " has no name";
    EXPECT_TRUE(seen.insert(text).second) << text << " is spelled twice";
    EXPECT_EQ(parse(text), std::optional<E>(v)) << text;
  }
  EXPECT_FALSE(parse("no-such-word"));
}

TEST(Domain, EveryEnumeratorRoundTripsThroughItsOneSpelling) {
  expect_round_trip<SandboxStatus>(9, parse_sandbox_status);
  expect_round_trip<IdlePolicy>(2, parse_idle_policy);
  expect_round_trip<TaskStatus>(4, parse_task_status);
  expect_round_trip<FailureReason>(8, parse_failure_reason);
  expect_round_trip<Agent>(2, parse_agent);
  expect_round_trip<Trigger>(11, parse_trigger);
  expect_round_trip<Egress>(2, parse_egress);
  expect_round_trip<Isolation>(2, parse_isolation);
}

TEST(Domain, SpellingsAreTheOnesTheApiAndTheStoreAlwaysUsed) {
  EXPECT_EQ(to_string(SandboxStatus::kRunning), "running");
  EXPECT_EQ(to_string(IdlePolicy::kAlwaysOn), "always_on");
  EXPECT_EQ(to_string(FailureReason::kNone), "");
  EXPECT_EQ(to_string(FailureReason::kStartFailed), "start_failed");
  EXPECT_EQ(to_string(Agent::kOpenCode), "opencode");
  EXPECT_EQ(to_string(Operation::kDelete), "delete");
  EXPECT_EQ(to_string(Operation::kFreeze), "freeze");
  EXPECT_EQ(to_string(SandboxStatus::kFrozen), "frozen");
  EXPECT_EQ(to_string(Trigger::kPressure), "pressure");
  EXPECT_EQ(to_string(Egress::kNone), "none");
  EXPECT_EQ(to_string(Isolation::kGvisor), "gvisor");
  EXPECT_EQ(all_sandbox_statuses().size(), 9u);
  EXPECT_FALSE(parse_sandbox_status("RUNNING"));  // exact spelling only
}

}  // namespace
}  // namespace sandboxd
