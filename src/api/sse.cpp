#include "api/sse.h"

#include <chrono>
#include <string>

#include "api/http_io.h"
#include "sandboxd/api/query_params.h"

namespace sandboxd {
namespace {

constexpr auto kKeepaliveEvery = std::chrono::seconds(15);
constexpr int kBatch = 200;
constexpr int64_t kMaxEventId = 999'999'999'999'999'999;

std::string frame(const StoredEvent& e) {
  return "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + e.data_json + "\n\n";
}

// Streams the task's events after `after` into `sink` until the stream ends, moving
// `after` past each event sent. False when the client went away or the events could not
// be read.
bool pump(TaskService& svc, const std::string& sandbox, const std::string& task_id, int64_t& after,
          httplib::DataSink& sink) {
  for (;;) {
    auto events = svc.events(task_id, after, kBatch);
    if (!events) return false;
    for (const auto& e : *events) {
      std::string f = frame(e);
      if (!sink.write(f.data(), f.size())) return false;
      after = e.seq;
      if (e.type == "done") {
        sink.done();
        return true;
      }
    }
    if (!events->empty()) continue;
    // Resumed at or after the end of a finished task: nothing more will come.
    if (auto t = svc.get(sandbox, task_id); t && t->finished()) {
      sink.done();
      return true;
    }
    if (!svc.wait_for_event(task_id, after, std::chrono::steady_clock::now() + kKeepaliveEvery)) {
      sink.done();  // shutting down: the client resumes with Last-Event-ID
      return true;
    }
    auto more = svc.events(task_id, after, 1);
    if (more && more->empty()) {
      static constexpr char kKeepalive[] = ": keepalive\n\n";
      if (!sink.write(kKeepalive, sizeof kKeepalive - 1)) return false;
    }
  }
}

}  // namespace

void TaskEventStreams::serve(const httplib::Request& req, httplib::Response& res) {
  auto task = tasks_.get(req.matches[1], req.matches[2]);
  if (!task) return reply_error(res, task.error());
  std::string from = req.get_header_value("Last-Event-ID");
  if (from.empty()) from = req.get_param_value("since");
  int64_t after = 0;
  if (!from.empty()) {
    auto parsed = parse_int_param("Last-Event-ID / since", from, 0, kMaxEventId);
    if (!parsed) return reply_error(res, parsed.error());
    after = *parsed;
  }
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  if (open_.fetch_add(1) >= max_open_) {
    --open_;
    return reply_error(res, Status(Code::kUnavailable, "too many open event streams"));
  }
  res.set_chunked_content_provider(
      "text/event-stream",
      [svc = &tasks_, task_id = task->id, sandbox = task->sandbox_id, after](
          std::size_t, httplib::DataSink& sink) mutable {
        return pump(*svc, sandbox, task_id, after, sink);
      },
      [this](bool) { --open_; });
}

}  // namespace sandboxd
