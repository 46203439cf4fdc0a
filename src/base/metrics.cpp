#include "sandboxd/base/metrics.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace sandboxd {
namespace {

enum class Type { kCounter, kGauge, kHistogram };

struct Family {
  const char* name;
  Type type;
  const char* help;
};

// The exposition, in this order. Gauges are filled at scrape time by the caller.
constexpr std::array kFamilies = {
    Family{"sandboxd_build_info", Type::kGauge, "Always 1; the version label says which build."},
    Family{"sandboxd_sandboxes", Type::kGauge, "Sandboxes known to the database, by state."},
    Family{"sandboxd_tasks_running", Type::kGauge, "Agent tasks running now."},
    Family{"sandboxd_warm_pool_ready", Type::kGauge,
           "Warm pool sandboxes started and waiting for a create (SANDBOXD_WARM_POOL)."},
    Family{"sandboxd_warm_pool_claims_total", Type::kCounter,
           "Creates that fit the warm pool, by result: hit (served by a pooled sandbox) or "
           "miss (none ready: a cold create)."},
    Family{"sandboxd_sandbox_memory_bytes", Type::kGauge,
           "Memory charged to all running sandboxes together (their cgroups)."},
    Family{"sandboxd_sandbox_cpu_seconds", Type::kGauge,
           "CPU time used by the running sandboxes together, since each started."},
    Family{"sandboxd_sandbox_disk_used_bytes", Type::kGauge,
           "Bytes in use on all mounted sandbox disks together."},
    Family{"sandboxd_sandbox_disk_limit_bytes", Type::kGauge,
           "Disk quotas of all sandboxes together (their images, reserved on the data disk)."},
    Family{"sandboxd_sandbox_operations_total", Type::kCounter,
           "Sandbox lifecycle operations by op (create, start, wake, freeze, thaw, stop, delete, "
           "purge, snapshot, restore), trigger "
           "(api, preview, task, idle, pressure, ...) and result (ok, error)."},
    Family{"sandboxd_sandbox_operation_duration_seconds", Type::kHistogram,
           "Duration of successful sandbox lifecycle operations by op."},
    Family{"sandboxd_http_requests_total", Type::kCounter,
           "API requests answered, by method, route template (unmatched: no handler ran, e.g. no "
           "such route, or refused before routing with 401 or 403) and status."},
    Family{"sandboxd_http_request_duration_seconds", Type::kHistogram,
           "Time to answer API requests (an event stream: until it ended), by method and route "
           "template."},
    Family{"sandboxd_reaper_actions_total", Type::kCounter,
           "Sandboxes the reapers acted on, by reaper (idle, pressure, emergency) and action."},
    Family{"sandboxd_tasks_finished_total", Type::kCounter,
           "Agent tasks that ended, by agent, status and failure reason (empty on success)."},
    Family{"sandboxd_tasks_pruned_total", Type::kCounter,
           "Finished agent tasks deleted by retention, by reason (age, count)."},
    Family{"sandboxd_edge_connections", Type::kGauge,
           "Client connections open at the preview edge."},
    Family{"sandboxd_edge_connections_total", Type::kCounter,
           "Client connections to the preview edge by result (accepted, over_total_cap, "
           "over_client_cap)."},
    Family{"sandboxd_edge_responses_total", Type::kCounter,
           "Final responses of the preview edge by source (sandbox: relayed, edge: its own "
           "answer) and code class (1xx for switching protocols, 2xx ... 5xx)."},
    Family{"sandboxd_edge_upstream_connections_total", Type::kCounter,
           "Connections to sandbox ports by result (opened, reused from the pool, failed)."},
};

constexpr std::array kBuckets = {0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0};
// API requests: most take well under a millisecond.
constexpr std::array kRequestBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.05,   0.25,  1.0,    5.0,   30.0};
static_assert(kRequestBuckets.size() == kBuckets.size());

const std::array<double, kBuckets.size()>& buckets_of(const std::string& family) {
  return family == "sandboxd_http_request_duration_seconds" ? kRequestBuckets : kBuckets;
}

const Family* find_family(const std::string& name) {
  for (const auto& f : kFamilies)
    if (name == f.name) return &f;
  return nullptr;
}

