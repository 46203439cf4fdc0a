// The metrics registry and its Prometheus text exposition.
#include "sandboxd/base/metrics.h"

#include <gtest/gtest.h>

namespace sandboxd {
namespace {

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Metrics m;
  m.observe("sandboxd_sandbox_operation_duration_seconds", {{"op", "wake"}}, 0.3);
  m.observe("sandboxd_sandbox_operation_duration_seconds", {{"op", "wake"}}, 4);
  std::string out = m.render({});
  const std::string base = "sandboxd_sandbox_operation_duration_seconds";
  EXPECT_NE(out.find(base + "_bucket{op=\"wake\",le=\"0.25\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find(base + "_bucket{op=\"wake\",le=\"0.5\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find(base + "_bucket{op=\"wake\",le=\"5\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find(base + "_bucket{op=\"wake\",le=\"+Inf\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find(base + "_count{op=\"wake\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find(base + "_sum{op=\"wake\"} 4.2999999999999998\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# TYPE " + base + " histogram\n"), std::string::npos);
}

TEST(MetricsTest, CountersAddUpPerLabelSetAndEscapeLabelValues) {
  Metrics m;
  m.inc("sandboxd_reaper_actions_total", {{"reaper", "idle"}, {"action", "stop"}});
  m.inc("sandboxd_reaper_actions_total", {{"reaper", "idle"}, {"action", "stop"}});
  m.inc("sandboxd_tasks_finished_total",
        {{"agent", "opencode"}, {"status", "failed"}, {"reason", "a\"b\\c\nd"}});
  std::string out = m.render({});
  EXPECT_NE(out.find("sandboxd_reaper_actions_total{reaper=\"idle\",action=\"stop\"} 2\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"(reason="a\"b\\c\nd"} 1)"), std::string::npos) << out;
}

TEST(MetricsTest, UndeclaredFamiliesAndWrongTypesAreDropped) {
  Metrics m;
  m.inc("no_such_metric_total", {});
  m.inc("sandboxd_sandbox_operation_duration_seconds", {});  // a histogram, not a counter
  std::string out = m.render({{"no_such_gauge", {}, 3}, {"sandboxd_tasks_running", {}, 2}});
  EXPECT_EQ(out.find("no_such"), std::string::npos);
  EXPECT_EQ(out.find("sandboxd_sandbox_operation_duration_seconds_count"), std::string::npos);
  EXPECT_NE(out.find("\nsandboxd_tasks_running 2\n"), std::string::npos) << out;
}

TEST(MetricsTest, ScopedOperationRecordsErrorUnlessSucceededAndNothingWhenCancelled) {
  Metrics m;
  auto count = [&](const std::string& result) {
    return m.counter("sandboxd_sandbox_operations_total",
                     {{"op", "create"}, {"trigger", "task"}, {"result", result}});
  };
  { ScopedOperation op(m, Operation::kCreate, Trigger::kTask); }
  {
    ScopedOperation op(m, Operation::kCreate, Trigger::kTask);
    op.succeeded();
  }
  {
    ScopedOperation op(m, Operation::kCreate, Trigger::kTask);
    op.cancel();
  }
  EXPECT_EQ(count("error"), 1);
  EXPECT_EQ(count("ok"), 1);
  EXPECT_NE(
      m.render({}).find("sandboxd_sandbox_operation_duration_seconds_count{op=\"create\"} 1\n"),
      std::string::npos)
      << m.render({});
}

}  // namespace
}  // namespace sandboxd
