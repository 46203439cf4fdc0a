// TaskFeed: the live tail of one task's events, for the task's SSE followers. Its
// publisher (TaskService) hands it each event once, right after storing it; the feed
// formats it once as an SSE frame and keeps the newest frames in a bounded ring, which
// every follower reads without touching SQLite. A follower whose resume point has left
// the ring reads the store first. Thread-safe. Its mutex is a leaf: nothing else is
// locked, and no callback runs, while it is held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandboxd {

// The SSE frame of one stored event: `id: <seq>`, `event: <type>`, `data: <json>`.
std::string sse_frame(int64_t seq, std::string_view type, std::string_view data_json);

class TaskFeed {
 public:
  using Frame = std::shared_ptr<const std::string>;

  // What follows a resume point (TaskFeed::next).
  struct Batch {
    std::vector<Frame> frames;  // in seq order; empty when nothing new came by the deadline
    int64_t last_seq = 0;       // the seq of the last frame, else the resume point
    bool behind = false;        // events after the resume point left the ring: read the store first
    bool done = false;          // `frames` ends with the task's last event: nothing follows
    bool closed = false;  // the feed was closed before the task's end: nothing more comes here
  };

  // A feed whose first event will be `last_seq + 1` (the events up to `last_seq` are only
  // in the store). The ring keeps the newest `max_frames` frames, fewer when they pass
  // `max_bytes`, but always the newest one.
  explicit TaskFeed(int64_t last_seq, std::size_t max_frames = 1024,
                    std::size_t max_bytes = std::size_t{1} << 20);
  TaskFeed(const TaskFeed&) = delete;
  TaskFeed& operator=(const TaskFeed&) = delete;

  // Adds the events just stored with seqs `first_seq`, `first_seq + 1`... (each a
  // {type, data_json}) and wakes the waiters. `ends`: the last of them is the task's last
  // event (the feed is then done). A `first_seq` that is not one past the last published
  // seq empties the ring (followers read the store across the gap).
  void publish(int64_t first_seq, const std::vector<std::pair<std::string, std::string>>& events,
               bool ends);
  // Nothing more will be published (sandboxd stops following, or the task vanished); wakes
  // the waiters. Idempotent.
  void close();

  // The frames after `after`, waiting for one until `deadline` unless the feed is done or
  // closed. Returns at once when `after` is behind the ring.
  Batch next(int64_t after, std::chrono::steady_clock::time_point deadline) const;

 private:
  struct Entry {
    int64_t seq;
    Frame sse;
  };
  const std::size_t max_frames_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Entry> ring_;  // seqs (floor_, last_seq_], consecutive
  std::size_t bytes_ = 0;   // of the frames in ring_
  int64_t floor_;           // the highest seq no longer (or never) in the ring
  int64_t last_seq_;
  bool done_ = false;
  bool closed_ = false;
};

}  // namespace sandboxd
