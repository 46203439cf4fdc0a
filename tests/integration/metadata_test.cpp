// Integration: a sandbox's metadata and PATCH against a real sandboxd and real containers
// (the list filter; env reaching exec and a running app at once; limits that wait for the
// next start, then hold in the new container; bad input that changes nothing; unknown
// fields refused on every route with a body), and the operator conventions: the JSON log
// format with one object per request, the HTTP request metrics, GET /v1/version, and the
// warning for an unknown SANDBOXD_* variable. HTTP goes only to loopback.
#include <gtest/gtest.h>

#include <sstream>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// Answers with the value of $GREETING it was started with.
constexpr const char* kGreeter =
    "require('http').createServer((q, r) => r.end('greeting=' + process.env.GREETING))"
    ".listen(process.env.PORT, process.env.HOST);";

class Metadata : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }
};

httplib::Result patch(Daemon& d, const std::string& id, const json& body) {
  return d.http().Patch("/v1/sandboxes/" + id, body.dump(), "application/json");
}

std::vector<std::string> ids_of(const json& page) {
  std::vector<std::string> ids;
  for (const auto& s : page["sandboxes"]) ids.push_back(s["id"]);
  return ids;
}

TEST_F(Metadata, FilterPatchEnvToTheRunningAppAndLimitsOnTheNextStart) {
  Daemon d("meta");
  d.set_env("SANDBOXD_TEMPLATES_DIR", d.data_dir() + "/no-templates");
  ASSERT_TRUE(d.start());
  auto create = [&](const json& body) {
    return body_of(d.http().Post("/v1/sandboxes", body.dump(), "application/json"), 201);
  };
  json a = create({{"id", "ma"},
                   {"ports", {3000}},
                   {"env", {{"GREETING", "hello"}}},
                   {"metadata", {{"user", "alice"}, {"project", "p1"}}}});
  ASSERT_EQ(a["metadata"], (json{{"user", "alice"}, {"project", "p1"}}));
  EXPECT_EQ(a["pending_restart"], json::array());
  create({{"id", "mb"}, {"metadata", {{"user", "bob"}}}});
  EXPECT_EQ(ids_of(body_of(d.http().Get("/v1/sandboxes?metadata.user=alice"), 200)),
            std::vector<std::string>{"ma"});
  EXPECT_TRUE(
      ids_of(body_of(d.http().Get("/v1/sandboxes?metadata.user=alice&metadata.project=p2"), 200))
          .empty());
  body_of(d.http().Get("/v1/sandboxes?metadata.bad%20key=x"), 400);

  // The app runs with the env it was created with.
  ASSERT_TRUE(d.write_node_app("ma", kGreeter));
  auto preview = d.preview("ma", 3000);
  ASSERT_TRUE(eventually([&] {
    auto r = preview->Get("/");
    return r && r->body == "greeting=hello";
  })) << d.http().Get("/v1/sandboxes/ma/logs")->body;

  // Env and metadata apply at once: exec sees the new env, the app is restarted with it.
  json p = body_of(patch(d, "ma",
                         {{"env", {{"GREETING", "bonjour"}}},
                          {"metadata", {{"project", nullptr}, {"tier", "pro"}}},
                          {"idle_policy", "always_on"}}),
                   200);
  EXPECT_EQ(p["metadata"], (json{{"user", "alice"}, {"tier", "pro"}}));
  EXPECT_EQ(p["idle_policy"], "always_on");
  EXPECT_EQ(p["pending_restart"], json::array());
  json out = d.exec("ma", {{"cmd", {"sh", "-c", "printf %s \"$GREETING\""}}});
  EXPECT_EQ(out["stdout"], "bonjour");
  EXPECT_TRUE(eventually([&] {
    auto r = preview->Get("/");
    return r && r->body == "greeting=bonjour";
  }));

  // Limits wait for a new container: the running one keeps its memory limit.
  const int64_t before = docker_inspect(d.container("ma"))["HostConfig"]["Memory"];
  p = body_of(patch(d, "ma", {{"memory", "300m"}, {"pids_limit", 200}}), 200);
  EXPECT_EQ(p["pending_restart"], (json{"memory", "pids_limit"}));
  EXPECT_EQ(p["limits"]["memory_bytes"], 300LL << 20);
  EXPECT_EQ(docker_inspect(d.container("ma"))["HostConfig"]["Memory"], before);
  EXPECT_EQ(body_of(d.http().Get("/v1/sandboxes/ma"), 200)["pending_restart"],
            (json{"memory", "pids_limit"}));
  body_of(d.http().Post("/v1/sandboxes/ma/stop", "", "application/json"), 200);
  json started = body_of(d.http().Post("/v1/sandboxes/ma/start", "", "application/json"), 200);
  EXPECT_EQ(started["pending_restart"], json::array());
  json inspected = docker_inspect(d.container("ma"));
  EXPECT_EQ(inspected["HostConfig"]["Memory"], 300LL << 20);
  EXPECT_EQ(inspected["HostConfig"]["PidsLimit"], 200);
  // The workspace, the env and the app came through the new container.
  EXPECT_TRUE(eventually([&] {
    auto r = preview->Get("/");
    return r && r->body == "greeting=bonjour";
  }));

  // Bad input: a 400 naming the problem, and nothing changes.
  json now = body_of(d.http().Get("/v1/sandboxes/ma"), 200);
  for (const json& bad : {json{{"disk", "1g"}}, json{{"timeout", 5}},
                          json{{"metadata", {{"ok", "1"}, {"bad key", "2"}}}},
                          json{{"memory", "100t"}, {"metadata", {{"ok", "1"}}}},
                          json{{"env", {{"1BAD", "x"}}}}, json{{"ports", {0}}}}) {
    json err = body_of(patch(d, "ma", bad), 400);
    EXPECT_EQ(err["error"]["code"], "invalid_request") << bad.dump();
  }
  body_of(patch(d, "nope", {{"metadata", {{"a", "b"}}}}), 404);
  json after = body_of(d.http().Get("/v1/sandboxes/ma"), 200);
  for (const char* field : {"metadata", "env_keys", "limits", "ports", "pending_restart"})
    EXPECT_EQ(after[field], now[field]) << field;
}

