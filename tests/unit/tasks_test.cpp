// Unit tests of the task pieces that are pure or SQLite-only: the agents' JSON lines to
// normalised events, request validation, the agents' argv, and the task store's
// exactly-once event append.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fakes/service_harness.h"
#include "sandboxd/store/store.h"
#include "sandboxd/tasks/agent_events.h"
#include "sandboxd/tasks/task_service.h"

namespace sandboxd {
namespace {

using nlohmann::json;

std::vector<TaskEvent> feed(Agent agent, const std::vector<std::string>& lines, AgentTally& tally) {
  std::vector<TaskEvent> out;
  for (const auto& l : lines)
    for (auto& e : normalize_agent_line(agent, l, tally)) out.push_back(std::move(e));
  return out;
}

TEST(AgentEvents, OpenCodeLinesBecomeToolMessageAndSummedUsage) {
  AgentTally t;
  auto events = feed(
      Agent::kOpenCode,
      {R"({"type":"step_start","part":{}})",
       R"({"type":"tool_use","part":{"tool":"write","state":{"status":"completed","input":{"filePath":"/a"},"output":"Wrote file"}}})",
       R"({"type":"step_finish","part":{"tokens":{"input":11,"output":7,"reasoning":1,"cache":{"read":2,"write":3}},"cost":0.5}})",
       R"({"type":"text","part":{"text":"MOCK DONE"}})",
       R"({"type":"step_finish","part":{"tokens":{"input":11,"output":7},"cost":0.25}})",
       "not json", R"({"type":"tool_use","part":{"tool":5}})"},
      t);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, "tool");
  json tool = json::parse(events[0].data_json);
  EXPECT_EQ(tool["name"], "write");
  EXPECT_EQ(tool["status"], "completed");
  EXPECT_EQ(tool["output"], "Wrote file");
  EXPECT_EQ(events[2].type, "message");
  EXPECT_EQ(events[3].type, "usage");
  json usage = json::parse(events[3].data_json);
  EXPECT_EQ(usage["input_tokens"], 22);
  EXPECT_EQ(usage["cache_write_tokens"], 3);
  EXPECT_DOUBLE_EQ(usage["cost_usd"].get<double>(), 0.75);
  EXPECT_EQ(t.final_message, "MOCK DONE");
  EXPECT_TRUE(t.first_error.empty());
}

TEST(AgentEvents, ClaudeLinesPairToolResultsWithTheirToolAndReportErrors) {
  AgentTally t;
  auto events = feed(
      Agent::kClaude,
      {R"({"type":"system","subtype":"init","model":"claude-x"})",
       R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"tu1","name":"Write","input":{"file_path":"/a"}}]}})",
       R"({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"tu1","content":"ok"}]}})",
       R"({"type":"assistant","message":{"content":[{"type":"text","text":"Done."}]}})",
       R"({"type":"result","is_error":true,"result":"Limit reached","usage":{"input_tokens":5,"output_tokens":3},"total_cost_usd":0.01})"},
      t);
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.type);
  EXPECT_EQ(types,
            (std::vector<std::string>{"status", "tool", "tool", "message", "usage", "error"}));
  EXPECT_EQ(json::parse(events[2].data_json)["name"], "Write");
  EXPECT_EQ(json::parse(events[2].data_json)["status"], "completed");
  EXPECT_TRUE(t.agent_reported_error);
  EXPECT_EQ(t.final_message, "Limit reached");
  EXPECT_EQ(json::parse(events[4].data_json)["output_tokens"], 3);
}

TEST(AgentEvents, LongTextsAreCut) {
  AgentTally t;
  std::string big(kMaxEventText * 2, 'x');
  auto events =
      feed(Agent::kOpenCode, {json{{"type", "text"}, {"part", {{"text", big}}}}.dump()}, t);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_LT(json::parse(events[0].data_json)["text"].get<std::string>().size(), big.size());
}

