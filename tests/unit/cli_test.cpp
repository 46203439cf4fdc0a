// The client commands' pure parts: where the API is and which token to send, the error
// line, the SSE parser, and what people see (tables, fields, task events).
#include <gtest/gtest.h>

#include "cli/client.h"
#include "cli/render.h"

namespace sandboxd::cli {
namespace {

TEST(CliClientConfigTest, DefaultsToLoopbackWithoutToken) {
  auto c = resolve_client_config({}, {});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->url, "http://127.0.0.1:9090");
  EXPECT_EQ(c->token, "");
}

TEST(CliClientConfigTest, ResolvesUrlAndTokenByPrecedence) {
  struct Case {
    const char* name;
    EnvMap process, file;
    std::string url, token;
  };
  const std::string s1 = "secret-one-0123456789", s2 = "secret-two-0123456789";
  std::vector<Case> cases = {
      {"explicit url and token",
       {{"SANDBOXD_URL", "http://10.0.0.1:8080"}, {"SANDBOXD_TOKEN", "t"}},
       {},
       "http://10.0.0.1:8080",
       "t"},
      {"from the file",
       {},
       {{"SANDBOXD_URL", "http://h:1"}, {"SANDBOXD_TOKEN", "f"}},
       "http://h:1",
       "f"},
      {"process wins over file",
       {{"SANDBOXD_URL", "http://p:1"}, {"SANDBOXD_TOKEN", "p"}},
       {{"SANDBOXD_URL", "http://f:1"}, {"SANDBOXD_TOKEN", "f"}},
       "http://p:1",
       "p"},
      {"empty process value falls back to the file",
       {{"SANDBOXD_URL", ""}, {"SANDBOXD_TOKEN", " "}},
       {{"SANDBOXD_URL", "http://f:1"}, {"SANDBOXD_TOKEN", "f"}},
       "http://f:1",
       "f"},
      {"bind and token list",
       {},
       {{"SANDBOXED_API_BIND", "127.0.0.1:9999"},
        {"SANDBOXD_API_TOKENS", "op:" + s1 + ",ci:" + s2}},
       "http://127.0.0.1:9999",
       s1},
      {"explicit url in the file beats a bind in the process",
       {{"SANDBOXED_API_BIND", "127.0.0.1:1"}},
       {{"SANDBOXD_URL", "http://f:2"}},
       "http://f:2",
       ""},
      {"token beats the token list",
       {{"SANDBOXD_API_TOKENS", "op:" + s1}},
       {{"SANDBOXD_TOKEN", "t"}},
       "http://127.0.0.1:9090",
       "t"},
      {"wildcard bind becomes loopback",
       {{"SANDBOXED_API_BIND", "0.0.0.0:9090"}},
       {},
       "http://127.0.0.1:9090",
       ""},
      {"IPv6 wildcard bind", {{"SANDBOXED_API_BIND", "[::]:9090"}}, {}, "http://[::1]:9090", ""},
      {"IPv6 bind", {{"SANDBOXED_API_BIND", "[::1]:7"}}, {}, "http://[::1]:7", ""},
      {"name=secret token",
       {{"SANDBOXD_API_TOKENS", " op=" + s1 + " "}},
       {},
       "http://127.0.0.1:9090",
       s1},
      {"trailing slashes dropped, prefix kept",
       {{"SANDBOXD_URL", "https://api.example/sbx//"}},
       {},
       "https://api.example/sbx",
       ""},
  };
  for (const auto& c : cases) {
    auto got = resolve_client_config(c.process, c.file);
    ASSERT_TRUE(got) << c.name << ": " << got.error().message();
    EXPECT_EQ(got->url, c.url) << c.name;
    EXPECT_EQ(got->token, c.token) << c.name;
  }
}

TEST(CliClientConfigTest, RefusesMalformedValuesNamingTheVariableNotTheSecret) {
  struct Case {
    EnvMap env;
    std::string names;
  };
  std::vector<Case> cases = {
      {{{"SANDBOXD_URL", "127.0.0.1:9090"}}, "SANDBOXD_URL"},
      {{{"SANDBOXD_URL", "ftp://h"}}, "SANDBOXD_URL"},
      {{{"SANDBOXD_URL", "http://"}}, "SANDBOXD_URL"},
      {{{"SANDBOXD_URL", "http://h/x?y=1"}}, "SANDBOXD_URL"},
      {{{"SANDBOXED_API_BIND", "9090"}}, "SANDBOXED_API_BIND"},
      {{{"SANDBOXED_API_BIND", "h:x"}}, "SANDBOXED_API_BIND"},
      {{{"SANDBOXD_API_TOKENS", "nosecret"}}, "SANDBOXD_API_TOKENS"},
      {{{"SANDBOXD_URL", "http://user:nosecret@h:1"}}, "SANDBOXD_URL"},
  };
  for (const auto& c : cases) {
    auto got = resolve_client_config(c.env, {});
    ASSERT_FALSE(got) << c.names;
    EXPECT_EQ(got.error().code(), Code::kInvalidArgument);
    EXPECT_NE(got.error().message().find(c.names), std::string::npos) << got.error().message();
    EXPECT_EQ(got.error().message().find("nosecret"), std::string::npos) << got.error().message();
  }
}

TEST(CliClientConfigTest, ChoosesTheEnvFileOptionThenVariableThenDotEnv) {
  EnvMap with_var = {{"SANDBOXED_ENV_FILE", "/opt/sandboxed/.env"}};
  auto opt = choose_env_file("my.env", with_var);
  EXPECT_EQ(opt.path, "my.env");
  EXPECT_TRUE(opt.required);
  auto var = choose_env_file("", with_var);
  EXPECT_EQ(var.path, "/opt/sandboxed/.env");
  EXPECT_FALSE(var.required);
  auto dflt = choose_env_file("", {{"SANDBOXED_ENV_FILE", ""}});
  EXPECT_EQ(dflt.path, ".env");
  EXPECT_FALSE(dflt.required);
}

TEST(CliClientConfigTest, ExplicitEnvFileMustExist) {
  auto c = load_client_config("/nonexistent/sandboxd-cli-test.env");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("--env-file"), std::string::npos);
}

