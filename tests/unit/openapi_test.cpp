// The OpenAPI spec (api/openapi.json) against the server and against itself: the routes
// ApiServer serves are exactly the spec's operations; the spec is well-formed OpenAPI 3.1
// that the test validator fully understands; the JSON codec's answers, and the answers
// and event streams of exec and the process routes (served on a loopback port, over the
// fake runtime), fit their schemas; and the validator rejects what it should (so a broken
// one cannot pass everything).
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "fakes/service_harness.h"
#include "sandboxd/api/json_codec.h"
#include "sandboxd/api/server.h"
#include "sandboxd/tasks/agent_events.h"
#include "support/openapi_check.h"

namespace sandboxd {
namespace {

using nlohmann::json;
using testing_support::load_spec;
using testing_support::resolve_ref;
using testing_support::schema_problems;
using testing_support::validate;
using testing_support::validate_response;

const std::vector<std::string> kMethods = {"get",   "put",  "post",    "delete",
                                           "patch", "head", "options", "trace"};

// The operations whose security differs from the global bearer requirement: the probes
// and the console's static files need no token (readiness says more with one), and the
// terminal also takes a ticket (a browser's WebSocket cannot send Authorization).
const std::map<std::string, json> kOwnSecurity = {
    {"getHealth", json::array()},
    {"getReadiness", json::parse(R"([{}, {"bearerAuth": []}])")},
    {"getConsole", json::array()},
    {"getConsoleAsset", json::array()},
    {"openTerminal", json::parse(R"([{"bearerAuth": []}, {"terminalTicket": []}])")},
};

// The operations with other success statuses than exactly one 2xx: exec answers 200 (it
// ran, or its event stream) or 202 (started in the background); the terminal answers 101
// (the WebSocket).
const std::map<std::string, std::set<std::string>> kOwnSuccesses = {
    {"execSandbox", {"200", "202"}},
    {"openTerminal", {"101"}},
};

const json& spec() {
  static const json s = load_spec();
  return s;
}

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += "\n  " + i;
  return out;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// The spec's value at JSON pointer `ptr`, null when there is none.
json at(const std::string& ptr) {
  const json::json_pointer p(ptr);
  return spec().contains(p) ? spec().at(p) : json();
}

// Calls f(method, path, operation) for every operation of the spec.
template <class F>
void each_operation(F f) {
  const json paths = at("/paths");
  for (const auto& [path, item] : paths.items())
    for (const auto& m : kMethods)
      if (item.contains(m)) f(m, path, item[m]);
}

// `obj`, or what its $ref names.
json deref(const json& obj) {
  return obj.is_object() && obj.contains("$ref") ? resolve_ref(spec(), obj["$ref"]) : obj;
}

// Whether anyone may call `op`: its security (else the spec's) requires nothing, or offers
// the empty requirement as one choice.
bool anonymous(const json& op) {
  const json security = op.value("security", at("/security"));
  return security.empty() ||
         std::find(security.begin(), security.end(), json::object()) != security.end();
}

std::set<std::string> spec_operations() {
  std::set<std::string> out;
  each_operation([&](const std::string& m, const std::string& path, const json&) {
    out.insert(upper(m) + " " + path);
  });
  return out;
}

std::vector<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

class OpenApiSpec : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(spec().is_object()) << "cannot read or parse api/openapi.json";
  }
};

TEST_F(OpenApiSpec, EveryServedRouteIsAnOperationAndEveryOperationIsServed) {
  ServiceHarness h("openapi-test");
  h.config.http_threads = 16;
  h.init();
  Authenticator auth(true, {});
  TaskService tasks(h.config, *h.store, *h.service, h.clock, *h.workspaces, h.metrics);
  ProcessService procs(h.config, *h.store, *h.service, *h.workspaces, h.clock);
  ApiServer server(h.config, *h.service, auth, h.clock, h.metrics, &tasks, &procs);
  std::set<std::string> served;
  for (const auto& r : server.routes()) served.insert(r.method + " " + r.path);
  EXPECT_EQ(served.size(), server.routes().size()) << "a route is registered twice";
  const std::set<std::string> documented = spec_operations();
  EXPECT_TRUE(minus(served, documented).empty())
      << "served by ApiServer but missing from api/openapi.json:"
      << lines(minus(served, documented));
  EXPECT_TRUE(minus(documented, served).empty())
      << "in api/openapi.json but not served by ApiServer:" << lines(minus(documented, served));
}