TEST(TaskRequests, ValidationAndArgv) {
  Config c;
  TaskRequest ok{
      "write a server", Agent::kClaude, "claude-sonnet-4-5", 60, {{"ANTHROPIC_API_KEY", "k"}}};
  EXPECT_TRUE(validate_task(ok, c).is_ok());
  auto bad = [&](auto mutate) {
    TaskRequest r = ok;
    mutate(r);
    return validate_task(r, c).code() == Code::kInvalidArgument;
  };
  EXPECT_TRUE(bad([](TaskRequest& r) { r.prompt = " \n"; }));
  EXPECT_TRUE(bad([](TaskRequest& r) { r.model = "x; rm -rf /"; }));
  EXPECT_TRUE(bad([](TaskRequest& r) { r.timeout_s = 0; }));
  EXPECT_TRUE(bad([&](TaskRequest& r) { r.timeout_s = c.task_max_timeout_s + 1; }));
  EXPECT_TRUE(bad([](TaskRequest& r) { r.env = {{"A B", "x"}}; }));
  EXPECT_EQ(agent_argv(Agent::kOpenCode, "mock/m"),
            (std::vector<std::string>{"opencode", "run", "--format", "json", "-m", "mock/m"}));
  EXPECT_EQ(agent_argv(Agent::kClaude, "")[0], "claude");
}

TEST(TaskStore, EventsAndTheOffsetAreWrittenTogetherWithIncreasingIds) {
  auto store = std::move(*Store::open(":memory:"));
  TaskRecord t;
  t.id = "t1";
  t.sandbox_id = "s1";
  t.agent = Agent::kOpenCode;
  t.prompt = "p";
  t.status = TaskStatus::kRunning;
  ASSERT_TRUE(store->insert_task(t).is_ok());
  EXPECT_EQ(store->insert_task(t).code(), Code::kConflict);
  t.out_offset = 100;
  ASSERT_TRUE(store->append_task_events(t, {{"status", "{}"}, {"tool", "{\"a\":1}"}}, 5).is_ok());
  EXPECT_EQ(t.next_seq, 3);
  t.out_offset = 200;
  ASSERT_TRUE(store->append_task_events(t, {{"done", "{}"}}, 6).is_ok());
  auto events = store->task_events("t1", 0, 100);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].seq, 1);
  EXPECT_EQ((*events)[2].type, "done");
  EXPECT_EQ(store->task_events("t1", 2, 100)->size(), 1u);
  auto back = store->get_task("t1");
  ASSERT_TRUE(back && back->has_value());
  EXPECT_EQ((*back)->out_offset, 200);
  EXPECT_EQ((*back)->next_seq, 4);
  // A failed append writes nothing and leaves next_seq where it was.
  TaskRecord ghost = t;
  ghost.id = "nope";
  EXPECT_FALSE(store->append_task_events(ghost, {{"x", "{}"}}, 7).is_ok());
  EXPECT_EQ(ghost.next_seq, t.next_seq);
  EXPECT_TRUE(store->task_events("nope", 0, 10)->empty());
  ASSERT_TRUE(store->remove_with_tasks("s1").is_ok());
  EXPECT_FALSE(store->get_task("t1")->has_value());
  EXPECT_TRUE(store->task_events("t1", 0, 10)->empty());
}

TEST(TaskServiceStart, AWakeRefusedForMemoryIsTheCallersErrorAndTheTaskIsKeptFailed) {
  ServiceHarness h("taskstart");
  h.init();
  h.create("s1");
  ASSERT_TRUE(h.service->stop("s1"));
  h.memory.available_pct = 1;  // below the refuse band: no start, no wake
  TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
  TaskRequest req{"build it", Agent::kOpenCode, "", std::nullopt, {}};
  auto r = tasks.create("s1", req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable) << r.error().message();
  auto list = tasks.list("s1");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].status, TaskStatus::kFailed);
  EXPECT_EQ((*list)[0].failure_reason, FailureReason::kStartFailed);
  EXPECT_TRUE(h.service->busy().ids().empty()) << "the busy hold is released";
  // The sandbox is free for the next task.
  h.memory.available_pct = 50;
  auto second = tasks.create("s1", req);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->status, TaskStatus::kRunning);
}

// The agent's output lines land in the task's out.jsonl in the workspace (as the runner
// would write them).
void agent_says(ServiceHarness& h, const std::string& sandbox, const std::string& task,
                const std::vector<json>& lines) {
  std::ofstream out(
      h.config.workspaces_dir() + "/" + sandbox + "/.sandboxed/tasks/" + task + "/out.jsonl",
      std::ios::app);
  for (const auto& l : lines) out << l.dump() << "\n";
}

json text_line(const std::string& text) { return {{"type", "text"}, {"part", {{"text", text}}}}; }

std::string all_events(TaskService& tasks, const std::string& task) {
  auto events = tasks.events(task, 0, 1000);
  EXPECT_TRUE(events);
  std::string out;
  if (events)
    for (const auto& e : *events) out += e.type + " " + e.data_json + "\n";
  return out;
}

