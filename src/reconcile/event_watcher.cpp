#include "sandboxd/reconcile/event_watcher.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "sandboxd/os/spawn.h"

namespace sandboxd {

std::optional<std::string> docker_event_sandbox_id(std::string_view line,
                                                   const std::string& instance) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("Type", "") != "container") return std::nullopt;
  auto actor = j.find("Actor");
  if (actor == j.end() || !actor->is_object()) return std::nullopt;
  auto attrs = actor->find("Attributes");
  if (attrs == actor->end() || !attrs->is_object()) return std::nullopt;
  auto text = [&](const char* key) {
    auto it = attrs->find(key);
    return it != attrs->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (text("sandboxed.managed") != "true" || text("sandboxed.instance") != instance)
    return std::nullopt;
  std::string id = text("sandboxed.id");
  if (id.empty()) return std::nullopt;
  return id;
}

EventWatcher::EventWatcher(std::string docker_binary, std::string instance,
                           std::function<void(const std::string&)> on_event,
                           std::function<void()> on_connected)
    : docker_(std::move(docker_binary)),
      instance_(std::move(instance)),
      on_event_(std::move(on_event)),
      on_connected_(std::move(on_connected)) {}

EventWatcher::~EventWatcher() { stop(); }

void EventWatcher::start() {
  thread_ = std::thread([this] { run(); });
}

void EventWatcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventWatcher::run() {
  auto backoff = std::chrono::seconds(1);
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  while (!stopping()) {
    auto proc = LineProcess::spawn(
        {docker_, "events", "--format", "{{json .}}", "--filter", "type=container", "--filter",
         "label=sandboxed.instance=" + instance_, "--filter", "event=start", "--filter",
         "event=die", "--filter", "event=destroy", "--filter", "event=oom"});
    if (proc) {
      auto opened = std::chrono::steady_clock::now();
      on_connected_();
      while (!stopping()) {
        auto line = (*proc)->next_line(std::chrono::milliseconds(500));
        if (!line) break;
        if (!*line) continue;
        if (auto id = docker_event_sandbox_id(**line, instance_)) on_event_(*id);
      }
      if (std::chrono::steady_clock::now() - opened > std::chrono::seconds(30))
        backoff = std::chrono::seconds(1);
      if (!stopping())
        spdlog::warn("docker events ended (dockerd restarted?); reopening in {} s",
                     backoff.count());
    } else {
      spdlog::warn("docker events: {}; retrying in {} s", proc.error().message(), backoff.count());
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, backoff, [this] { return stopping_; })) break;
    backoff = std::min(backoff * 2, std::chrono::seconds(30));
  }
}

}  // namespace sandboxd
