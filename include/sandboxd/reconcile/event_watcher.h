// EventWatcher: follows the Runtime's event feed for this instance's containers (start,
// die, destroy, oom) and reports which sandbox each event concerns, so drift (a container
// killed, removed or restarted behind sandboxd's back, or a dockerd restart) converges in
// moments instead of at the next reconciler tick. When the feed ends (the engine
// restarted or went away) it is reopened with backoff, and `on_connected` runs each time
// it opens so the caller can do a full reconcile for events missed in between.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sandboxd/os/stoppable_thread.h"
#include "sandboxd/runtime/runtime.h"

namespace sandboxd {

class EventWatcher {
 public:
  EventWatcher(Runtime& runtime, std::string instance,
               std::function<void(const std::string& id)> on_event,
               std::function<void()> on_connected);
  ~EventWatcher();
  void start();
  // Ends the stream and joins the thread.
  void stop();

 private:
  void run();

  Runtime& runtime_;
  std::string instance_;
  std::function<void(const std::string&)> on_event_;
  std::function<void()> on_connected_;
  StoppableThread thread_;
};

}  // namespace sandboxd