TEST(CliUrlEncodeTest, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(url_encode("a-Z_0.~"), "a-Z_0.~");
  EXPECT_EQ(url_encode("workspace/app/a b&c=d"), "workspace%2Fapp%2Fa%20b%26c%3Dd");
  EXPECT_EQ(url_encode("../x"), "..%2Fx");
  EXPECT_EQ(url_encode("\xc3\xa9"), "%C3%A9");
}

TEST(CliApiErrorTest, NamesMessageCodeStatusAndRequestId) {
  HttpAnswer a{404, R"({"error":{"code":"not_found","message":"no sandbox x","request_id":"r1"}})",
               "application/json", "hdr", ""};
  EXPECT_EQ(describe_api_error(a), "no sandbox x (code not_found, HTTP 404, request r1)");
  HttpAnswer busy{503, R"({"error":{"code":"unavailable","message":"low memory"}})", "", "r2", "5"};
  EXPECT_EQ(describe_api_error(busy),
            "low memory (code unavailable, HTTP 503, request r2); retry after 5 s");
  HttpAnswer proxy{502, "<html>Bad Gateway</html>\nmore", "text/html", "", ""};
  EXPECT_EQ(describe_api_error(proxy), "<html>Bad Gateway</html> (HTTP 502)");
  HttpAnswer escape{400, "{\"error\":{\"message\":\"bad \\u001b[31m\"}}", "", "", ""};
  EXPECT_EQ(describe_api_error(escape).find('\x1b'), std::string::npos);
}

TEST(CliSseParserTest, ParsesFramesSplitAnywhere) {
  const std::string stream =
      ": keepalive\n\nid: 1\nevent: status\ndata: {\"phase\":\"starting\"}\n\n"
      "id: 2\r\nevent: message\r\ndata: line1\r\ndata: line2\r\n\r\n"
      "id: 3\nevent: done\ndata:{\"status\":\"succeeded\"}\n\n";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SseParser p;
    auto a = p.feed(std::string_view(stream).substr(0, split));
    auto b = p.feed(std::string_view(stream).substr(split));
    a.insert(a.end(), b.begin(), b.end());
    ASSERT_EQ(a.size(), 3u) << "split at " << split;
    EXPECT_EQ(a[0].id, "1");
    EXPECT_EQ(a[0].event, "status");
    EXPECT_EQ(a[0].data, "{\"phase\":\"starting\"}");
    EXPECT_EQ(a[1].data, "line1\nline2");
    EXPECT_EQ(a[2].event, "done");
    EXPECT_EQ(a[2].data, "{\"status\":\"succeeded\"}");
  }
}

