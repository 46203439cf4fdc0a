// TaskEventStreams: the server-sent events of agent tasks (GET .../tasks/{id}/events).
// A stream sends the events after the resume point (Last-Event-ID, else ?since=) and then
// new ones as they are stored, sends a keepalive comment every 15 s while nothing happens,
// and ends after `done` or when TaskService stops (the client resumes). Events come from
// the task's TaskFeed (formatted once, shared by all its streams); SQLite is read only for
// a resume point older than the feed's ring, or for a task that has no feed any more.
// Open streams are capped. Thread-safe; each stream runs on its connection's thread.
#pragma once

#include <httplib.h>

#include <atomic>

#include "sandboxd/tasks/task_service.h"

namespace sandboxd {

class TaskEventStreams {
 public:
  // At most `max_open` streams at once. `tasks` is borrowed and outlives the server.
  TaskEventStreams(TaskService& tasks, int max_open) : tasks_(tasks), max_open_(max_open) {}

  // Answers a request whose matches[1] is the sandbox and matches[2] the task: 404 for
  // an unknown task, 400 for a resume point that is not an event id, 503 above the cap,
  // else 200 and the stream. Blocks the calling connection thread while it streams.
  void serve(const httplib::Request& req, httplib::Response& res);

 private:
  TaskService& tasks_;
  const int max_open_;
  std::atomic<int> open_{0};
};

}  // namespace sandboxd
