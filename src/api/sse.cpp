#include "api/sse.h"

#include <chrono>
#include <string>

#include "api/http_io.h"
#include "sandboxd/api/query_params.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kKeepaliveEvery = std::chrono::seconds(15);
constexpr int kBatch = 200;
constexpr int64_t kMaxEventId = 999'999'999'999'999'999;

// One write for the whole batch.
bool write_frames(httplib::DataSink& sink, const std::vector<TaskFeed::Frame>& frames) {
  if (frames.size() == 1) return sink.write(frames[0]->data(), frames[0]->size());
  std::size_t size = 0;
  for (const auto& f : frames) size += f->size();
  std::string all;
  all.reserve(size);
  for (const auto& f : frames) all += *f;
  return sink.write(all.data(), all.size());
}

// Streams the task's events after `after` into `sink` until the stream ends, moving
// `after` past each event sent. Events come from the task's feed; from the store only
// while the resume point is older than the feed's ring, or when the task has no feed (it
// ended a while ago). False when the client went away or the events could not be read.
bool pump(TaskService& svc, const std::string& task_id, int64_t& after, httplib::DataSink& sink) {
  const std::shared_ptr<const TaskFeed> feed = svc.feed(task_id);
  auto keepalive_at = SteadyClock::now() + kKeepaliveEvery;
  for (;;) {
    TaskFeed::Batch b;
    if (feed) {
      b = feed->next(after, keepalive_at);
    } else {
      b.behind = true;
    }
    if (b.behind) {
      auto events = svc.events(task_id, after, kBatch);
      if (!events) return false;
      std::string out;
      bool done = false;
      for (const auto& e : *events) {
        out += sse_frame(e.seq, e.type, e.data_json);
        after = e.seq;
        if ((done = e.type == "done")) break;
      }
      if (!out.empty() && !sink.write(out.data(), out.size())) return false;
      keepalive_at = SteadyClock::now() + kKeepaliveEvery;
      // Without a feed nothing more will come; with one, an empty batch means the task's
      // events were deleted (the task was pruned or purged).
      if (done || events->empty() || (!feed && events->size() < kBatch)) {
        sink.done();
        return true;
      }
      continue;
    }
    if (!b.frames.empty()) {
      if (!write_frames(sink, b.frames)) return false;
      after = b.last_seq;
      keepalive_at = SteadyClock::now() + kKeepaliveEvery;
    }
    if (b.done || b.closed) {
      sink.done();  // closed: sandboxd is stopping; the client resumes with Last-Event-ID
      return true;
    }
    if (b.frames.empty()) {
      static constexpr char kKeepalive[] = ": keepalive\n\n";
      if (!sink.write(kKeepalive, sizeof kKeepalive - 1)) return false;
      keepalive_at = SteadyClock::now() + kKeepaliveEvery;
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
      [svc = &tasks_, task_id = task->id, after](std::size_t, httplib::DataSink& sink) mutable {
        return pump(*svc, task_id, after, sink);
      },
      [this](bool) { --open_; });
}

}  // namespace sandboxd