TEST(CliSseParserTest, AnEventWithoutDataOrEndIsNotDelivered) {
  SseParser p;
  EXPECT_TRUE(p.feed("event: x\n\nid: 5\nevent: y\ndata: z\n").empty());
  auto e = p.feed("\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].event, "y");
  EXPECT_EQ(SseParser().feed("data: d\n\n")[0].event, "message");
}

TEST(CliRenderTest, TableAlignsColumnsAndTrimsTheLastOne) {
  EXPECT_EQ(format_table({{"ID", "STATUS", "X"}, {"a", "running", ""}, {"longer-id", "-", "z"}}),
            "ID         STATUS   X\n"
            "a          running\n"
            "longer-id  -        z\n");
}

TEST(CliRenderTest, TableCountsUtf8CharactersAndNeutralisesControls) {
  std::string t = format_table({{"K", "V"}, {"\xc3\xa9t\xc3\xa9", "x"}, {"e\x1b[2J", "y"}});
  EXPECT_EQ(t, "K      V\n\xc3\xa9t\xc3\xa9    x\ne?[2J  y\n");
  EXPECT_EQ(terminal_safe("a\xc2\x9b"
                          "31m\tb\nc"),
            "a?31m b c");
  EXPECT_EQ(terminal_safe("a\tb\nc\r", true), "a\tb\nc?");
}

TEST(CliRenderTest, SandboxListKeepsTheLsColumnsAndCountsByStatus) {
  json list = json::parse(R"([
    {"id":"demo","status":"running","ports":[3000,5173],"idle_policy":"sleep",
     "last_active_at":"2025-01-01T00:00:00.000Z","stop_reason":null,"metadata":{}},
    {"id":"b2","status":"stopped","ports":[],"idle_policy":"always_on",
     "last_active_at":null,"stop_reason":"idle","metadata":{}}])");
  int64_t now = *parse_rfc3339_ms("2025-01-01T00:01:30.000Z");
  EXPECT_EQ(format_sandbox_list(list, now),
            "ID    STATUS   PORTS      IDLE       ACTIVE   LAST STOP\n"
            "demo  running  3000,5173  sleep      90s ago  -\n"
            "b2    stopped  -          always_on  -        idle\n"
            "2 sandbox(es), 1 running, 1 stopped\n");
  EXPECT_EQ(format_sandbox_list(json::array(), now),
            "ID  STATUS  PORTS  IDLE  ACTIVE  LAST STOP\n0 sandbox(es)\n");
}

TEST(CliRenderTest, SandboxListShowsMetadataWhenAnyHasSome) {
  json list = json::parse(R"([{"id":"a","status":"running","ports":[],"idle_policy":"sleep",
     "metadata":{"owner":"al","team":"x"}}])");
  std::string t = format_sandbox_list(list, 0);
  EXPECT_NE(t.find("METADATA"), std::string::npos);
  EXPECT_NE(t.find("owner=al,team=x"), std::string::npos);
}

TEST(CliRenderTest, SandboxFieldsShowWhatMatters) {
  json s = json::parse(R"({"id":"app1","status":"running","image":"img:1","ports":[3000],
    "previews":[{"port":3000,"url":"http://s-app1-3000.preview.localhost/"}],
    "env_keys":["API_KEY"],"metadata":{"owner":"alice"},"pending_restart":["memory"],
    "idle_policy":"sleep","limits":{"memory_bytes":536870912,"pids":1024,"nofile":8192,
    "disk_bytes":1073741824,"cpus":1.5},"egress":"public","runtime":"runc",
    "created_at":"2025-01-01T00:00:00.000Z","app":{"state":"listening","port":3000,"restarts":0},
    "error_message":"boom","stop_reason":null})");
  std::string f = format_sandbox(s, *parse_rfc3339_ms("2025-01-01T00:05:00Z"));
  for (const char* want :
       {"id:               app1\n", "status:           running\n",
        "previews:         http://s-app1-3000.preview.localhost/\n", "env keys:         API_KEY\n",
        "metadata:         owner=alice\n",
        "limits:           memory 512 MiB, cpus 1.5, pids 1024, nofile 8192, disk 1 GiB\n",
        "pending restart:  memory (applied on the next start: stop, then start)\n",
        "created:          2025-01-01 00:00:00 UTC (5m ago)\n",
        "app:              listening on port 3000\n", "error:            boom\n"})
    EXPECT_NE(f.find(want), std::string::npos) << want << " in\n" << f;
  EXPECT_EQ(f.find("stop reason"), std::string::npos) << "null fields are left out";
}