TEST_F(Metadata, EveryRouteWithABodyRefusesAnUnknownField) {
  Daemon d("meta-strict");
  d.set_env("SANDBOXD_TEMPLATES_DIR", d.data_dir() + "/no-templates");
  ASSERT_TRUE(d.start());
  body_of(d.http().Post("/v1/sandboxes", R"({"id":"st"})", "application/json"), 201);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"POST", "/v1/sandboxes"},
      {"PATCH", "/v1/sandboxes/st"},
      {"POST", "/v1/sandboxes/st/exec"},
      {"POST", "/v1/sandboxes/st/keepalive"},
      {"PUT", "/v1/sandboxes/st/files"},
      {"POST", "/v1/sandboxes/st/tasks"},
      {"POST", "/v1/sandboxes/st/snapshots"},
      {"POST", "/v1/sandboxes/st/fork"},
      {"POST", "/v1/sandboxes/st/restore"}};
  for (const auto& [method, path] : routes) {
    const std::string body = R"({"timeout":5})";
    auto r = method == "POST"  ? d.http().Post(path, body, "application/json")
             : method == "PUT" ? d.http().Put(path, body, "application/json")
                               : d.http().Patch(path, body, "application/json");
    json err = body_of(r, 400);
    EXPECT_NE(err["error"]["message"].get<std::string>().find("timeout: unknown field"),
              std::string::npos)
        << method << " " << path << ": " << err.dump();
  }
  // Nothing was made by them.
  EXPECT_EQ(body_of(d.http().Get("/v1/sandboxes"), 200)["sandboxes"].size(), 1u);
  EXPECT_EQ(body_of(d.http().Get("/v1/snapshots?sandbox_id=st"), 200)["snapshots"].size(), 0u);
}

TEST_F(Metadata, JsonLogsRequestMetricsVersionAndUnknownVariables) {
  Daemon d("meta-ops");
  d.set_env("SANDBOXD_TEMPLATES_DIR", d.data_dir() + "/no-templates");
  d.set_env("SANDBOXD_LOG_FORMAT", "json");
  d.set_env("SANDBOXD_IDLE_TRESHOLD_SECONDS", "60");
  ASSERT_TRUE(d.start());
  json v = body_of(d.http().Get("/v1/version"), 200);
  EXPECT_EQ(v["api_version"], "v1");
  EXPECT_FALSE(v["version"].get<std::string>().empty());
  httplib::Headers with_id = {{"X-Request-Id", "req-meta-ops-1"}};
  body_of(d.http().Get("/v1/sandboxes/absent", with_id), 404);

  // One JSON object per line; the request's line has its fields.
  json request_line, warning;
  ASSERT_TRUE(eventually(
      [&] {
        std::istringstream lines(d.log());
        for (std::string line; std::getline(lines, line);) {
          if (line.empty()) continue;
          json j = json::parse(line, nullptr, false);
          if (j.is_discarded()) {
            ADD_FAILURE() << "not a JSON object: " << line;
            return true;
          }
          if (j.value("request_id", "") == "req-meta-ops-1" && j.contains("route"))
            request_line = j;
          if (j.value("msg", "").find("SANDBOXD_IDLE_TRESHOLD_SECONDS") != std::string::npos)
            warning = j;
        }
        return !request_line.is_null() && !warning.is_null();
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(request_line["route"], "/v1/sandboxes/{id}");
  EXPECT_EQ(request_line["status"], 404);
  EXPECT_EQ(request_line["method"], "GET");
  EXPECT_EQ(request_line["actor"], "it");
  EXPECT_TRUE(request_line["duration_ms"].is_number_integer());
  EXPECT_EQ(warning["level"], "warning");
  EXPECT_NE(warning["msg"].get<std::string>().find("did you mean SANDBOXD_IDLE_THRESHOLD_SECONDS"),
            std::string::npos);

  // Request metrics by route template and status, and the duration histogram.
  auto m = d.http().Get("/metrics");
  ASSERT_TRUE(m && m->status == 200);
  EXPECT_NE(
      m->body.find(
          R"(sandboxd_http_requests_total{method="GET",route="/v1/sandboxes/{id}",status="404"} 1)"),
      std::string::npos)
      << m->body;
  EXPECT_NE(
      m->body.find(
          R"(sandboxd_http_request_duration_seconds_count{method="GET",route="/v1/version"} 1)"),
      std::string::npos);
}

}  // namespace
}  // namespace sandboxd::testing_support
