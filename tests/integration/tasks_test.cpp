// Integration: agent tasks with the real OpenCode and Claude Code CLIs in real sandboxes,
// against the project's mock model server (tests/mock_llm/mock_llm.py) bound to the
// test network's gateway, the host's own address there: no request leaves the machine.
// Covers the event stream (tool call, done, resume with Last-Event-ID), the result
// (files changed, final message, usage), cancel and timeout (the agent's process group
// is gone), a sandbox stop mid-task, kill -9 of sandboxd mid-task, and bad input.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "integration/daemon.h"

extern char** environ;

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

std::string gateway(const Daemon& d) {
  auto [rc, gw] = run_cmd(
      {"docker", "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", d.network()});
  gw.erase(gw.find_last_not_of("\n") + 1);
  return rc == 0 ? gw : "";
}

// The mock model server on host:<free port> for the life of the object.
class MockModel {
 public:
  explicit MockModel(const std::string& host) : host_(host) {
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
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawnp(&pid_, "python3", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    eventually(
        [&] {
          httplib::Client c(host_, port_);
          auto r = c.Get("/v1/models");
          return r && r->status == 200;
        },
        std::chrono::seconds(10));
  }
  ~MockModel() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string base() const { return "http://" + host_ + ":" + std::to_string(port_); }

 private:
  std::string host_;
  int port_ = 0;
  pid_t pid_ = -1;
};

struct Event {
  int64_t id = 0;
  std::string type;
  json data;
};

// Reads a task's event stream until `done` (or the deadline), resuming after `after`.
std::vector<Event> stream(Daemon& d, const std::string& sandbox, const std::string& task,
                          int64_t after = 0) {
  httplib::Client c("127.0.0.1", d.port());
  c.set_read_timeout(120, 0);
  httplib::Headers h;
  if (after > 0) h.emplace("Last-Event-ID", std::to_string(after));
  std::string buf;
  std::vector<Event> events;
  bool done = false;
  c.Get(("/v1/sandboxes/" + sandbox + "/tasks/" + task + "/events").c_str(), h,
        [&](const char* data, std::size_t n) {
          buf.append(data, n);
          std::size_t end;
          while ((end = buf.find("\n\n")) != std::string::npos) {
            std::string frame = buf.substr(0, end);
            buf.erase(0, end + 2);
            Event e;
            std::size_t pos = 0;
            while (pos < frame.size()) {
              std::size_t nl = frame.find('\n', pos);
              std::string line = frame.substr(pos, nl == std::string::npos ? nl : nl - pos);
              pos = nl == std::string::npos ? frame.size() : nl + 1;
              if (line.rfind("id: ", 0) == 0) e.id = std::stoll(line.substr(4));
              if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
              if (line.rfind("data: ", 0) == 0) e.data = json::parse(line.substr(6));
            }
            if (e.type.empty()) continue;  // a keepalive comment
            events.push_back(e);
            done = done || e.type == "done";
          }
          return !done;
        });
  return events;
}

json get_task(Daemon& d, const std::string& sandbox, const std::string& task) {
  auto r = d.http().Get("/v1/sandboxes/" + sandbox + "/tasks/" + task);
  return r && r->status == 200 ? json::parse(r->body) : json(nullptr);
}

std::string start_task(Daemon& d, const std::string& sandbox, const json& body) {
  auto r = d.http().Post("/v1/sandboxes/" + sandbox + "/tasks", body.dump(), "application/json");
  EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no answer") << d.log();
  return r && r->status == 202 ? json::parse(r->body)["id"].get<std::string>() : "";
}

json opencode_task(const MockModel& m, const std::string& prompt) {
  json cfg = {{"provider",
               {{"mock",
                 {{"npm", "@ai-sdk/openai-compatible"},
                  {"name", "Mock"},
                  {"options", {{"baseURL", m.base() + "/v1"}, {"apiKey", "mock-key"}}},
                  {"models", {{"mock-model", {{"name", "Mock"}, {"tool_call", true}}}}}}}}},
              {"model", "mock/mock-model"},
              {"small_model", "mock/mock-model"},
              {"autoupdate", false},
              {"share", "disabled"}};
  return {{"agent", "opencode"},
          {"model", "mock/mock-model"},
          {"prompt", prompt},
          {"env",
           {{"OPENCODE_CONFIG_CONTENT", cfg.dump()}, {"OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"}}}};
}

json claude_task(const MockModel& m, const std::string& prompt) {
  return {{"agent", "claude"},
          {"model", "claude-sonnet-4-5"},
          {"prompt", prompt},
          {"env", {{"ANTHROPIC_BASE_URL", m.base()}, {"ANTHROPIC_API_KEY", "sk-mock"}}}};
}

// Agent processes running in the sandbox (the bracket keeps pgrep's shell out).
int agents_running(Daemon& d, const std::string& id) {
  json r = d.exec(id, {{"cmd", {"sh", "-c", "pgrep -f '[o]pencode run' | wc -l"}}});
  return r.is_null() ? -1 : std::stoi(r["stdout"].get<std::string>());
}

void create(Daemon& d, const std::string& id) {
  auto r =
      d.http().Post("/v1/sandboxes", json{{"id", id}, {"memory", "1g"}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d.log();
}

// The checks every finished agent run shares: ids 1..n in order, one `done` at the end,
// a completed write tool call, the file in the workspace, and the result's fields.
void expect_wrote_hello(Daemon& d, const std::string& sandbox, const std::string& task,
                        const std::string& tool) {
  auto events = stream(d, sandbox, task);
  ASSERT_FALSE(events.empty()) << d.log();
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].id, int64_t(i + 1));
  EXPECT_EQ(events.back().type, "done");
  int done = 0;
  bool wrote = false;
  for (const auto& e : events) {
    done += e.type == "done";
    wrote =
        wrote || (e.type == "tool" && e.data["name"] == tool && e.data["status"] == "completed");
  }
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(wrote) << "no completed " << tool << " tool event";
  EXPECT_EQ(events.back().data["status"], "succeeded") << events.back().data.dump();

  json t = get_task(d, sandbox, task);
  EXPECT_EQ(t["status"], "succeeded");
  EXPECT_EQ(t["files_changed"], json::array({"hello.txt"}));
  EXPECT_EQ(t["final_message"], "MOCK DONE");
  EXPECT_GT(t["usage"]["output_tokens"].get<int64_t>(), 0);
  auto f = d.http().Get("/v1/sandboxes/" + sandbox + "/files?path=workspace/app/hello.txt");
  ASSERT_TRUE(f && f->status == 200);
  EXPECT_EQ(json::parse(f->body)["content"], "hello from mock\n");

  // Resuming after event 2 gives exactly the rest.
  auto rest = stream(d, sandbox, task, 2);
  ASSERT_EQ(rest.size(), events.size() - 2);
  EXPECT_EQ(rest.front().id, 3);
  EXPECT_EQ(rest.back().type, "done");
}

TEST(Tasks, OpenCodeWritesTheFileAndTheStreamShowsTheToolCallAndDone) {
  Daemon d("taskoc");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(gateway(d));
  create(d, "oc1");
  std::string task = start_task(d, "oc1", opencode_task(m, "Create hello.txt"));
  ASSERT_FALSE(task.empty());
  expect_wrote_hello(d, "oc1", task, "write");
}

TEST(Tasks, ClaudeCodeWritesTheFileInASandboxItWakes) {
  Daemon d("taskcc");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(gateway(d));
  create(d, "cc1");
  ASSERT_EQ(d.http().Post("/v1/sandboxes/cc1/stop", "", "application/json")->status, 200);
  std::string task = start_task(d, "cc1", claude_task(m, "Create hello.txt"));
  ASSERT_FALSE(task.empty());
  expect_wrote_hello(d, "cc1", task, "Write");
  EXPECT_EQ(json::parse(d.http().Get("/v1/sandboxes/cc1")->body)["status"], "running");
}

TEST(Tasks, CancelTimeoutAndASandboxStopEndTheTaskAndItsProcessGroup) {
  Daemon d("taskend");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(gateway(d));
  create(d, "end1");
  auto agents = [&] { return agents_running(d, "end1"); };

  std::string task = start_task(d, "end1", opencode_task(m, "SLOW:300 create hello.txt"));
  ASSERT_TRUE(eventually([&] { return agents() > 0; })) << d.log();
  auto again = d.http().Post("/v1/sandboxes/end1/tasks", opencode_task(m, "another").dump(),
                             "application/json");
  EXPECT_EQ(again->status, 409) << "one running task per sandbox";
  ASSERT_EQ(
      d.http().Post("/v1/sandboxes/end1/tasks/" + task + "/cancel", "", "application/json")->status,
      200);
  EXPECT_TRUE(eventually([&] { return get_task(d, "end1", task)["status"] == "cancelled"; }))
      << d.log();
  EXPECT_EQ(stream(d, "end1", task).back().data["status"], "cancelled");
  EXPECT_TRUE(eventually([&] { return agents() == 0; })) << "the process group lives on";

  json timed = opencode_task(m, "SLOW:300 create hello.txt");
  timed["timeout_s"] = 3;
  task = start_task(d, "end1", timed);
  EXPECT_TRUE(eventually([&] { return get_task(d, "end1", task)["status"] == "failed"; }))
      << d.log();
  EXPECT_EQ(get_task(d, "end1", task)["failure_reason"], "agent_timeout");
  EXPECT_TRUE(eventually([&] { return agents() == 0; }));

  task = start_task(d, "end1", opencode_task(m, "SLOW:300 create hello.txt"));
  ASSERT_TRUE(eventually([&] { return agents() > 0; }));
  ASSERT_EQ(d.http().Post("/v1/sandboxes/end1/stop", "", "application/json")->status, 200);
  EXPECT_TRUE(eventually([&] { return get_task(d, "end1", task)["status"] == "failed"; }));
  EXPECT_EQ(get_task(d, "end1", task)["failure_reason"], "sandbox_stopped");
  // Results stay readable after the sandbox is deleted.
  ASSERT_EQ(d.http().Delete("/v1/sandboxes/end1")->status, 204);
  EXPECT_EQ(get_task(d, "end1", task)["status"], "failed");
}

TEST(Tasks, AKill9OfSandboxdMidTaskLosesAndRepeatsNoEvent) {
  Daemon d("taskkill");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(gateway(d));
  create(d, "k1");
  std::string task = start_task(d, "k1", opencode_task(m, "SLOW:8 create hello.txt"));
  ASSERT_FALSE(task.empty());
  ASSERT_TRUE(eventually([&] { return agents_running(d, "k1") > 0; }));
  d.stop(/*hard=*/true);
  ASSERT_TRUE(d.start()) << d.log();
  expect_wrote_hello(d, "k1", task, "write");
}

TEST(Tasks, BadInputIsA4xxAndStartsNothing) {
  Daemon d("taskbad");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, "b1");
  for (const char* body :
       {R"({"agent":"codex","prompt":"x"})", R"({"agent":"opencode","prompt":"  "})",
        R"({"agent":"opencode"})", R"({"prompt":"x"})",
        R"({"agent":"opencode","prompt":"x","timeout_s":0})",
        R"({"agent":"opencode","prompt":"x","timeout_s":999999})",
        R"({"agent":"opencode","prompt":"x","model":"a b"})",
        R"({"agent":"opencode","prompt":"x","env":{"BAD KEY":"v"}})",
        R"({"agent":"opencode","prompt":"x","extra":1})", "not json"}) {
    auto r = d.http().Post("/v1/sandboxes/b1/tasks", body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body << " " << r->body;
  }
  EXPECT_EQ(d.http()
                .Post("/v1/sandboxes/nope1/tasks", R"({"agent":"opencode","prompt":"x"})",
                      "application/json")
                ->status,
            404);
  EXPECT_EQ(d.http().Get("/v1/sandboxes/b1/tasks/nosuchtask")->status, 404);
  EXPECT_EQ(json::parse(d.http().Get("/v1/sandboxes/b1/tasks")->body)["tasks"].size(), 0u);
  EXPECT_EQ(d.http().Get("/v1/sandboxes/b1/tasks/x/events?since=abc")->status, 404);
}

}  // namespace
}  // namespace sandboxd::testing_support