TEST_F(OpenApiSpec, IsOpenApi31WithUniqueCamelCaseOperationIdsAndBearerAuth) {
  EXPECT_EQ(at("/openapi"), "3.1.0");
  EXPECT_TRUE(at("/info/title").is_string());
  EXPECT_EQ(at("/info/version"), SANDBOXD_VERSION) << "the spec's version is sandboxd's";
  EXPECT_EQ(at("/components/securitySchemes/bearerAuth/type"), "http");
  EXPECT_EQ(at("/components/securitySchemes/bearerAuth/scheme"), "bearer");
  EXPECT_EQ(at("/security"), json::parse(R"([{"bearerAuth": []}])"));
  std::set<std::string> ids;
  const std::regex camel("^[a-z][A-Za-z0-9]*$");
  each_operation([&](const std::string& m, const std::string& path, const json& op) {
    const std::string where = upper(m) + " " + path;
    ASSERT_TRUE(op.contains("operationId")) << where;
    const std::string id = op["operationId"];
    EXPECT_TRUE(std::regex_match(id, camel)) << where << ": " << id;
    EXPECT_TRUE(ids.insert(id).second) << where << ": operationId " << id << " is used twice";
    EXPECT_TRUE(op.value("summary", json()).is_string()) << where;
    EXPECT_TRUE(op.value("tags", json()).is_array()) << where;
    // Only these differ from the global bearer requirement, and exactly so.
    if (auto own = kOwnSecurity.find(id); own != kOwnSecurity.end())
      EXPECT_EQ(op.value("security", json()), own->second) << where << ": its security";
    else
      EXPECT_FALSE(op.contains("security")) << where << " overrides security";
  });
  EXPECT_GE(ids.size(), 30u);
  EXPECT_EQ(at("/components/securitySchemes/terminalTicket/type"), "apiKey");
  EXPECT_EQ(at("/components/securitySchemes/terminalTicket/in"), "query");
  EXPECT_EQ(at("/components/securitySchemes/terminalTicket/name"), "ticket");
}

TEST_F(OpenApiSpec, EverySchemaIsUnderstoodByTheValidatorAndEveryRefResolves) {
  EXPECT_TRUE(schema_problems(spec()).empty()) << lines(schema_problems(spec()));
}

TEST_F(OpenApiSpec, EveryPathParameterIsDeclaredAndRequired) {
  const std::regex param(R"(\{([^}]+)\})");
  const json paths = at("/paths");
  for (const auto& [path, item] : paths.items()) {
    std::set<std::string> in_path;
    for (std::sregex_iterator it(path.begin(), path.end(), param), end; it != end; ++it)
      in_path.insert((*it)[1]);
    std::set<std::string> declared;
    for (const auto& p : item.value("parameters", json::array())) {
      json d = deref(p);
      if (d.value("in", "") != "path") continue;
      declared.insert(d.value("name", ""));
      EXPECT_EQ(d.value("required", false), true) << path << ": " << d.value("name", "");
    }
    for (const auto& m : kMethods) {
      if (!item.contains(m)) continue;
      for (const auto& p : item[m].value("parameters", json::array())) {
        EXPECT_NE(deref(p).value("in", ""), "path")
            << path << ": path parameters go on the path item";
      }
    }
    EXPECT_EQ(declared, in_path) << path;
  }
}

TEST_F(OpenApiSpec, EveryOperationDocumentsItsSuccessAndTheErrorShape) {
  const json error_ref = {{"$ref", "#/components/schemas/Error"}};
  each_operation([&](const std::string& m, const std::string& path, const json& op) {
    const std::string where = upper(m) + " " + path;
    const std::string id = op.value("operationId", "");
    const json responses = op.value("responses", json::object());
    std::set<std::string> successes;
    for (const auto& [status, r] : responses.items()) {
      const json resp = deref(r);
      ASSERT_TRUE(resp.is_object()) << where << " " << status;
      EXPECT_TRUE(resp.value("description", json()).is_string()) << where << " " << status;
      EXPECT_TRUE(resp.value("headers", json()).contains("X-Request-Id")) << where << " " << status;
      if (status[0] == '2' || status == "101") {
        successes.insert(status);
        continue;
      }
      if (status == "304") {
        // Only a conditional GET: its 200 names the ETag to send back.
        const json ok = deref(responses.value("200", json::object()));
        EXPECT_TRUE(ok.value("headers", json::object()).contains("ETag"))
            << where << " 304 without an ETag on its 200";
        EXPECT_FALSE(resp.contains("content")) << where << " 304 has no body";
        continue;
      }
      EXPECT_TRUE(status == "default" || status[0] == '4' || status[0] == '5')
          << where << " " << status;
      EXPECT_EQ(resp.value(json::json_pointer("/content/application~1json/schema"), json()),
                error_ref)
          << where << " " << status << ": errors answer the Error schema";
      if (status == "503") {
        EXPECT_TRUE(resp.value("headers", json()).contains("Retry-After"))
            << where << " 503 lacks Retry-After";
      }
    }
    if (kOwnSuccesses.count(id)) {
      EXPECT_EQ(successes, kOwnSuccesses.at(id)) << where;
    } else {
      EXPECT_EQ(successes.size(), 1u) << where << ": one success status";
      EXPECT_FALSE(successes.count("101")) << where << ": only the terminal switches protocols";
    }
    EXPECT_TRUE(responses.contains("default")) << where;
    if (!anonymous(op)) {
      EXPECT_TRUE(responses.contains("401")) << where << ": needs a token, so may answer 401";
    }
  });
}

