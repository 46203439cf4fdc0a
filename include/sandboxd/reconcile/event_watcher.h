// EventWatcher: follows `docker events` for this instance's containers (start, die,
// destroy, oom) and reports which sandbox each event concerns, so drift (a container
// killed, removed or restarted behind sandboxd's back, or a dockerd restart) converges in
// moments instead of at the next reconciler tick. When the stream ends (dockerd
// restarted or went away) it is reopened with backoff, and `on_connected` runs each time
// it opens so the caller can do a full reconcile for events missed in between.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace sandboxd {

// The sandbox id (label sandboxed.id) of a `docker events --format '{{json .}}'` line
// about a container of `instance`; nullopt for anything else.
std::optional<std::string> docker_event_sandbox_id(std::string_view line,
                                                   const std::string& instance);

class EventWatcher {
 public:
  EventWatcher(std::string docker_binary, std::string instance,
               std::function<void(const std::string& id)> on_event,
               std::function<void()> on_connected);
  ~EventWatcher();
  void start();
  // Ends the stream and joins the thread.
  void stop();

 private:
  void run();

  std::string docker_;
  std::string instance_;
  std::function<void(const std::string&)> on_event_;
  std::function<void()> on_connected_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace sandboxd
