#include "sandboxd/reconcile/event_watcher.h"

#include <spdlog/spdlog.h>

namespace sandboxd {

EventWatcher::EventWatcher(Runtime& runtime, std::string instance,
                           std::function<void(const std::string&)> on_event,
                           std::function<void()> on_connected)
    : runtime_(runtime),
      instance_(std::move(instance)),
      on_event_(std::move(on_event)),
      on_connected_(std::move(on_connected)) {}

EventWatcher::~EventWatcher() { stop(); }

void EventWatcher::start() {
  thread_.start([this] { run(); });
}

void EventWatcher::stop() { thread_.stop(); }

void EventWatcher::run() {
  auto backoff = std::chrono::seconds(1);
  auto stopping = [this] { return thread_.stopping(); };
  while (!stopping()) {
    auto feed = runtime_.events(instance_);
    if (feed) {
      auto opened = std::chrono::steady_clock::now();
      on_connected_();
      while (!stopping()) {
        auto id = (*feed)->next(std::chrono::milliseconds(500));
        if (!id) break;
        if (*id) on_event_(**id);
      }
      if (std::chrono::steady_clock::now() - opened > std::chrono::seconds(30))
        backoff = std::chrono::seconds(1);
      if (!stopping())
        spdlog::warn("runtime events ended (engine restarted?); reopening in {} s",
                     backoff.count());
    } else {
      spdlog::warn("runtime events: {}; retrying in {} s", feed.error().message(), backoff.count());
    }
    if (thread_.wait_for(backoff)) break;
    backoff = std::min(backoff * 2, std::chrono::seconds(30));
  }
}

}  // namespace sandboxd
