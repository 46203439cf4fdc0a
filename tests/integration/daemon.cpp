#include "integration/daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "sandboxd/net/egress.h"
#include "sandboxd/os/process_runner.h"
#include "sandboxd/sandbox/workspace_disks.h"

extern char** environ;

namespace sandboxd::testing_support {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::pair<int, std::string> run_cmd(const std::vector<std::string>& argv) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = argv;
  spec.timeout = std::chrono::seconds(120);
  auto out = runner.run(spec);
  if (!out) return {-1, out.error().message()};
  return {out->exit_code, out->stdout_data};
}

nlohmann::json docker_inspect(const std::string& name) {
  auto [rc, out] = run_cmd({"docker", "container", "inspect", name});
  if (rc != 0) return nullptr;
  auto j = nlohmann::json::parse(out, nullptr, false);
  return j.is_array() && !j.empty() ? j[0] : nlohmann::json(nullptr);
}

std::string test_image() {
  const char* img = std::getenv("SANDBOXD_IMAGE");
  return img && *img ? img : "sandboxed-sandbox:0.1.0";
}

void require_docker_and_image() {
  auto [rc, out] = run_cmd({"docker", "version", "--format", "{{.Server.Version}}"});
  ASSERT_EQ(rc, 0) << "integration tests need a running dockerd (tests/run.sh starts one)";
  auto [img_rc, img_out] = run_cmd({"docker", "image", "inspect", test_image()});
  ASSERT_EQ(img_rc, 0) << "image " << test_image() << " missing: run docker/build-images.sh";
}

std::string random_token(std::size_t n) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += kChars[rd() % 62];
  return out;
}

std::string headless_dom(const std::string& url, const std::string& profile_dir) {
  auto [rc, dom] =
      run_cmd({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--host-resolver-rules=MAP * 127.0.0.1",
               "--user-data-dir=" + profile_dir, "--virtual-time-budget=20000", "--dump-dom", url});
  EXPECT_EQ(rc, 0) << "chromium failed (tests/run.sh installs it): " << dom;
  return rc == 0 ? dom : "";
}

bool take_sse_events(std::string& buf, std::vector<SseEvent>& out) {
  bool done = false;
  for (std::size_t end; (end = buf.find("\n\n")) != std::string::npos;) {
    std::string frame = buf.substr(0, end);
    buf.erase(0, end + 2);
    SseEvent e;
    std::size_t pos = 0;
    while (pos < frame.size()) {
      std::size_t nl = frame.find('\n', pos);
      std::string line = frame.substr(pos, nl == std::string::npos ? nl : nl - pos);
      pos = nl == std::string::npos ? frame.size() : nl + 1;
      if (line.rfind("id: ", 0) == 0) e.id = std::stoll(line.substr(4));
      if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
      if (line.rfind("data: ", 0) == 0)
        e.data = nlohmann::json::parse(line.substr(6), nullptr, false);
    }
    if (e.type.empty()) continue;  // a keepalive comment
    done = done || e.type == "done";
    out.push_back(std::move(e));
  }
  return done;
}

std::string network_gateway(const std::string& network) {
  auto [rc, gw] = run_cmd(
      {"docker", "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", network});
  gw.erase(gw.find_last_not_of("\n") + 1);
  return rc == 0 ? gw : "";
}

MockModel::MockModel(const std::string& host, const std::map<std::string, std::string>& env)
    : host_(host) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  ::close(fd);
  std::string script = SANDBOXD_SOURCE_DIR "/tests/mock_llm/mock_llm.py";
  std::string port = std::to_string(port_);
  std::vector<char*> argv = {const_cast<char*>("python3"), script.data(), port.data(),
                             const_cast<char*>(host_.c_str()), nullptr};
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  ::posix_spawnp(&pid_, "python3", &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  eventually(
      [&] {
        httplib::Client c(host_, port_);
        auto r = c.Get("/v1/models");
        return r && r->status == 200;
      },
      std::chrono::seconds(10));
}

MockModel::~MockModel() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