TEST_F(OpenApiSpec, RequestBodiesRefuseUnknownFieldsAsTheDecodersDo) {
  int bodies = 0;
  each_operation([&](const std::string& m, const std::string& path, const json& op) {
    if (!op.contains("requestBody")) return;
    const json content = op.at("requestBody").value("content", json());
    for (const auto& [type, media] : content.items()) {
      if (type.find("json") == std::string::npos) continue;
      ++bodies;
      const json schema = deref(media.value("schema", json()));
      EXPECT_EQ(schema.value("type", json()), "object") << upper(m) << " " << path << " " << type;
      EXPECT_EQ(schema.value("additionalProperties", json()), false)
          << upper(m) << " " << path << " " << type;
    }
  });
  EXPECT_GE(bodies, 9);
}

// ---- The codec's answers against their schemas.

json schema(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

void expect_fits(const std::string& name, const std::string& encoded) {
  json value = json::parse(encoded, nullptr, false);
  ASSERT_FALSE(value.is_discarded()) << encoded;
  auto errors = validate(spec(), schema(name), value);
  EXPECT_TRUE(errors.empty()) << name << ":" << lines(errors) << "\n" << value.dump(2);
}

SandboxRecord rich_sandbox() {
  SandboxRecord r;
  r.id = "web1";
  r.status = SandboxStatus::kError;
  r.image = "sandboxed-sandbox:0.1.0";
  r.container_name = "sandboxd-s-web1";
  r.container_id = "c0ffee";
  r.ports = {3000, 5173};
  r.env = {{"KEY", "secret-value"}};
  r.metadata = {{"team", "blue"}, {"env.stage", "prod"}};
  r.pending_restart = {"memory", "cpus"};
  r.limits = {512LL << 20, 256, 1024, 1LL << 30, 1500};
  r.uid = 0x70000001;
  r.error_message = "the container exited";
  r.created_at = r.updated_at = r.started_at = r.stopped_at = r.last_active_at = 1'700'000'000'000;
  r.last_active_source = Trigger::kPreview;
  r.keepalive_until = 1'700'000'600'000;
  r.stop_reason = "idle";
  return r;
}

TEST_F(OpenApiSpec, SandboxAnswersFitTheirSchemas) {
  Config config;
  SandboxRecord bare;
  bare.id = "a1";
  IdleInfo idle{2100, 0, 0, "not running (creating)"};
  SandboxUsage no_usage;
  AppView no_app;
  expect_fits("Sandbox", encode_sandbox(bare, config, &idle, &no_usage, &no_app));
  expect_fits("SandboxSummary", encode_sandbox(bare, config));

  const SandboxRecord rich = rich_sandbox();
  IdleInfo later{2100, 1'700'000'100'000, 1'700'000'200'000, "idle since ..."};
  SandboxUsage usage;
  usage.disk_used_bytes = 4096;
  usage.container.memory_bytes = 1 << 20;
  usage.container.cpu_usec = 1'500'000;
  AppView app;
  app.state.state = "crashed";
  app.state.port = 3000;
  app.state.restarts = 4;
  app.state.exit_code = 1;
  app.state.last_exit_at = app.state.started_at = app.state.updated_at = 1'700'000'000'000;
  app.log_tail = "Error: boom\n";
  expect_fits("Sandbox", encode_sandbox(rich, config, &later, &usage, &app));
  app.state.exit_code.reset();
  app.state.exit_signal = 9;
  expect_fits("Sandbox", encode_sandbox(rich, config, &later, &usage, &app));

  ListResult page{{bare, rich}, "web1"};
  expect_fits("SandboxList", encode_sandbox_list(page, config, true));
  expect_fits("SandboxList", encode_sandbox_list(ListResult{}, config, true));
  // The list's items are summaries: no idle, usage or app.
  json full = json::parse(encode_sandbox(bare, config, &idle, &no_usage, &no_app));
  EXPECT_FALSE(
      validate(spec(), schema("Sandbox"), json::parse(encode_sandbox(bare, config))).empty());
  EXPECT_TRUE(full.contains("idle") && full.contains("usage") && full.contains("app"));
}

TEST_F(OpenApiSpec, ExecFilePurgeSnapshotAndErrorAnswersFitTheirSchemas) {
  ExecResult exec;
  exec.exit_code = 3;
  exec.stdout_data = "hi\n";
  exec.timed_out = true;
  exec.duration_ms = 12;
  expect_fits("ExecResult", encode_exec(exec));
  expect_fits("Purge", encode_purge(123456));
  expect_fits("FileWritten", encode_file_written("workspace/app/a.txt", 5, true));

  FileNode text{"file", 5, 1'700'000'000'000, "hello", {}, false};
  expect_fits("FileNode", encode_file_node("a.txt", text));
  EXPECT_EQ(json::parse(encode_file_node("a.txt", text))["encoding"], "utf8");
  FileNode binary{"file", 2, 0, std::string("\xff\x00", 2), {}, false};
  expect_fits("FileNode", encode_file_node("b.bin", binary));
  EXPECT_EQ(json::parse(encode_file_node("b.bin", binary))["encoding"], "base64");
  FileNode dir{"dir", 0, 1'700'000'000'000, "", {{"a.txt", "file", 5, 1}, {"l", "symlink", 0, 0}},
               true};
  expect_fits("FileNode", encode_file_node("", dir));
  expect_fits("FileNode", encode_file_node("empty", FileNode{"dir", 0, 0, "", {}, false}));

  SnapshotRecord snap{"01snap", "first", "web1", "", 100, 2, 1'700'000'000'000};
  SnapshotRecord tmpl{"01tmpl", "", "", "stamp", 100, 2, 0};
  expect_fits("Snapshot", encode_snapshot(snap));
  expect_fits("Snapshot", encode_snapshot(tmpl));
  expect_fits("SnapshotList", encode_snapshot_list({snap, tmpl}));
  expect_fits("SnapshotList", encode_snapshot_list({}));

  for (Code c : {Code::kInvalidArgument, Code::kNotFound, Code::kConflict, Code::kTooLarge,
                 Code::kUnauthorized, Code::kForbidden, Code::kUnsupportedMediaType,
                 Code::kUnavailable, Code::kCapacity, Code::kTimeout, Code::kInternal})
    expect_fits("Error", encode_error(Status(c, "what to fix"), "0123abcd"));
}

TEST_F(OpenApiSpec, TaskAnswersAndEventDataFitTheirSchemas) {
  TaskRecord running;
  running.id = "01task";
  running.sandbox_id = "web1";
  running.agent = Agent::kClaude;
  running.created_at = running.started_at = 1'700'000'000'000;
  expect_fits("Task", encode_task(running));

  TaskRecord done = running;
  done.status = TaskStatus::kFailed;
  done.failure_reason = FailureReason::kAgentTimeout;
  done.error_message = "timed out";
  done.final_message = "partial";
  done.files_changed = {"hello.txt"};
  done.exit_code = 137;
  done.env_keys = {"ANTHROPIC_API_KEY"};
  done.checkpoint_id = "01snap";
  done.cancel_requested = true;
  done.finished_at = done.started_at + 1234;
  AgentTally tally;
  tally.input_tokens = 10;
  tally.cost_usd = 0.25;
  done.usage_json = tally.usage_json();
  expect_fits("Task", encode_task(done));
  expect_fits("TaskList", encode_task_list({running, done}));
  expect_fits("TaskUsage", tally.usage_json());

  // The agents' normalized events, as stored for the stream.
  const std::map<std::string, std::string> by_type = {{"status", "TaskEventStatus"},
                                                      {"message", "TaskEventMessage"},
                                                      {"tool", "TaskEventTool"},
                                                      {"usage", "TaskEventUsage"},
                                                      {"error", "TaskEventError"}};
  AgentTally t;
  std::set<std::string> seen;
  for (const char* line :
       {R"({"type":"system","subtype":"init","model":"claude-sonnet-4-5"})",
        R"({"type":"assistant","message":{"content":[{"type":"text","text":"hi"},)"
        R"({"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"a"}}]}})",
        R"({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1",)"
        R"("content":"ok","is_error":false}]}})",
        R"({"type":"result","result":"done","is_error":true,"total_cost_usd":0.1,)"
        R"("usage":{"input_tokens":5,"output_tokens":7}})"}) {
    for (const auto& e : normalize_agent_line(Agent::kClaude, line, t)) {
      ASSERT_TRUE(by_type.count(e.type)) << "an event type the spec does not name: " << e.type;
      seen.insert(e.type);
      expect_fits(by_type.at(e.type), e.data_json);
    }
  }
  EXPECT_EQ(seen.size(), by_type.size()) << "every event type was exercised";
  const std::string done_event =
      R"({"id":"01task","status":"failed","failure_reason":"agent_timeout","error":"",)"
      R"("final_message":"","files_changed":[],"usage":{},"exit_code":null,"duration_ms":5})";
  expect_fits("TaskEventDone", done_event);
}

