// Test harness for integration tests: runs the real sandboxd binary against the real
// dockerd with its own instance name, network, data dir and loopback port, and removes
// everything it made (containers of its instance, its network, its data dir) at the end.
#pragma once

#include <httplib.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace sandboxd::testing_support {

// A loopback TCP port that was free a moment ago.
int free_port();
// Runs a command (argv, no shell) and returns {exit code, stdout}.
std::pair<int, std::string> run_cmd(const std::vector<std::string>& argv);
// `docker inspect` of one container as JSON (null when it does not exist).
nlohmann::json docker_inspect(const std::string& name);
// The sandbox image tests use (SANDBOXD_IMAGE or the default).
std::string test_image();
// A gtest failure unless dockerd answers and test_image() exists (for SetUpTestSuite).
void require_docker_and_image();
// `n` random characters of [A-Za-z0-9] (unique secrets and markers).
std::string random_token(std::size_t n);
// The DOM of `url` after headless Chromium ran its scripts (up to 20 s of page time;
// pending fetches do not use it up), every host name resolving to 127.0.0.1, with a
// fresh profile in `profile_dir`. Empty (and a test failure) when Chromium fails.
std::string headless_dom(const std::string& url, const std::string& profile_dir);

// Polls `pred` every 100 ms until it holds or `deadline` passes; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds deadline = std::chrono::seconds(40)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

// One event of a text/event-stream (a task's events).
struct SseEvent {
  int64_t id = 0;
  std::string type;
  nlohmann::json data;  // discarded when its data line is not JSON
};
// Moves the complete frames at the front of `buf` into `out` (keepalive comments are
// skipped); an unfinished frame stays in `buf`. True once a "done" event was taken.
bool take_sse_events(std::string& buf, std::vector<SseEvent>& out);

// The gateway address of a Docker network: the host's own address there ("" on error).
std::string network_gateway(const std::string& network);

// The mock model server (tests/mock_llm/mock_llm.py) on host:<free port> for the life of
// the object; `env` adds to its environment (MOCK_SAY_FIRST, MOCK_LOG, ...).
class MockModel {
 public:
  explicit MockModel(const std::string& host, const std::map<std::string, std::string>& env = {});
  ~MockModel();
  MockModel(const MockModel&) = delete;
  MockModel& operator=(const MockModel&) = delete;
  std::string base() const { return "http://" + host_ + ":" + std::to_string(port_); }
  std::string host_port() const { return host_ + ":" + std::to_string(port_); }

 private:
  std::string host_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class Daemon {
 public:
  // `tag` makes the instance name unique per test; extra env overrides defaults.
  explicit Daemon(const std::string& tag, std::map<std::string, std::string> extra_env = {});
  // Arguments after `serve` (default: --env-file /dev/null, so no stray .env is read).
  std::vector<std::string> serve_args = {"--env-file", "/dev/null"};
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Sets one variable of the daemon's environment (before start), e.g. one that names a
  // port known only after construction.
  void set_env(const std::string& key, const std::string& value) { env_[key] = value; }
  // Starts the process and waits (deadline 20 s) until /healthz answers.
  bool start();
  // SIGTERM (or SIGKILL when hard) and reap; true when it exited by itself in time.
  bool stop(bool hard = false);
  bool running() const { return pid_ > 0; }
  // The daemon's process id while it runs, else -1.
  pid_t pid() const { return pid_; }

  httplib::Client& http() { return *client_; }
  // POST /sandbox/{id}/exec; the parsed 200 response, or null (e.g. a 4xx or no answer).
  nlohmann::json exec(const std::string& id, const nlohmann::json& request);
  // Writes a one-line Node.js app to ~/workspace/app/server.js and a sandbox.json that
  // runs it (as an agent would), through exec; true when both were written.
  bool write_node_app(const std::string& id, const std::string& one_line_js);
  std::string instance() const { return instance_; }
  int port() const { return port_; }
  // The wake listener (sandboxd's preview edge, which Traefik forwards to; no Traefik in
  // tests), on loopback.
  int wake_port() const { return wake_port_; }
  // The preview host of a sandbox's port (PREVIEW_DOMAIN is `localhost` in tests).
  static std::string preview_host(const std::string& id, int port) {
    return "s-" + id + "-" + std::to_string(port) + ".preview.localhost";
  }
  // A client of the wake listener that sends `Host: preview_host(id, port)`.
  std::unique_ptr<httplib::Client> preview(const std::string& id, int port) const;
  std::string network() const { return network_; }
  std::string data_dir() const { return data_dir_; }
  std::string workspace(const std::string& id) const { return data_dir_ + "/workspaces/" + id; }
  std::string container(const std::string& id) const { return instance_ + "-s-" + id; }
  std::string log() const;
  // Containers (any state) that carry this instance's label.
  std::vector<std::string> containers() const;
  httplib::Headers auth_headers;
  // The bearer secret of the token `it` the daemon is started with (SANDBOXD_API_TOKENS
  // unless extra_env replaces it); http() sends it on every request.
  const std::string& token() const { return token_; }

 private:
  std::string token_ = "integration-" + std::to_string(::getpid()) + "-token-secret";
  std::string instance_;
  std::string network_;
  std::string base_dir_;
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  int wake_port_ = 0;
  pid_t pid_ = -1;
  std::map<std::string, std::string> env_;
  std::unique_ptr<httplib::Client> client_;
};

// The JSON body of an answer, with a test failure unless it came with `status` (null
// when there was no answer).
nlohmann::json body_of(const httplib::Result& r, int status);

// The env that points OpenCode at the mock model `m` (model "mock/mock-model").
nlohmann::json opencode_env(const MockModel& m);

// Sandboxes reach no host address by default: restarts `d` with exactly the mock
// model's address and port allowed (SANDBOXD_EGRESS_ALLOW), as an operator would. True
// when it runs again.
bool allow_model(Daemon& d, const MockModel& m);

}  // namespace sandboxd::testing_support
