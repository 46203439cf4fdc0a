#include "sandboxd/tasks/task_feed.h"

namespace sandboxd {

std::string sse_frame(int64_t seq, std::string_view type, std::string_view data_json) {
  std::string f = "id: " + std::to_string(seq);
  f.reserve(f.size() + type.size() + data_json.size() + 16);
  f.append("\nevent: ").append(type).append("\ndata: ").append(data_json).append("\n\n");
  return f;
}

TaskFeed::TaskFeed(int64_t last_seq, std::size_t max_frames, std::size_t max_bytes)
    : max_frames_(max_frames), max_bytes_(max_bytes), floor_(last_seq), last_seq_(last_seq) {}

void TaskFeed::publish(int64_t first_seq,
                       const std::vector<std::pair<std::string, std::string>>& events, bool ends) {
  std::vector<Entry> fresh;
  fresh.reserve(events.size());
  int64_t seq = first_seq;
  for (const auto& [type, data] : events) {
    fresh.push_back({seq, std::make_shared<const std::string>(sse_frame(seq, type, data))});
    ++seq;
  }
  {
    std::lock_guard lock(mu_);
    if (first_seq != last_seq_ + 1) {
      // Not contiguous with the ring: followers read the store across the gap.
      ring_.clear();
      bytes_ = 0;
      floor_ = first_seq - 1;
    }
    for (auto& e : fresh) {
      bytes_ += e.sse->size();
      ring_.push_back(std::move(e));
    }
    last_seq_ = seq - 1;
    while (ring_.size() > 1 && (ring_.size() > max_frames_ || bytes_ > max_bytes_)) {
      bytes_ -= ring_.front().sse->size();
      floor_ = ring_.front().seq;
      ring_.pop_front();
    }
    if (ends) done_ = true;
  }
  cv_.notify_all();
}

void TaskFeed::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

TaskFeed::Batch TaskFeed::next(int64_t after,
                               std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline,
                 [&] { return last_seq_ > after || after < floor_ || done_ || closed_; });
  Batch b;
  b.last_seq = after;
  if (after < floor_) {
    b.behind = true;
    return b;
  }
  if (after < last_seq_) {
    b.frames.reserve(static_cast<std::size_t>(last_seq_ - after));
    for (auto i = static_cast<std::size_t>(after - floor_); i < ring_.size(); ++i)
      b.frames.push_back(ring_[i].sse);
    b.last_seq = last_seq_;
  }
  b.done = done_;
  b.closed = closed_ && !done_;
  return b;
}

}  // namespace sandboxd