TEST_F(OpenApiSpec, ProcessAnswersFitTheirSchemas) {
  ProcessRecord starting;
  starting.id = "01proc";
  starting.sandbox_id = "web1";
  starting.cmd = {"npm", "run", "dev"};
  starting.workdir = "/home/sandbox/workspace/app";
  starting.started_at = 1'700'000'000'000;
  expect_fits("Process", encode_process(starting));

  ProcessRecord exited = starting;
  exited.state = ProcessState::kExited;
  exited.os_pid = 42;
  exited.exit_code = 0;
  exited.timeout_s = 60;
  exited.ended_at = starting.started_at + 5;
  ProcessRecord killed = exited;
  killed.exit_code.reset();
  killed.signal = 9;
  killed.timed_out = true;
  ProcessRecord stopped = exited;
  stopped.state = ProcessState::kStopped;
  stopped.exit_code.reset();
  ProcessRecord lost = starting;
  lost.state = ProcessState::kLost;
  lost.ended_at = starting.started_at;
  for (const ProcessRecord& p : {exited, killed, stopped, lost})
    expect_fits("Process", encode_process(p));
  expect_fits("ProcessList", encode_process_list({starting, exited, killed, stopped, lost}));
  expect_fits("ProcessList", encode_process_list({}));
  // Every state is a word of the schema's enum, and the schema has no other.
  std::set<std::string> states;
  for (auto s :
       {ProcessState::kRunning, ProcessState::kExited, ProcessState::kStopped, ProcessState::kLost})
    states.insert(std::string(to_string(s)));
  EXPECT_EQ(at("/components/schemas/ProcessState/enum").get<std::set<std::string>>(), states);
}

