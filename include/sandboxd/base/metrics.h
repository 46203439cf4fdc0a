// Metrics: the daemon's counters and duration histograms behind GET /metrics,
// rendered in the Prometheus text exposition format (version 0.0.4). Every family is
// declared once in metrics.cpp (name, type, help); recording into an undeclared family
// is a programming error and is dropped with a log line. main() owns the one registry
// and hands it to the services that record (no global, so tests read exact values from
// their own). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sandboxd/domain/domain.h"

namespace sandboxd {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A value read at scrape time for a declared gauge (e.g. sandboxes by state), or a
// counter kept outside the registry (e.g. the edge's per-thread counters, which its hot
// path bumps without a lock); added to what the registry holds for the same labels.
struct ScrapeSample {
  std::string family;
  MetricLabels labels;
  double value = 0;
};

class Metrics {
 public:
  void inc(const std::string& family, const MetricLabels& labels, double by = 1);
  void observe(const std::string& family, const MetricLabels& labels, double seconds);
  // Every declared family, with its samples and `scraped`, sorted by family then labels.
  std::string render(const std::vector<ScrapeSample>& scraped) const;
  // A counter's current value (0 when never incremented).
  double counter(const std::string& family, const MetricLabels& labels) const;

 private:
  struct Histogram {
    std::vector<long long> buckets;  // cumulative counts are computed when rendering
    long long count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::map<MetricLabels, double>> counters_;
  std::map<std::string, std::map<MetricLabels, Histogram>> histograms_;
};

// Records one sandbox lifecycle operation in `metrics`:
// sandboxd_sandbox_operations_total{op,trigger,result} when it goes out of
// scope, and its duration in sandboxd_sandbox_operation_duration_seconds{op} when it
// succeeded. result is "error" unless succeeded() was called; cancel() records nothing
// (the operation turned out to be a no-op).
class ScopedOperation {
 public:
  ScopedOperation(Metrics& metrics, Operation op, Trigger trigger);
  ~ScopedOperation();
  ScopedOperation(const ScopedOperation&) = delete;
  ScopedOperation& operator=(const ScopedOperation&) = delete;
  void succeeded() { result_ = "ok"; }
  void cancel() { result_.clear(); }

 private:
  Metrics& metrics_;
  Operation op_;
  Trigger trigger_;
  std::string result_ = "error";
  long long start_ns_;
};

}  // namespace sandboxd