Daemon::Daemon(const std::string& tag, std::map<std::string, std::string> extra_env) {
  // A server may answer (413) and close while a test still sends: a write error, not a kill.
  ::signal(SIGPIPE, SIG_IGN);
  std::string suffix = std::to_string(::getpid());
  instance_ = "it" + tag + "-" + suffix;
  network_ = "sbx-" + instance_;
  base_dir_ = "/tmp/sandboxd-it-" + tag + "-" + suffix;
  std::filesystem::remove_all(base_dir_);
  std::filesystem::create_directories(base_dir_);
  data_dir_ = base_dir_ + "/data";
  log_path_ = base_dir_ + "/sandboxd.log";
  port_ = free_port();
  do wake_port_ = free_port();
  while (wake_port_ == port_);
  env_ = {{"SANDBOXED_DATA_DIR", data_dir_},
          {"SANDBOXD_INSTANCE", instance_},
          {"SANDBOXD_NETWORK", network_},
          {"SANDBOXED_API_BIND", "127.0.0.1:" + std::to_string(port_)},
          {"SANDBOXD_WAKE_BIND", "127.0.0.1:" + std::to_string(wake_port_)},
          {"PREVIEW_DOMAIN", "localhost"},
          {"SANDBOXD_IMAGE", test_image()},
          {"SANDBOXD_DEFAULT_MEMORY", "256m"},
          {"SANDBOXD_DEFAULT_DISK", "256m"},
          {"SANDBOXD_STOP_TIMEOUT_SECONDS", "5"},
          {"SANDBOXD_API_TOKENS", "it:" + token_}};
  // The starter templates tests/run.sh built (imported by sandboxd at startup).
  if (const char* t = std::getenv("SANDBOXED_TEST_TEMPLATES_DIR"))
    env_["SANDBOXD_TEMPLATES_DIR"] = t;
  for (auto& [k, v] : extra_env) env_[k] = v;
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  // Auth is on by default, as in production: the harness's client carries the token.
  client_->set_bearer_token_auth(token_);
  client_->set_read_timeout(120, 0);
  client_->set_connection_timeout(5, 0);
}

Daemon::~Daemon() {
  if (pid_ > 0) stop(true);
  for (const auto& c : containers()) run_cmd({"docker", "rm", "-f", c});
  for (const auto& net : {network_, network_ + "-none"}) run_cmd({"docker", "network", "rm", net});
  // What sandboxd leaves on the host by design (it outlives sandboxd): the workspaces'
  // mounted disks and the instance's egress rules.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(data_dir_ + "/workspaces", ec))
    if (is_mount_point(e.path().string())) run_cmd({"umount", e.path().string()});
  PosixProcessRunner runner;
  if (auto s = EgressFirewall(runner).remove(instance_); !s.is_ok())
    ADD_FAILURE() << "removing the egress rules of " << instance_ << ": " << s.message();
  std::filesystem::remove_all(base_dir_);
}

bool Daemon::start() {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (!env_.count(key) && key.rfind("SANDBOX", 0) != 0) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : env_) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = SANDBOXD_BINARY;
  std::vector<std::string> args = {bin, "serve"};
  args.insert(args.end(), serve_args.begin(), serve_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto r = client_->Get("/healthz"); r && r->status == 200) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool Daemon::stop(bool hard) {
  if (pid_ <= 0) return true;
  ::kill(pid_, hard ? SIGKILL : SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return hard || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return false;
}

nlohmann::json Daemon::exec(const std::string& id, const nlohmann::json& request) {
  auto r =
      client_->Post("/sandbox/" + id + "/exec", auth_headers, request.dump(), "application/json");
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

bool Daemon::write_node_app(const std::string& id, const std::string& one_line_js) {
  // exec has no stdin: the source travels in an env var (so it must be one line).
  auto r = exec(id, {{"cmd",
                      {"sh", "-c",
                       "printf '%s' \"$SRC\" > server.js && "
                       "echo '{\"command\":\"node server.js\"}' > sandbox.json"}},
                     {"env", {{"SRC", one_line_js}}}});
  return !r.is_null() && r["exit_code"] == 0;
}

std::unique_ptr<httplib::Client> Daemon::preview(const std::string& id, int port) const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", wake_port_);
  c->set_default_headers({{"Host", preview_host(id, port)}});
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(90, 0);
  return c;
}

std::string Daemon::log() const {
  std::ifstream f(log_path_);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> Daemon::containers() const {
  auto [rc, out] = run_cmd({"docker", "ps", "-a", "--filter",
                            "label=sandboxed.instance=" + instance_, "--format", "{{.Names}}"});
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t nl = out.find('\n', start);
    std::string line = out.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty()) names.push_back(line);
    start = nl == std::string::npos ? out.size() : nl + 1;
  }
  return names;
}

bool allow_model(Daemon& d, const MockModel& m) {
  if (!d.stop()) return false;
  d.set_env("SANDBOXD_EGRESS_ALLOW", m.host_port());
  return d.start();
}

nlohmann::json opencode_env(const MockModel& m) {
  nlohmann::json cfg = {
      {"provider",
       {{"mock",
         {{"npm", "@ai-sdk/openai-compatible"},
          {"name", "Mock"},
          {"options", {{"baseURL", m.base() + "/v1"}, {"apiKey", "mock-key"}}},
          {"models", {{"mock-model", {{"name", "Mock"}, {"tool_call", true}}}}}}}}},
      {"model", "mock/mock-model"},
      {"small_model", "mock/mock-model"},
      {"autoupdate", false},
      {"share", "disabled"}};
  return {{"OPENCODE_CONFIG_CONTENT", cfg.dump()}, {"OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"}};
}

nlohmann::json body_of(const httplib::Result& r, int status) {
  EXPECT_TRUE(r) << "no HTTP response";
  if (!r) return nullptr;
  EXPECT_EQ(r->status, status) << r->body;
  return nlohmann::json::parse(r->body, nullptr, false);
}

}  // namespace sandboxd::testing_support