// ---- Answers of the served routes, through a server on a loopback port.

struct SseFrame {
  std::string event;
  std::string data;
};

// The frames of a text/event-stream body whose fields are `event:` and `data:` (one line
// each, as sandboxd writes them); comments are skipped.
std::vector<SseFrame> sse_frames(const std::string& body) {
  std::vector<SseFrame> frames;
  std::size_t pos = 0;
  for (std::size_t end; (end = body.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
    SseFrame f;
    std::istringstream lines(body.substr(pos, end - pos));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("event: ", 0) == 0) f.event = line.substr(7);
      if (line.rfind("data: ", 0) == 0) f.data = line.substr(6);
    }
    if (!f.event.empty()) frames.push_back(f);
  }
  return frames;
}

// Each frame's data against the event schema the operation's 200 event stream names for
// its type; the types in order.
std::vector<std::string> expect_events_fit(const std::string& operation_ptr,
                                           const std::vector<SseFrame>& frames) {
  const json schemas =
      at(operation_ptr + "/responses/200/content/text~1event-stream/x-event-schemas");
  std::vector<std::string> types;
  for (const auto& f : frames) {
    types.push_back(f.event);
    if (!schemas.contains(f.event)) {
      ADD_FAILURE() << operation_ptr << ": an event type the spec does not name: " << f.event;
      continue;
    }
    json data = json::parse(f.data, nullptr, false);
    auto errors = validate(spec(), schemas[f.event], data);
    EXPECT_TRUE(errors.empty()) << f.event << ":" << lines(errors) << "\n" << f.data;
  }
  return types;
}

