// FakeDocker: an in-memory container table with per-verb failure injection, for unit
// tests of everything above the Docker interface. Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "sandboxd/docker/docker.h"

namespace sandboxd {

class FakeDocker final : public Docker {
 public:
  struct Container {
    RunSpec spec;
    std::string id;
    bool running = false;
  };

  // The next call of `verb` ("run", "start", "stop", "remove", "exec", "ping",
  // "ensure_network") fails with `status` (once).
  void fail_next(const std::string& verb, Status status) {
    std::lock_guard lock(mu_);
    failures_[verb] = std::move(status);
  }

  Status ensure_network(const std::string& name,
                        const std::map<std::string, std::string>&) override {
    std::lock_guard lock(mu_);
    if (auto f = take("ensure_network")) return *f;
    networks_.insert(name);
    return {};
  }

  Result<std::string> run(const RunSpec& spec) override {
    std::lock_guard lock(mu_);
    calls_.push_back("run " + spec.name);
    if (auto f = take("run")) return *f;
    if (!networks_.count(spec.network))
      return Status(Code::kNotFound, "network " + spec.network + " not found");
    if (containers_.count(spec.name)) return Status(Code::kConflict, "name in use");
    std::string id = "c" + std::to_string(++next_id_);
    containers_[spec.name] = {spec, id, true};
    return id;
  }

  Status start(const std::string& name) override {
    Busy busy(*this, name);
    std::lock_guard lock(mu_);
    calls_.push_back("start " + name);
    if (auto f = take("start")) return *f;
    auto it = containers_.find(name);
    if (it == containers_.end()) return Status(Code::kNotFound, "No such container: " + name);
    it->second.running = true;
    return {};
  }

  Status stop(const std::string& name, int) override {
    Busy busy(*this, name);
    std::lock_guard lock(mu_);
    calls_.push_back("stop " + name);
    if (auto f = take("stop")) return *f;
    auto it = containers_.find(name);
    if (it == containers_.end()) return Status(Code::kNotFound, "No such container: " + name);
    it->second.running = false;
    return {};
  }

  // By name or by container id, as docker rm.
  Status remove(const std::string& name) override {
    std::lock_guard lock(mu_);
    calls_.push_back("remove " + name);
    if (auto f = take("remove")) return *f;
    for (auto it = containers_.begin(); it != containers_.end(); ++it) {
      if (it->first == name || it->second.id == name) {
        containers_.erase(it);
        return {};
      }
    }
    return Status(Code::kNotFound, "No such container: " + name);
  }

  Result<ContainerState> inspect(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = containers_.find(name);
    if (it == containers_.end()) return Status(Code::kNotFound, "No such container: " + name);
    return state(it->second);
  }

  Result<std::vector<ContainerState>> list(
      const std::map<std::string, std::string>& labels) override {
    std::lock_guard lock(mu_);
    calls_.push_back("list");
    std::vector<ContainerState> out;
    for (const auto& [name, c] : containers_) {
      bool match = true;
      for (const auto& [k, v] : labels)
        match = match && c.spec.labels.count(k) && c.spec.labels.at(k) == v;
      if (match) out.push_back(state(c));
    }
    return out;
  }

  Result<ExecResult> exec(const ExecSpec& spec) override {
    if (exec_hook) exec_hook();
    std::lock_guard lock(mu_);
    calls_.push_back("exec " + spec.container);
    last_exec_ = spec;
    if (auto f = take("exec")) return *f;
    auto it = containers_.find(spec.container);
    if (it == containers_.end()) return Status(Code::kNotFound, "No such container");
    if (!it->second.running) return Status(Code::kConflict, "is not running");
    ExecResult r;
    r.exit_code = 0;
    r.stdout_data = "ran";
    return r;
  }

  Status ping() override {
    std::lock_guard lock(mu_);
    ++pings_;
    if (auto f = take("ping")) return *f;
    return {};
  }

  // Runs inside exec() before anything else (outside the fake's lock), e.g. to block it.
  std::function<void()> exec_hook;
  // Simulates the container exiting (or being started) behind sandboxd's back.
  void set_running(const std::string& name, bool running) {
    std::lock_guard lock(mu_);
    containers_.at(name).running = running;
  }
  void clear_calls() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }

  // Test inspection.
  std::optional<Container> container(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = containers_.find(name);
    if (it == containers_.end()) return std::nullopt;
    return it->second;
  }
  void drop_container(const std::string& name) {
    std::lock_guard lock(mu_);
    containers_.erase(name);
  }
  std::size_t container_count() {
    std::lock_guard lock(mu_);
    return containers_.size();
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  ExecSpec last_exec() {
    std::lock_guard lock(mu_);
    return last_exec_;
  }
  int pings() {
    std::lock_guard lock(mu_);
    return pings_;
  }
  // The most calls that were ever in flight at once for one container name.
  int max_concurrent_per_name() {
    std::lock_guard lock(mu_);
    return max_busy_;
  }

 private:
  // Marks a verb in flight for `name` for a moment (outside mu_), so overlapping calls
  // on one name are observable.
  struct Busy {
    Busy(FakeDocker& d, std::string n) : d_(d), name_(std::move(n)) {
      {
        std::lock_guard lock(d_.mu_);
        d_.max_busy_ = std::max(d_.max_busy_, ++d_.busy_[name_]);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ~Busy() {
      std::lock_guard lock(d_.mu_);
      --d_.busy_[name_];
    }
    FakeDocker& d_;
    std::string name_;
  };

  std::optional<Status> take(const std::string& verb) {
    auto it = failures_.find(verb);
    if (it == failures_.end()) return std::nullopt;
    Status s = it->second;
    failures_.erase(it);
    return s;
  }
  static ContainerState state(const Container& c) {
    ContainerState s;
    s.id = c.id;
    s.name = c.spec.name;
    s.running = c.running;
    s.status = c.running ? "running" : "exited";
    s.labels = c.spec.labels;
    if (c.running) s.ips[c.spec.network] = "10.0.0." + c.id.substr(1);
    return s;
  }

  std::mutex mu_;
  std::map<std::string, Container> containers_;
  std::set<std::string> networks_;
  std::map<std::string, Status> failures_;
  std::vector<std::string> calls_;
  ExecSpec last_exec_;
  int next_id_ = 0;
  int pings_ = 0;
  std::map<std::string, int> busy_;
  int max_busy_ = 0;
};

}  // namespace sandboxd
