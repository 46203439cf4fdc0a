// The background-process routes (ProcessService): list, get, output (a tail, or followed
// as server-sent events) and signal. The start is POST .../exec with "background": true
// (server.cpp). Thread-safe; a followed output blocks its connection's thread.
#pragma once

#include <httplib.h>

#include <atomic>

#include "sandboxd/config/config.h"
#include "sandboxd/procs/process_service.h"

namespace sandboxd {

class ProcessRoutes {
 public:
  // `stop_fd` (an eventfd) becomes readable when the server stops: followers end then.
  // At most `max_follows` outputs are followed at once (each holds a connection thread).
  ProcessRoutes(ProcessService& procs, int stop_fd, int max_follows)
      : procs_(procs), stop_fd_(stop_fd), max_follows_(max_follows) {}

  // 202 and the process.
  void start(const std::string& sandbox, const ExecRequest& req, httplib::Response& res);
  // GET .../processes
  void list(const httplib::Request& req, httplib::Response& res);
  // GET .../processes/{pid}
  void get(const httplib::Request& req, httplib::Response& res);
  // DELETE .../processes/{pid}?signal=TERM
  void signal(const httplib::Request& req, httplib::Response& res);
  // GET .../processes/{pid}/output?tail=N: {"stdout","stderr"}; with Accept:
  // text/event-stream or ?follow=true: `stdout`/`stderr` events ({"data"}) from the tail
  // on, then `exit` (the process) once it ended; a keepalive comment every second.
  void output(const httplib::Request& req, httplib::Response& res);

 private:
  ProcessService& procs_;
  const int stop_fd_;
  const int max_follows_;
  std::atomic<int> follows_{0};
};

}  // namespace sandboxd