const char* type_name(Type t) {
  return t == Type::kCounter ? "counter" : t == Type::kGauge ? "gauge" : "histogram";
}

// Whether `family` is declared with `type`; logs the programming error when not.
bool declared(const std::string& family, Type type) {
  const Family* f = find_family(family);
  if (f && f->type == type) return true;
  spdlog::error("metrics: {} is not a declared {}; sample dropped", family, type_name(type));
  return false;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string label_text(const MetricLabels& labels, const std::string& extra_key = "",
                       const std::string& extra_value = "") {
  MetricLabels all = labels;
  if (!extra_key.empty()) all.emplace_back(extra_key, extra_value);
  if (all.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i) out += ',';
    out += all[i].first + "=\"" + escape_label(all[i].second) + "\"";
  }
  return out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

long long steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Metrics::inc(const std::string& family, const MetricLabels& labels, double by) {
  if (!declared(family, Type::kCounter)) return;
  std::lock_guard lock(mu_);
  counters_[family][labels] += by;
}

void Metrics::observe(const std::string& family, const MetricLabels& labels, double seconds) {
  if (!declared(family, Type::kHistogram)) return;
  std::lock_guard lock(mu_);
  Histogram& h = histograms_[family][labels];
  const auto& bounds = buckets_of(family);
  if (h.buckets.empty()) h.buckets.assign(bounds.size(), 0);
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (seconds <= bounds[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render(const std::vector<ScrapeSample>& scraped) const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& f : kFamilies) {
    out += std::string("# HELP ") + f.name + " " + f.help + "\n";
    out += std::string("# TYPE ") + f.name + " " + type_name(f.type) + "\n";
    if (f.type == Type::kGauge || f.type == Type::kCounter) {
      std::map<MetricLabels, double> samples;
      if (auto it = counters_.find(f.name); it != counters_.end()) samples = it->second;
      for (const auto& g : scraped) {
        if (g.family != f.name) continue;
        if (f.type == Type::kGauge) {
          samples[g.labels] = g.value;
        } else {
          samples[g.labels] += g.value;
        }
      }
      for (const auto& [labels, v] : samples)
        out += f.name + label_text(labels) + " " + number(v) + "\n";
    } else if (auto it = histograms_.find(f.name); it != histograms_.end()) {
      const auto& bounds = buckets_of(f.name);
      for (const auto& [labels, h] : it->second) {
        for (std::size_t i = 0; i < bounds.size(); ++i)
          out += std::string(f.name) + "_bucket" + label_text(labels, "le", number(bounds[i])) +
                 " " + std::to_string(h.buckets[i]) + "\n";
        out += std::string(f.name) + "_bucket" + label_text(labels, "le", "+Inf") + " " +
               std::to_string(h.count) + "\n";
        out += std::string(f.name) + "_sum" + label_text(labels) + " " + number(h.sum) + "\n";
        out += std::string(f.name) + "_count" + label_text(labels) + " " + std::to_string(h.count) +
               "\n";
      }
    }
  }
  for (const auto& g : scraped) {
    const Family* f = find_family(g.family);
    if (!f || f->type == Type::kHistogram)
      spdlog::error("metrics: {} is not a declared gauge or counter; sample dropped", g.family);
  }
  return out;
}

double Metrics::counter(const std::string& family, const MetricLabels& labels) const {
  std::lock_guard lock(mu_);
  auto f = counters_.find(family);
  if (f == counters_.end()) return 0;
  auto it = f->second.find(labels);
  return it == f->second.end() ? 0 : it->second;
}

ScopedOperation::ScopedOperation(Metrics& metrics, Operation op, Trigger trigger)
    : metrics_(metrics), op_(op), trigger_(trigger), start_ns_(steady_ns()) {}

ScopedOperation::~ScopedOperation() {
  if (result_.empty()) return;
  const std::string op(to_string(op_));
  metrics_.inc("sandboxd_sandbox_operations_total",
               {{"op", op}, {"trigger", std::string(to_string(trigger_))}, {"result", result_}});
  if (result_ == "ok")
    metrics_.observe("sandboxd_sandbox_operation_duration_seconds", {{"op", op}},
                     static_cast<double>(steady_ns() - start_ns_) / 1e9);
}

}  // namespace sandboxd
