// FakeRuntime: an in-memory container table with per-verb failure injection and a hook
// that runs inside calls (to block them, or to see what else is in flight), for unit
// tests of everything above the Runtime interface. Thread-safe.
#pragma once

#include <sys/eventfd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>

#include "sandboxd/os/fd.h"
#include "sandboxd/runtime/runtime.h"

namespace sandboxd {

class FakeRuntime final : public Runtime {
 public:
  struct Container {
    RunSpec spec;
    std::string id;
    bool running = false;
    bool paused = false;
    std::vector<std::string> signals;  // sent by signal(), oldest first
  };

  // The next call of `verb` ("create", "start", "stop", "pause", "unpause", "remove",
  // "exec", "ping", "ensure_network") fails with `status` (once).
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

  Result<std::string> create(const RunSpec& spec) override {
    std::lock_guard lock(mu_);
    calls_.push_back("create " + spec.name);
    if (auto f = take("create")) return *f;
    if (!networks_.count(spec.network))
      return Status(Code::kNotFound, "network " + spec.network + " not found");
    if (containers_.count(spec.name)) return Status(Code::kConflict, "name in use");
    std::string id = "c" + std::to_string(++next_id_);
    containers_[spec.name] = {spec, id, true, false, {}};
    return id;
  }

  Status start(const std::string& name) override {
    return set_state("start", name, [](Container& c) { c.running = true; });
  }
  Status stop(const std::string& name, int) override {
    return set_state("stop", name, [](Container& c) { c.running = c.paused = false; });
  }
  Status pause(const std::string& name) override {
    return set_state("pause", name, [](Container& c) { c.paused = c.running; });
  }
  Status unpause(const std::string& name) override {
    return set_state("unpause", name, [](Container& c) { c.paused = false; });
  }
  Status signal(const std::string& name, const std::string& sig) override {
    return set_state("signal", name, [sig](Container& c) { c.signals.push_back(sig); });
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
    InFlight in_flight(*this, "exec", spec.container);
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

  // A session that reports `script_session`'s output at once, then its exit status.
  Result<std::unique_ptr<ExecSession>> exec_session(const ExecSpec& spec) override {
    InFlight in_flight(*this, "exec", spec.container);
    std::lock_guard lock(mu_);
    calls_.push_back("exec_session " + spec.container);
    last_exec_ = spec;
    if (auto f = take("exec_session")) return *f;
    auto it = containers_.find(spec.container);
    if (it == containers_.end()) return Status(Code::kNotFound, "No such container");
    if (!it->second.running) return Status(Code::kConflict, "is not running");
    return std::unique_ptr<ExecSession>(
        std::make_unique<ScriptedSession>(session_output_, session_exit_));
  }
  void script_session(std::vector<ExecSession::Output> output, int exit_code) {
    std::lock_guard lock(mu_);
    session_output_ = std::move(output);
    session_exit_ = exit_code;
  }

  // A feed that delivers the ids passed to emit_event().
  Result<std::unique_ptr<EventStream>> events(const std::string&) override {
    std::lock_guard lock(mu_);
    if (auto f = take("events")) return *f;
    return std::unique_ptr<EventStream>(std::make_unique<Feed>(*this));
  }
  void emit_event(const std::string& id) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(id);
    }
    events_cv_.notify_all();
  }

  Status ping() override {
    std::lock_guard lock(mu_);
    ++pings_;
    if (auto f = take("ping")) return *f;
    return {};
  }
  Result<std::string> network_interface(const std::string& network) override {
    return "br-" + network.substr(0, 12);
  }
  ContainerUsage usage(const std::string& container_id) override {
    std::lock_guard lock(mu_);
    for (const auto& [name, c] : containers_)
      if (c.id == container_id && c.running) return usage_;
    return {};
  }
  Result<bool> has_oci_runtime(const std::string& oci_runtime) override {
    std::lock_guard lock(mu_);
    return oci_runtimes_.count(oci_runtime) > 0;
  }
  // What usage() reports for every running container; the OCI runtimes it "has".
  void set_usage(ContainerUsage u) {
    std::lock_guard lock(mu_);
    usage_ = u;
  }
  void add_oci_runtime(const std::string& name) {
    std::lock_guard lock(mu_);
    oci_runtimes_.insert(name);
  }

  // Runs at the start of start, stop, pause, unpause and exec (outside the fake's lock)
  // with the verb and the container name, e.g. to block a call or to look at what else
  // is in flight. Set it before the calls it should see.
  std::function<void(const std::string& verb, const std::string& name)> hook;
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
  // Calls of start/stop/pause/unpause/exec in flight now for container `name`.
  int in_flight(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(name);
    return it == in_flight_.end() ? 0 : it->second;
  }

 private:
  // Counts a call in flight for `name` for its lifetime, and runs the hook first.
  struct InFlight {
    InFlight(FakeRuntime& r, const std::string& verb, std::string n) : r_(r), name_(std::move(n)) {
      {
        std::lock_guard lock(r_.mu_);
        ++r_.in_flight_[name_];
      }
      if (r_.hook) r_.hook(verb, name_);
    }
    ~InFlight() {
      std::lock_guard lock(r_.mu_);
      --r_.in_flight_[name_];
    }
    FakeRuntime& r_;
    std::string name_;
  };

  class ScriptedSession final : public ExecSession {
   public:
    ScriptedSession(std::vector<Output> output, int exit_code)
        : ready_(::eventfd(1, EFD_CLOEXEC)), output_(std::move(output)), exit_(exit_code) {}
    std::vector<int> fds() const override {
      return read_ ? std::vector<int>{} : std::vector<int>{ready_.get()};
    }
    std::vector<Output> read() override {
      read_ = true;
      return std::exchange(output_, {});
    }
    Result<std::optional<int>> exit_code() override {
      return read_ ? std::optional<int>(exit_) : std::nullopt;
    }
    int stdin_fd() const override { return -1; }
    std::optional<std::size_t> write(std::string_view data) override {
      input += data;
      return data.size();
    }
    std::string input;

   private:
    Fd ready_;
    bool read_ = false;
    std::vector<Output> output_;
    int exit_;
  };

  class Feed final : public EventStream {
   public:
    explicit Feed(FakeRuntime& r) : r_(r) {}
    Result<std::optional<std::string>> next(std::chrono::milliseconds timeout) override {
      std::unique_lock lock(r_.mu_);
      if (!r_.events_cv_.wait_for(lock, timeout, [&] { return !r_.events_.empty(); }))
        return std::optional<std::string>();
      std::string id = r_.events_.front();
      r_.events_.erase(r_.events_.begin());
      return std::optional<std::string>(id);
    }

   private:
    FakeRuntime& r_;
  };

  template <class Change>
  Status set_state(const char* verb, const std::string& name, Change change) {
    InFlight in_flight(*this, verb, name);
    std::lock_guard lock(mu_);
    calls_.push_back(std::string(verb) + " " + name);
    if (auto f = take(verb)) return *f;
    auto it = containers_.find(name);
    if (it == containers_.end()) return Status(Code::kNotFound, "No such container: " + name);
    change(it->second);
    return {};
  }

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
    s.paused = c.paused;
    s.status = c.paused ? "paused" : c.running ? "running" : "exited";
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
  std::vector<ExecSession::Output> session_output_;
  int session_exit_ = 0;
  int next_id_ = 0;
  int pings_ = 0;
  ContainerUsage usage_;
  std::set<std::string> oci_runtimes_;
  std::map<std::string, int> in_flight_;
  std::condition_variable events_cv_;
  std::vector<std::string> events_;  // ids not yet delivered by a Feed
};

}  // namespace sandboxd