TEST(CliRenderTest, ParsesTheApisTimesAndAges) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:01.500Z"), 1500);
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:01:00Z"), 60000);
  EXPECT_FALSE(parse_rfc3339_ms("1970-01-01T00:01:00+02:00"));
  EXPECT_FALSE(parse_rfc3339_ms("yesterday"));
  int64_t t0 = *parse_rfc3339_ms("2025-01-01T00:00:00Z");
  json at = "2025-01-01T00:00:00.000Z";
  EXPECT_EQ(age(t0 + 5'000, at), "5s ago");
  EXPECT_EQ(age(t0 + 600'000, at), "10m ago");
  EXPECT_EQ(age(t0 + 3 * 3'600'000, at), "3h ago");
  EXPECT_EQ(age(t0 + 3 * 86'400'000LL, at), "3d ago");
  EXPECT_EQ(age(t0 - 600'000, at), "in 10m");
  EXPECT_EQ(age(t0, json(nullptr)), "-");
}

TEST(CliRenderTest, FormatsBytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(int64_t{2} << 30), "2 GiB");
}

TEST(CliRenderTest, SnapshotsFilesAndTasksAsTables) {
  json snaps = json::parse(R"([{"id":"s1","name":"before","sandbox_id":"app1","template":false,
    "bytes":2048,"files":3,"created_at":null},{"id":"t1","name":"vite","sandbox_id":null,
    "template":true,"bytes":0,"files":0,"created_at":null}])");
  EXPECT_EQ(format_snapshot_list(snaps, 0),
            "ID  NAME    SANDBOX     SIZE   FILES  CREATED\n"
            "s1  before  app1        2 KiB  3      -\n"
            "t1  vite    (template)  0 B    0      -\n");
  json dir = json::parse(R"({"type":"dir","entries":[{"name":"src","type":"dir","size":0},
    {"name":"a.js","type":"file","size":10}],"truncated":true})");
  EXPECT_EQ(format_file_listing(dir, 0),
            "NAME  TYPE  SIZE  MODIFIED\nsrc/  dir   -     -\na.js  file  10 B  -\n"
            "(listing truncated)\n");
  json tasks = json::parse(R"([{"id":"t","status":"failed","agent":"claude",
    "failure_reason":"agent_error","duration_ms":1500,"created_at":null}])");
  EXPECT_EQ(format_task_list(tasks, 0),
            "ID  STATUS  AGENT   CREATED  DURATION  REASON\n"
            "t   failed  claude  -        1.5 s     agent_error\n");
}

TEST(CliRenderTest, TaskEventsAreReadable) {
  auto ev = [](const char* type, const char* data) {
    return format_task_event(type, json::parse(data));
  };
  EXPECT_EQ(ev("message", R"({"role":"assistant","text":"Done.\n\u001b[1mok"})").out,
            "Done.\n?[1mok\n");
  EXPECT_EQ(
      ev("tool", R"({"name":"Bash","status":"started","input":"{\"command\":\"ls -la\"}"})").out,
      "[tool] Bash: ls -la\n");
  EXPECT_EQ(
      ev("tool", R"({"name":"write","status":"completed","input":"{\"filePath\":\"a.txt\"}"})").out,
      "[tool] write: a.txt (completed)\n");
  EXPECT_EQ(ev("tool", R"({"name":"Bash","status":"error","output":"no such file"})").out,
            "[tool] Bash (error): no such file\n");
  EXPECT_EQ(ev("status", R"({"phase":"starting","agent":"claude","model":"m1"})").out,
            "[status] starting (agent claude, model m1)\n");
  auto usage = ev("usage", R"({"input_tokens":5})");
  EXPECT_EQ(usage.out + usage.err, "");
  EXPECT_EQ(ev("error", R"({"message":"rate limited"})").err, "[error] rate limited\n");
  auto ok = ev("done", R"({"status":"succeeded","failure_reason":"","duration_ms":2500,
    "files_changed":["a","b"],"usage":{"input_tokens":10,"output_tokens":2},"error":""})");
  EXPECT_EQ(ok.out, "[done] succeeded in 2.5 s; 2 file(s) changed; 10 tokens in, 2 out\n");
  EXPECT_EQ(ok.err, "");
  auto failed = ev("done", R"({"status":"failed","failure_reason":"agent_timeout",
    "duration_ms":61000,"error":"timed out"})");
  EXPECT_EQ(failed.out, "");
  EXPECT_EQ(failed.err, "[done] failed (agent_timeout) in 1m 1s: timed out\n");
}

}  // namespace
}  // namespace sandboxd::cli