TEST(TaskSecretsTest, EnvValuesAreRedactedAndAfterARestartStillAreFromTheSealedCopy) {
  ServiceHarness h("tasksecrets");
  h.init();
  std::filesystem::create_directories(h.config.state_dir());
  const std::string sandbox_secret = "sandbox-\"secret\"-0123456789";
  const std::string task_secret = "task-secret-abcdefghijkl";
  CreateRequest create;
  create.id = "s1";
  create.env = {{"SB_KEY", sandbox_secret}};
  ASSERT_TRUE(h.service->create(create));
  std::string id;
  {
    TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
    auto t = tasks.create("s1", {"the prompt",
                                 Agent::kOpenCode,
                                 "",
                                 std::nullopt,
                                 {{"TASK_KEY", task_secret}, {"SHORT", "abc"}}});
    ASSERT_TRUE(t) << t.error().message();
    id = t->id;
    for (const auto& arg : h.runtime.last_exec().cmd) EXPECT_NE(arg, "the prompt") << "not on argv";
    agent_says(h, "s1", id, {text_line("keys " + sandbox_secret + " " + task_secret)});
    tasks.poll_once();
    std::string events = all_events(tasks, id);
    EXPECT_NE(events.find("keys *** ***"), std::string::npos) << events;
    // sandboxd stops; the agent runs on.
  }
  auto row = h.store->get_task(id);
  ASSERT_TRUE(row && row->has_value());
  const std::string sealed = (*row)->sealed_env;
  EXPECT_EQ(sealed.rfind("v1:", 0), 0u);
  EXPECT_EQ(sealed.find(task_secret), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(h.config.state_dir() + "/redaction.key"));

  agent_says(h, "s1", id, {text_line("again " + task_secret + " and " + sandbox_secret)});
  TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
  tasks.start();
  tasks.poll_once();
  const std::string dir = h.config.workspaces_dir() + "/s1/.sandboxed/tasks/" + id;
  std::ofstream(dir + "/.exit.json.tmp") << R"({"exit_code":0})";
  std::filesystem::rename(dir + "/.exit.json.tmp", dir + "/exit.json");  // as the runner does
  tasks.poll_once();
  tasks.stop();
  std::string events = all_events(tasks, id);
  EXPECT_NE(events.find("again *** and ***"), std::string::npos) << events;
  EXPECT_EQ(events.find(task_secret), std::string::npos);
  EXPECT_EQ(events.find("0123456789"), std::string::npos);
  row = h.store->get_task(id);
  EXPECT_EQ((*row)->status, TaskStatus::kSucceeded) << (*row)->error_message;
  EXPECT_EQ((*row)->final_message, "again *** and ***");
  EXPECT_TRUE((*row)->sealed_env.empty()) << "dropped when the task ended";
}

TEST(TaskSecretsTest, AnUnusableKeyAfterARestartStillRedactsTheSandboxEnv) {
  // A key cut short, and a key others could read: both refused, neither fatal.
  for (bool open_to_others : {false, true}) {
    ServiceHarness h(open_to_others ? "tasksecretsmode" : "tasksecretskey");
    h.init();
    std::filesystem::create_directories(h.config.state_dir());
    CreateRequest create;
    create.id = "s1";
    create.env = {{"SB_KEY", "sandbox-secret-0123456789"}};
    ASSERT_TRUE(h.service->create(create));
    std::string id;
    {
      TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
      auto t =
          tasks.create("s1", {"p", Agent::kClaude, "", std::nullopt, {{"K", "task-secret-value"}}});
      ASSERT_TRUE(t);
      id = t->id;
    }
    const std::string key = h.config.state_dir() + "/redaction.key";
    if (open_to_others)
      std::filesystem::permissions(key, std::filesystem::perms::others_read,
                                   std::filesystem::perm_options::add);
    else
      std::ofstream(key, std::ios::trunc) << "short";
    json line = {{"type", "result"}, {"result", "x sandbox-secret-0123456789"}};
    agent_says(h, "s1", id, {line});
    TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
    tasks.start();
    tasks.poll_once();
    tasks.stop();
    auto row = h.store->get_task(id);
    ASSERT_TRUE(row && row->has_value());
    EXPECT_EQ((*row)->final_message, "x ***") << open_to_others;
  }
}

}  // namespace
}  // namespace sandboxd