void expect_answer_fits(const std::string& method, const std::string& path_template,
                        const httplib::Result& r) {
  ASSERT_TRUE(r) << method << " " << path_template << ": no answer";
  json body = json::parse(r->body, nullptr, false);
  auto errors = validate_response(spec(), method, path_template, r->status, body);
  EXPECT_TRUE(errors.empty()) << method << " " << path_template << " " << r->status << ":"
                              << lines(errors) << "\n"
                              << r->body;
}

class OpenApiServed : public OpenApiSpec {
 protected:
  void SetUp() override {
    OpenApiSpec::SetUp();
    h_.config.http_threads = 4;
    h_.init();
    h_.create("xs");
    procs_ = std::make_unique<ProcessService>(h_.config, *h_.store, *h_.service, *h_.workspaces,
                                              h_.clock);
    server_ = std::make_unique<ApiServer>(h_.config, *h_.service, auth_, h_.clock, h_.metrics,
                                          nullptr, procs_.get());
    ASSERT_TRUE(server_->start("127.0.0.1", 0).is_ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(5, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  ServiceHarness h_{"openapi-served"};
  Authenticator auth_{true, {}};
  std::unique_ptr<ProcessService> procs_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(OpenApiServed, ExecAnswersAndTheEventsOfAStreamedExecFitTheSpec) {
  const std::string exec = R"({"cmd":["sh","-c","echo hi; echo café >&2; exit 3"]})";
  expect_answer_fits("POST", "/v1/sandboxes/{id}/exec",
                     client_->Post("/v1/sandboxes/xs/exec", exec, "application/json"));

  // The second stderr piece ends inside "é": the framing carries the byte to the next.
  h_.runtime.script_session({{ExecSession::Stream::kStdout, "hi\n"},
                             {ExecSession::Stream::kStderr, "caf\xc3"},
                             {ExecSession::Stream::kStderr, "\xa9\n"}},
                            3);
  auto streamed = client_->Post("/v1/sandboxes/xs/exec", {{"Accept", "text/event-stream"}}, exec,
                                "application/json");
  ASSERT_TRUE(streamed);
  EXPECT_EQ(streamed->status, 200) << streamed->body;
  EXPECT_EQ(streamed->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  auto frames = sse_frames(streamed->body);
  EXPECT_EQ(expect_events_fit("/paths/~1v1~1sandboxes~1{id}~1exec/post", frames),
            (std::vector<std::string>{"stdout", "stderr", "stderr", "exit"}))
      << streamed->body;
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(json::parse(frames.back().data)["exit_code"], 3);
  // The engine's failure mid-way, as exec_stream.cpp words it.
  expect_fits("ExecErrorEvent", R"({"error":{"code":"unavailable","message":"dockerd left"}})");
}

TEST_F(OpenApiServed, BackgroundProcessAnswersAndTheirOutputEventsFitTheSpec) {
  // The launch writes the pid file, as sandbox-run does at once.
  h_.runtime.hook = [&](const std::string& verb, const std::string&) {
    if (verb != "exec") return;
    auto procs = h_.store->list_processes("xs");
    ASSERT_TRUE(procs);
    for (const auto& p : *procs)
      ASSERT_TRUE(
          h_.service->put_file("xs", ".sandboxed/procs/" + p.id + "/pid", "42\n", false).is_ok());
  };
  auto started =
      client_->Post("/v1/sandboxes/xs/exec", R"({"cmd":["npm","run","dev"],"background":true})",
                    "application/json");
  expect_answer_fits("POST", "/v1/sandboxes/{id}/exec", started);
  ASSERT_EQ(started->status, 202) << started->body;
  const json p = json::parse(started->body);
  EXPECT_EQ(p["pid"], 42);
  const std::string path = "/v1/sandboxes/xs/processes/" + p["id"].get<std::string>();
  EXPECT_EQ(started->get_header_value("Location"), path);
  ASSERT_TRUE(h_.service
                  ->put_file("xs", ".sandboxed/procs/" + p["id"].get<std::string>() + "/stdout.log",
                             "listening\n", false)
                  .is_ok());

  expect_answer_fits("GET", "/v1/sandboxes/{id}/processes",
                     client_->Get("/v1/sandboxes/xs/processes"));
  expect_answer_fits("GET", "/v1/sandboxes/{id}/processes/{pid}", client_->Get(path));
  auto output = client_->Get(path + "/output?tail=5");
  expect_answer_fits("GET", "/v1/sandboxes/{id}/processes/{pid}/output", output);
  EXPECT_EQ(json::parse(output->body)["stdout"], "ning\n");
  expect_answer_fits("DELETE", "/v1/sandboxes/{id}/processes/{pid}",
                     client_->Delete(path + "?signal=QUIT"));

  // It ends (sandbox-run writes exit.json); a follower gets the output, then the exit.
  ASSERT_TRUE(h_.service
                  ->put_file("xs", ".sandboxed/procs/" + p["id"].get<std::string>() + "/exit.json",
                             R"({"exit_code":0})", false)
                  .is_ok());
  procs_->poll_once();
  auto followed = client_->Get(path + "/output?follow=true");
  ASSERT_TRUE(followed);
  EXPECT_EQ(followed->status, 200) << followed->body;
  auto frames = sse_frames(followed->body);
  EXPECT_EQ(expect_events_fit("/paths/~1v1~1sandboxes~1{id}~1processes~1{pid}~1output/get", frames),
            (std::vector<std::string>{"stdout", "exit"}))
      << followed->body;
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(json::parse(frames.back().data)["state"], "exited");
  auto again = client_->Delete(path);
  expect_answer_fits("DELETE", "/v1/sandboxes/{id}/processes/{pid}", again);
  EXPECT_EQ(again->status, 409);
}

// ---- The validator itself.

struct Case {
  const char* schema;
  const char* value;
  bool valid;
};

TEST(OpenApiValidator, AcceptsAndRejectsByKeyword) {
  const json tiny = json::parse(R"({"components":{"schemas":{
      "T":{"type":"string"},
      "Loop":{"$ref":"#/components/schemas/Loop"}}}})");
  const Case cases[] = {
      {R"({"type":"integer"})", "3", true},
      {R"({"type":"integer"})", "3.0", true},
      {R"({"type":"integer"})", "3.5", false},
      {R"({"type":"integer"})", R"("3")", false},
      {R"({"type":"number"})", "3.5", true},
      {R"({"type":"number"})", "3", true},
      {R"({"type":"number"})", "true", false},
      {R"({"type":"boolean"})", "0", false},
      {R"({"type":["string","null"]})", "null", true},
      {R"({"type":["string","null"]})", R"("a")", true},
      {R"({"type":["string","null"]})", "1", false},
      {R"({"type":"object","required":["a"]})", R"({"a":1})", true},
      {R"({"type":"object","required":["a"]})", R"({"b":1})", false},
      {R"({"type":"object","required":["a"]})", "[]", false},
      {R"({"properties":{"a":{"type":"string"}}})", R"({"a":"x","b":1})", true},
      {R"({"properties":{"a":{"type":"string"}}})", R"({"a":1})", false},
      {R"({"properties":{"a":{}},"additionalProperties":false})", R"({"a":1})", true},
      {R"({"properties":{"a":{}},"additionalProperties":false})", R"({"a":1,"b":2})", false},
      {R"({"additionalProperties":{"type":"string"}})", R"({"k":"v"})", true},
      {R"({"additionalProperties":{"type":"string"}})", R"({"k":null})", false},
      {R"({"propertyNames":{"pattern":"^[a-z]+$"}})", R"({"ab":1})", true},
      {R"({"propertyNames":{"pattern":"^[a-z]+$"}})", R"({"aB":1})", false},
      {R"({"maxProperties":1})", R"({"a":1})", true},
      {R"({"maxProperties":1})", R"({"a":1,"b":2})", false},
      {R"({"items":{"type":"integer"}})", "[1,2]", true},
      {R"({"items":{"type":"integer"}})", R"([1,"2"])", false},
      {R"({"minItems":1,"maxItems":2})", "[]", false},
      {R"({"minItems":1,"maxItems":2})", "[1,2,3]", false},
      {R"({"uniqueItems":true})", "[1,2]", true},
      {R"({"uniqueItems":true})", "[1,1]", false},
      {R"({"enum":["a",null]})", "null", true},
      {R"({"enum":["a",null]})", R"("b")", false},
      {R"({"const":true})", "true", true},
      {R"({"const":true})", "false", false},
      {R"({"minimum":1,"maximum":3})", "1", true},
      {R"({"minimum":1,"maximum":3})", "0", false},
      {R"({"minimum":1,"maximum":3})", "3.5", false},
      {R"({"minimum":1,"maximum":3})", R"("not a number")", true},
      {R"({"exclusiveMinimum":0})", "0", false},
      {R"({"maxLength":2})", R"("éé")", true},  // code points, not bytes
      {R"({"maxLength":2})", R"("abc")", false},
      {R"({"minLength":1})", R"("")", false},
      {R"({"pattern":"^a+$"})", R"("aaa")", true},
      {R"({"pattern":"^a+$"})", R"("ab")", false},
      {R"({"pattern":"b"})", R"("abc")", true},  // unanchored, as JSON Schema says
      {R"({"$ref":"#/components/schemas/T"})", R"("x")", true},
      {R"({"$ref":"#/components/schemas/T"})", "1", false},
      {R"({"$ref":"#/components/schemas/Missing"})", R"("x")", false},
      {R"({"$ref":"#/components/schemas/Loop"})", "1", false},
      {R"({"oneOf":[{"type":"integer"},{"type":"number"}]})", "1.5", true},
      {R"({"oneOf":[{"type":"integer"},{"type":"number"}]})", "1", false},
      {R"({"oneOf":[{"type":"integer"},{"type":"number"}]})", R"("x")", false},
      {R"({"anyOf":[{"type":"integer"},{"type":"number"}]})", "1", true},
      {R"({"anyOf":[{"type":"integer"},{"type":"null"}]})", R"("x")", false},
      {R"({"allOf":[{"required":["a"]},{"required":["b"]}]})", R"({"a":1,"b":2})", true},
      {R"({"allOf":[{"required":["a"]},{"required":["b"]}]})", R"({"a":1})", false},
      {R"({"not":{"type":"null"}})", "1", true},
      {R"({"not":{"type":"null"}})", "null", false},
      {"true", "1", true},
      {"false", "1", false},
      {R"({"description":"annotations only","format":"date-time"})", R"("x")", true},
      {R"({"patternProperties":{"^a":{"type":"string"}}})", R"({"a":"x"})", false},
  };
  for (const auto& c : cases) {
    auto errors = validate(tiny, json::parse(c.schema), json::parse(c.value));
    EXPECT_EQ(errors.empty(), c.valid) << c.schema << " with " << c.value << ":" << lines(errors);
  }
}

TEST(OpenApiValidator, ErrorsNameTheJsonPointerOfTheBadValue) {
  const json schema = json::parse(R"({"properties":{"a/b":{"items":{"type":"integer"}}}})");
  auto errors = validate(json::object(), schema, json::parse(R"({"a/b":[1,"x"]})"));
  ASSERT_EQ(errors.size(), 1u) << lines(errors);
  EXPECT_EQ(errors[0].rfind("/a~1b/1: ", 0), 0u) << errors[0];
}

TEST(OpenApiValidator, ResponsesAreFoundByStatusRangeOrDefault) {
  const json tiny = json::parse(R"({"paths":{"/x/{id}":{"get":{"responses":{
      "200":{"content":{"application/json":{"schema":{"required":["ok"]}}}},
      "4XX":{"content":{"application/json":{"schema":{"required":["four"]}}}},
      "default":{"$ref":"#/components/responses/E"}}}}},
      "components":{"responses":{"E":{"content":{"application/json":{"schema":
        {"required":["error"]}}}}}}})");
  EXPECT_TRUE(validate_response(tiny, "GET", "/x/{id}", 200, {{"ok", 1}}).empty());
  EXPECT_FALSE(validate_response(tiny, "GET", "/x/{id}", 200, {{"no", 1}}).empty());
  EXPECT_TRUE(validate_response(tiny, "GET", "/x/{id}", 404, {{"four", 1}}).empty());
  EXPECT_FALSE(validate_response(tiny, "GET", "/x/{id}", 404, {{"error", 1}}).empty());
  EXPECT_TRUE(validate_response(tiny, "GET", "/x/{id}", 503, {{"error", 1}}).empty());
  EXPECT_FALSE(validate_response(tiny, "GET", "/x/{id}", 503, {{"ok", 1}}).empty());
  // A success the spec does not document is an error, not a fall back to default.
  EXPECT_FALSE(validate_response(tiny, "GET", "/x/{id}", 201, {{"error", 1}}).empty());
  EXPECT_FALSE(validate_response(tiny, "POST", "/x/{id}", 200, {{"ok", 1}}).empty());
  EXPECT_FALSE(validate_response(tiny, "GET", "/y", 200, {{"ok", 1}}).empty());
}

}  // namespace
}  // namespace sandboxd
