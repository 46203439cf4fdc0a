// Integration: agent tasks with the real OpenCode and Claude Code CLIs in real sandboxes,
// against the project's mock model server (tests/mock_llm/mock_llm.py) bound to the
// test network's gateway, the host's own address there: no request leaves the machine.
// Covers the event stream (tool call, done, resume with Last-Event-ID), the result
// (files changed, final message, usage), cancel and timeout (the agent's process group
// is gone), a sandbox stop mid-task, kill -9 of sandboxd mid-task, bad input, and that
// secrets never leak: env values the model echoes (whole, JSON-escaped, split across two
// output lines, also after a restart mid-task) and the prompt on the host's `ps`.
#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "integration/daemon.h"

extern char** environ;

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

using Event = SseEvent;

// Reads a task's event stream until `done` (or the deadline), resuming after `after`.
std::vector<Event> stream(Daemon& d, const std::string& sandbox, const std::string& task,
                          int64_t after = 0) {
  httplib::Client c("127.0.0.1", d.port());
  c.set_bearer_token_auth(d.token());
  c.set_read_timeout(120, 0);
  httplib::Headers h;
  if (after > 0) h.emplace("Last-Event-ID", std::to_string(after));
  std::string buf;
  std::vector<Event> events;
  bool done = false;
  c.Get(("/v1/sandboxes/" + sandbox + "/tasks/" + task + "/events").c_str(), h,
        [&](const char* data, std::size_t n) {
          buf.append(data, n);
          done = take_sse_events(buf, events) || done;
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
  return {{"agent", "opencode"}, {"model", "mock/mock-model"}, {"prompt", prompt},
          {"env", opencode_env(m)}};
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
  MockModel m(network_gateway(d.network()));
  ASSERT_TRUE(allow_model(d, m)) << d.log();
  create(d, "oc1");
  std::string task = start_task(d, "oc1", opencode_task(m, "Create hello.txt"));
  ASSERT_FALSE(task.empty());
  expect_wrote_hello(d, "oc1", task, "write");
}

TEST(Tasks, ClaudeCodeWritesTheFileInASandboxItWakes) {
  Daemon d("taskcc");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(network_gateway(d.network()));
  ASSERT_TRUE(allow_model(d, m)) << d.log();
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
  MockModel m(network_gateway(d.network()));
  ASSERT_TRUE(allow_model(d, m)) << d.log();
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
  MockModel m(network_gateway(d.network()));
  ASSERT_TRUE(allow_model(d, m)) << d.log();
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

// --- secrets ---

// What the model echoes: the sandbox's env value (JSON-special bytes, a tab, non-ASCII)
// and the task's, which it says whole and then split across its two texts (two output
// lines of the agent, with the tool call between them).
struct Secrets {
  std::string sandbox = "sb\"q\\s/t\t\xc3\xa9-" + random_token(16);
  std::string task = "tk" + random_token(22);
  std::string head() const { return task.substr(0, 12); }
  std::string tail() const { return task.substr(12); }
  std::map<std::string, std::string> model_env() const {
    return {{"MOCK_SAY_FIRST", "sandbox " + sandbox + " task " + task + " first half " + head()},
            {"MOCK_SAY_LAST", tail() + " is the rest. MOCK DONE"}};
  }
  // Every spelling a leak could take: raw, JSON-escaped (as nlohmann and Python write
  // it, "/" escaped or not), and the task's two halves.
  std::vector<std::string> spellings() const {
    std::vector<std::string> out = {head(), tail()};
    for (const auto& s : {sandbox, task}) {
      out.push_back(s);
      for (bool ascii : {false, true}) {
        std::string q = json(s).dump(-1, ' ', ascii);
        q = q.substr(1, q.size() - 2);
        out.push_back(q);
        std::string slashed;
        for (char c : q) slashed += c == '/' ? std::string("\\/") : std::string(1, c);
        out.push_back(slashed);
      }
    }
    return out;
  }
};

void expect_no_secret(const Secrets& s, const std::string& where, const std::string& text) {
  for (const auto& needle : s.spellings())
    EXPECT_EQ(text.find(needle), std::string::npos) << where << " shows a secret";
}

// The task secret never in clear text in sandboxd's own files (database, WAL, key).
void expect_state_files_clean(const Secrets& s, Daemon& d) {
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(d.data_dir() + "/state")) {
    if (!e.is_regular_file()) continue;
    ++files;
    std::ifstream f(e.path(), std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(f), {});
    for (const auto& needle : {s.task, s.head(), s.tail()})
      EXPECT_EQ(bytes.find(needle), std::string::npos) << e.path() << " holds the task secret";
  }
  EXPECT_GE(files, 2) << "the database and the key were looked at";
}

// The task's sealed env column, read from the database file.
std::string sealed_env(Daemon& d, const std::string& task) {
  SQLite::Database db(d.data_dir() + "/state/sandboxd.db", SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT sealed_env FROM tasks WHERE id = ?");
  q.bind(1, task);
  return q.executeStep() ? q.getColumn(0).getString() : "(no row)";
}

void create_with_secret(Daemon& d, const std::string& id, const Secrets& s) {
  json body = {{"id", id}, {"memory", "1g"}, {"env", {{"SB_SECRET", s.sandbox}}}};
  auto r = d.http().Post("/v1/sandboxes", body.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d.log();
  expect_no_secret(s, "the create answer", r->body);
}

json with_task_secret(json body, const Secrets& s) {
  body["env"]["TASK_SECRET"] = s.task;
  return body;
}

// A finished task that ran with the Secrets: every view of it is clean, and the texts the
// model said show the redaction.
void expect_redacted_run(Daemon& d, const Secrets& s, const std::string& sandbox,
                         const std::string& task) {
  auto events = stream(d, sandbox, task);
  ASSERT_FALSE(events.empty()) << d.log();
  EXPECT_EQ(events.back().type, "done");
  EXPECT_EQ(events.back().data["status"], "succeeded") << events.back().data.dump();
  int masked = 0;
  for (const auto& e : events) {
    expect_no_secret(s, "event " + e.type, e.data.dump());
    if (e.type == "message")
      masked += e.data["text"].get<std::string>().find("***") != std::string::npos;
  }
  EXPECT_EQ(masked, 2) << "both texts the model said";
  EXPECT_EQ(get_task(d, sandbox, task)["final_message"], "*** is the rest. MOCK DONE");
  std::string views;
  for (const auto& path :
       {"/v1/sandboxes/" + sandbox + "/tasks/" + task + "/events",
        "/v1/sandboxes/" + sandbox + "/tasks/" + task, "/v1/sandboxes/" + sandbox + "/tasks"}) {
    auto r = d.http().Get(path);
    ASSERT_TRUE(r && r->status == 200) << path;
    views += r->body;
  }
  EXPECT_NE(views.find("***"), std::string::npos);
  expect_no_secret(s, "the task's API answers", views);
  expect_no_secret(s, "sandboxd's log", d.log());

  // The agent did print them, the sandbox's JSON-escaped, the task's split across two of
  // its lines: its own output file (tenant data, which the files API serves byte-exact).
  auto out = d.http().Get("/v1/sandboxes/" + sandbox + "/files?path=.sandboxed/tasks/" + task +
                          "/out.jsonl&raw=true");
  ASSERT_TRUE(out && out->status == 200);
  std::string escaped = json(s.sandbox).dump();
  EXPECT_NE(out->body.find(escaped.substr(1, escaped.size() - 2)), std::string::npos);
  auto line_of = [&](const std::string& needle) {
    auto at = out->body.find(needle);
    EXPECT_NE(at, std::string::npos) << needle;
    return at == std::string::npos ? -1
                                   : std::count(out->body.begin(), out->body.begin() + at, '\n');
  };
  EXPECT_LT(line_of("first half " + s.head()), line_of(s.tail() + " is the rest"));
}

TEST(TaskSecrets, EnvValuesTheModelEchoesNeverReachEventsResultsOrTheLog) {
  Secrets s;
  Daemon d("tasksec");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(network_gateway(d.network()), s.model_env());
  ASSERT_TRUE(allow_model(d, m)) << d.log();
  create_with_secret(d, "sec1", s);
  create_with_secret(d, "sec2", s);
  std::string oc = start_task(d, "sec1", with_task_secret(opencode_task(m, "Create hello.txt"), s));
  std::string cc = start_task(d, "sec2", with_task_secret(claude_task(m, "Create hello.txt"), s));
  ASSERT_FALSE(oc.empty() || cc.empty());
  expect_redacted_run(d, s, "sec1", oc);
  expect_redacted_run(d, s, "sec2", cc);
  expect_state_files_clean(s, d);
}

TEST(TaskSecrets, StayHiddenAfterAKill9MidTaskAndAreKeptOnlySealed) {
  Secrets s;
  Daemon d("tasksecr");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(network_gateway(d.network()), s.model_env());
  ASSERT_TRUE(allow_model(d, m)) << d.log();
  create_with_secret(d, "r1", s);
  // The model answers only after the restart: everything it says is redacted by the
  // new sandboxd, from the sandbox's row and the task's sealed values.
  std::string task =
      start_task(d, "r1", with_task_secret(opencode_task(m, "SLOW:12 create hello.txt"), s));
  ASSERT_FALSE(task.empty());
  ASSERT_TRUE(eventually([&] { return agents_running(d, "r1") > 0; })) << d.log();
  d.stop(/*hard=*/true);

  const std::string key = d.data_dir() + "/state/redaction.key";
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  EXPECT_EQ(sealed_env(d, task).rfind("v1:", 0), 0u) << "sealed while it runs";
  expect_state_files_clean(s, d);

  ASSERT_TRUE(d.start()) << d.log();
  expect_redacted_run(d, s, "r1", task);
  EXPECT_EQ(sealed_env(d, task), "") << "dropped when the task ended";
  expect_state_files_clean(s, d);
  EXPECT_EQ(d.log().find("cannot be recovered"), std::string::npos) << d.log();
}

TEST(TaskSecrets, ThePromptIsOnNoCommandLineOfTheHost) {
  const std::string marker = "PROMPTMARK" + random_token(12);
  const std::string mock_log = "/tmp/sandboxd-it-mock-" + std::to_string(::getpid()) + ".jsonl";
  std::filesystem::remove(mock_log);
  Daemon d("taskps");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(network_gateway(d.network()), {{"MOCK_LOG", mock_log}, {"MOCK_MARKER", marker}});
  ASSERT_TRUE(allow_model(d, m)) << d.log();
  create(d, "ps1");
  create(d, "ps2");
  std::string oc = start_task(d, "ps1", opencode_task(m, "SLOW:120 " + marker));
  std::string cc = start_task(d, "ps2", claude_task(m, "SLOW:120 " + marker));
  ASSERT_FALSE(oc.empty() || cc.empty());
  // Both agents passed the prompt to the model (so they read it from stdin)...
  auto saw = [&](const std::string& path) {
    std::ifstream f(mock_log);
    for (std::string line; std::getline(f, line);) {
      json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.value("path", "") == path && e.value("marker_seen", false))
        return true;
    }
    return false;
  };
  EXPECT_TRUE(eventually([&] { return saw("/v1/chat/completions") && saw("/v1/messages"); },
                         std::chrono::seconds(90)))
      << d.log();
  // ... and while they wait for its answer, no process on the host shows it.
  auto [rc, ps] = run_cmd({"ps", "-eo", "args"});
  ASSERT_EQ(rc, 0);
  EXPECT_NE(ps.find("run --format json"), std::string::npos) << "OpenCode runs: " << ps;
  EXPECT_NE(ps.find("-p --output-format stream-json"), std::string::npos) << "Claude runs: " << ps;
  EXPECT_EQ(ps.find(marker), std::string::npos) << ps;
  for (const auto& [sandbox, task] : {std::pair{"ps1", oc}, {"ps2", cc}}) {
    d.http().Post("/v1/sandboxes/" + std::string(sandbox) + "/tasks/" + task + "/cancel", "",
                  "application/json");
    EXPECT_TRUE(eventually([&] { return get_task(d, sandbox, task)["status"] == "cancelled"; }));
  }
  std::filesystem::remove(mock_log);
}

}  // namespace
}  // namespace sandboxd::testing_support
