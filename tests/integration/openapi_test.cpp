// Integration: a real sandboxd's answers against api/openapi.json. Every JSON answer of a
// sandbox's life (create with metadata, get, list and its metadata filter, exec, files,
// patch, stop and start, keepalive, snapshots, restore, version, the spec itself, errors,
// delete and purge) and of an agent task (its answers and each event of its stream) is
// validated against the schema the spec gives for that operation and status; every
// request body sent is validated against its request schema; text answers have the
// media type the spec names. HTTP goes only to loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "integration/daemon.h"
#include "support/openapi_check.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += "\n  " + i;
  return out;
}

// A media type without its parameters ("text/plain; charset=utf-8" -> "text/plain").
std::string essence(const std::string& type) {
  std::string t = type.substr(0, type.find(';'));
  t.erase(t.find_last_not_of(' ') + 1);
  return t;
}

// Calls the API of `d` and checks each answer against `spec`.
class Api {
 public:
  Api(Daemon& d, const json& spec) : d_(d), spec_(spec) {}

  // Sends `method` to `path` (an instance of the spec's `tmpl`) with `body` (none when
  // null) and checks the answer: HTTP `status`, an X-Request-Id, and a JSON body that
  // fits the spec's schema for the operation and status (a 204 has no body). A body
  // sent for a success is checked against the request schema too. Returns the JSON
  // body (null for a 204 or a failure).
  json call(const std::string& method, const std::string& tmpl, const std::string& path,
            const json& body, int status, const std::string& content_type = "application/json") {
    const std::string what = method + " " + path;
    if (!body.is_null() && status < 400) {
      auto errors = validate_request(spec_, method, tmpl, body, content_type);
      EXPECT_TRUE(errors.empty()) << what << " sends a body the spec refuses:" << lines(errors);
    }
    auto r = send(method, path, body.is_null() ? "" : body.dump(), content_type);
    EXPECT_TRUE(r) << what << ": no answer";
    if (!r) return nullptr;
    EXPECT_EQ(r->status, status) << what << ": " << r->body << "\n" << d_.log();
    EXPECT_FALSE(r->get_header_value("X-Request-Id").empty()) << what;
    if (r->status == 204) {
      EXPECT_TRUE(r->body.empty()) << what;
      EXPECT_TRUE(documented(method, tmpl, 204)) << what << ": 204 is not in the spec";
      return nullptr;
    }
    EXPECT_EQ(essence(r->get_header_value("Content-Type")), "application/json") << what;
    json parsed = json::parse(r->body, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << what << ": " << r->body;
    auto errors = validate_response(spec_, method, tmpl, r->status, parsed);
    EXPECT_TRUE(errors.empty()) << what << ":" << lines(errors) << "\n" << parsed.dump(2);
    if (r->status == 503) {
      EXPECT_EQ(r->get_header_value("Retry-After"), "5") << what;
    }
    return r->status == status ? parsed : json(nullptr);
  }

  // GET of a non-JSON answer: 200 with a media type the spec lists for it; its body.
  std::string get_text(const std::string& tmpl, const std::string& path) {
    auto r = d_.http().Get(path);
    EXPECT_TRUE(r) << path << ": no answer";
    if (!r) return "";
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    const std::string type = essence(r->get_header_value("Content-Type"));
    EXPECT_TRUE(media_types(tmpl, 200).count(type))
        << "GET " << path << " answers " << type << ", which the spec does not list";
    return r->body;
  }

  // The media types (without parameters) the spec lists for `tmpl`'s GET answer `status`.
  std::set<std::string> media_types(const std::string& tmpl, int status) const {
    const json::json_pointer p("/paths/" + escaped(tmpl) + "/get/responses/" +
                               std::to_string(status) + "/content");
    std::set<std::string> out;
    if (spec_.contains(p))
      for (const auto& [type, media] : spec_.at(p).items()) out.insert(essence(type));
    return out;
  }

 private:
  static std::string escaped(const std::string& tmpl) {
    std::string out;
    for (char c : tmpl) out += c == '/' ? std::string("~1") : std::string(1, c);
    return out;
  }

  bool documented(const std::string& method, const std::string& tmpl, int status) const {
    std::string m = method;
    std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
    return spec_.contains(json::json_pointer("/paths/" + escaped(tmpl) + "/" + m + "/responses/" +
                                             std::to_string(status)));
  }

  httplib::Result send(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& content_type) {
    auto& c = d_.http();
    if (method == "GET") return c.Get(path);
    if (method == "DELETE") return c.Delete(path);
    if (method == "POST") return c.Post(path, body, content_type);
    if (method == "PUT") return c.Put(path, body, content_type);
    if (method == "PATCH") return c.Patch(path, body, content_type);
    ADD_FAILURE() << "no such method " << method;
    return httplib::Result(nullptr, httplib::Error::Unknown, {});
  }

  Daemon& d_;
  const json& spec_;
};

class OpenApi : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }
  void SetUp() override { ASSERT_TRUE(spec_.is_object()) << "cannot read api/openapi.json"; }
  const json spec_ = load_spec();
};

std::set<std::string> ids_in(const json& list, const char* key) {
  std::set<std::string> out;
  if (list.is_object() && list.contains(key) && list[key].is_array())
    for (const auto& s : list[key]) out.insert(s["id"].get<std::string>());
  return out;
}

TEST_F(OpenApi, EveryAnswerOfASandboxsLifeFitsTheSpec) {
  Daemon d("openapi");
  // Without the starter templates: their import copies tens of MB at every start.
  d.set_env("SANDBOXD_TEMPLATES_DIR", d.data_dir() + "/no-templates");
  ASSERT_TRUE(d.start()) << d.log();
  Api api(d, spec_);
  const std::string s1 = "/v1/sandboxes/oa1";

  // What the daemon is, and the spec it serves: this very file.
  json version = api.call("GET", "/v1/version", "/v1/version", nullptr, 200);
  EXPECT_EQ(version["version"], SANDBOXD_VERSION);
  EXPECT_EQ(version["api_version"], "v1");
  EXPECT_EQ(api.call("GET", "/v1/openapi.json", "/v1/openapi.json", nullptr, 200), spec_)
      << "GET /v1/openapi.json is not api/openapi.json";
  EXPECT_EQ(api.get_text("/healthz", "/healthz"), "ok\n");
  EXPECT_EQ(api.get_text("/readyz", "/readyz"), "ready\n");
  EXPECT_NE(api.get_text("/metrics", "/metrics").find("sandboxd_sandboxes"), std::string::npos);

  // Create (with metadata), get, list, and the metadata filter.
  json created = api.call("POST", "/v1/sandboxes", "/v1/sandboxes",
                          {{"id", "oa1"},
                           {"ports", {3000}},
                           {"env", {{"OA_KEY", "value-0123456789"}}},
                           {"metadata", {{"team", "blue"}, {"env.stage", "test"}}}},
                          201);
  EXPECT_EQ(created["metadata"], json({{"team", "blue"}, {"env.stage", "test"}}));
  EXPECT_EQ(created["env_keys"], json::array({"OA_KEY"}));
  EXPECT_EQ(created["pending_restart"], json::array());
  api.call("POST", "/v1/sandboxes", "/v1/sandboxes",
           {{"id", "oa2"}, {"metadata", {{"team", "red"}}}}, 201);
  json got = api.call("GET", "/v1/sandboxes/{id}", s1, nullptr, 200);
  EXPECT_EQ(got["status"], "running");
  EXPECT_EQ(got["metadata"], created["metadata"]);

  const std::string list = "/v1/sandboxes";
  EXPECT_EQ(ids_in(api.call("GET", list, list, nullptr, 200), "sandboxes"),
            (std::set<std::string>{"oa1", "oa2"}));
  json page = api.call("GET", list, list + "?limit=1", nullptr, 200);
  EXPECT_EQ(ids_in(page, "sandboxes"), std::set<std::string>{"oa1"});
  EXPECT_EQ(page["next_after"], "oa1");
  auto paged = d.http().Get(list + "?limit=1");
  ASSERT_TRUE(paged);
  EXPECT_EQ(paged->get_header_value("X-Next-After"), "oa1");
  EXPECT_EQ(ids_in(api.call("GET", list, list + "?after=oa1", nullptr, 200), "sandboxes"),
            std::set<std::string>{"oa2"});
  EXPECT_EQ(ids_in(api.call("GET", list, list + "?metadata.team=blue", nullptr, 200), "sandboxes"),
            std::set<std::string>{"oa1"});
  EXPECT_EQ(ids_in(api.call("GET", list, list + "?metadata.team=blue&metadata.env.stage=test",
                            nullptr, 200),
                   "sandboxes"),
            std::set<std::string>{"oa1"});
  EXPECT_EQ(ids_in(api.call("GET", list, list + "?metadata.team=blue&metadata.env.stage=prod",
                            nullptr, 200),
                   "sandboxes"),
            std::set<std::string>{});
  EXPECT_EQ(ids_in(api.call("GET", list, list + "?status=running&metadata.team=red", nullptr, 200),
                   "sandboxes"),
            std::set<std::string>{"oa2"});

  // Exec.
  json ran = api.call(
      "POST", "/v1/sandboxes/{id}/exec", s1 + "/exec",
      {{"cmd", {"sh", "-c", "printf hi; printf err >&2; exit 3"}}, {"timeout_s", 60}}, 200);
  EXPECT_EQ(ran["exit_code"], 3);
  EXPECT_EQ(ran["stdout"], "hi");
  EXPECT_EQ(ran["stderr"], "err");
  EXPECT_EQ(ran["timed_out"], false);

  // Files: JSON and raw writes, a text and a binary read, a listing, a raw read, a delete.
  const std::string files = "/v1/sandboxes/{id}/files";
  json written = api.call("PUT", files, s1 + "/files",
                          {{"path", "workspace/app/note.txt"}, {"content", "hello"}}, 200);
  EXPECT_EQ(written["bytes_written"], 5);
  EXPECT_EQ(written["appended"], false);
  auto raw_put = d.http().Put(s1 + "/files?path=workspace/app/bin.dat",
                              std::string("\xff\x00\x01", 3), "application/octet-stream");
  ASSERT_TRUE(raw_put);
  EXPECT_EQ(raw_put->status, 200) << raw_put->body;
  EXPECT_TRUE(
      validate_response(spec_, "PUT", files, 200, json::parse(raw_put->body, nullptr, false))
          .empty())
      << raw_put->body;
  json text = api.call("GET", files, s1 + "/files?path=workspace/app/note.txt", nullptr, 200);
  EXPECT_EQ(text["type"], "file");
  EXPECT_EQ(text["encoding"], "utf8");
  EXPECT_EQ(text["content"], "hello");
  json binary = api.call("GET", files, s1 + "/files?path=workspace/app/bin.dat", nullptr, 200);
  EXPECT_EQ(binary["encoding"], "base64");
  EXPECT_EQ(binary["content"], "/wAB");
  json dir = api.call("GET", files, s1 + "/files?path=workspace/app", nullptr, 200);
  EXPECT_EQ(dir["type"], "dir");
  std::set<std::string> names;
  for (const auto& e : dir["entries"]) names.insert(e["name"].get<std::string>());
  EXPECT_TRUE(names.count("note.txt") && names.count("bin.dat")) << dir.dump();
  EXPECT_EQ(api.get_text(files, s1 + "/files?path=workspace/app/bin.dat&raw=true"),
            std::string("\xff\x00\x01", 3));
  api.call("DELETE", files, s1 + "/files?path=workspace/app/bin.dat", nullptr, 204);

  // Patch: metadata merges, env and ports replace, a limit waits for the next start.
  const std::string one = "/v1/sandboxes/{id}";
  json patched = api.call("PATCH", one, s1,
                          {{"metadata", {{"team", nullptr}, {"owner", "ops"}}},
                           {"env", {{"OA_OTHER", "x"}}},
                           {"ports", {3000, 4000}},
                           {"idle_policy", "always_on"},
                           {"memory", "300m"}},
                          200);
  EXPECT_EQ(patched["metadata"], json({{"env.stage", "test"}, {"owner", "ops"}}));
  EXPECT_EQ(patched["env_keys"], json::array({"OA_KEY", "OA_OTHER"}));
  EXPECT_EQ(patched["ports"], json::array({3000, 4000}));
  EXPECT_EQ(patched["idle_policy"], "always_on");
  EXPECT_EQ(patched["pending_restart"], json::array({"memory"}));
  json merged = api.call("PATCH", one, s1, {{"metadata", {{"owner", "dev"}}}}, 200,
                         "application/merge-patch+json");
  EXPECT_EQ(merged["metadata"]["owner"], "dev");
  json refused = api.call("PATCH", one, s1, {{"disk", "1g"}}, 400);
  EXPECT_EQ(refused["error"]["code"], "invalid_request");

  // Stop and start: the pending limit takes effect.
  EXPECT_EQ(api.call("POST", "/v1/sandboxes/{id}/stop", s1 + "/stop", nullptr, 200)["status"],
            "stopped");
  json started = api.call("POST", "/v1/sandboxes/{id}/start", s1 + "/start", nullptr, 200);
  EXPECT_EQ(started["status"], "running");
  EXPECT_EQ(started["pending_restart"], json::array());
  EXPECT_EQ(started["limits"]["memory_bytes"], int64_t{300} << 20);

  json kept =
      api.call("POST", "/v1/sandboxes/{id}/keepalive", s1 + "/keepalive", {{"seconds", 600}}, 200);
  EXPECT_TRUE(kept["keepalive_until"].is_string()) << kept.dump();

  // Snapshots and restore.
  json snap = api.call("POST", "/v1/sandboxes/{id}/snapshots", s1 + "/snapshots",
                       {{"name", "oa-snap"}}, 201);
  EXPECT_EQ(snap["name"], "oa-snap");
  EXPECT_EQ(snap["sandbox_id"], "oa1");
  const std::string snap_id = snap.value("id", "");
  EXPECT_EQ(ids_in(api.call("GET", "/v1/sandboxes/{id}/snapshots", s1 + "/snapshots", nullptr, 200),
                   "snapshots"),
            std::set<std::string>{snap_id});
  EXPECT_TRUE(ids_in(api.call("GET", "/v1/snapshots", "/v1/snapshots", nullptr, 200), "snapshots")
                  .count(snap_id));
  EXPECT_EQ(api.call("GET", "/v1/snapshots/{snapshot}", "/v1/snapshots/oa-snap", nullptr, 200),
            snap);
  api.call("POST", "/v1/sandboxes/{id}/restore", s1 + "/restore", {{"snapshot", "oa-snap"}}, 200);

  // The dev server's log is text.
  api.get_text("/v1/sandboxes/{id}/logs", s1 + "/logs?tail=1024");

  // Errors have the Error shape: a refused body, unknown things, a missing token.
  json bad = api.call("POST", "/v1/sandboxes", "/v1/sandboxes", {{"bogus", 1}}, 400);
  EXPECT_EQ(bad["error"]["code"], "invalid_request");
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("bogus"), std::string::npos);
  json missing = api.call("GET", one, "/v1/sandboxes/nosuch", nullptr, 404);
  EXPECT_EQ(missing["error"]["code"], "not_found");
  api.call("GET", "/v1/snapshots/{snapshot}", "/v1/snapshots/nosuch", nullptr, 404);
  httplib::Client anonymous("127.0.0.1", d.port());
  auto unauthorized = anonymous.Get("/v1/sandboxes");
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);
  EXPECT_TRUE(validate_response(spec_, "GET", "/v1/sandboxes", 401,
                                json::parse(unauthorized->body, nullptr, false))
                  .empty())
      << unauthorized->body;

  // Delete and purge.
  api.call("DELETE", "/v1/snapshots/{snapshot}", "/v1/snapshots/oa-snap", nullptr, 204);
  api.call("DELETE", one, "/v1/sandboxes/oa2", nullptr, 204);
  json purged = api.call("POST", "/v1/sandboxes/{id}/purge", s1 + "/purge", nullptr, 200);
  EXPECT_EQ(purged["purged"], true);
  api.call("GET", one, s1, nullptr, 404);
}

using Event = SseEvent;

// A task's event stream until `done` (or 120 s), and its Content-Type.
std::pair<std::vector<Event>, std::string> stream(Daemon& d, const std::string& path) {
  httplib::Client c("127.0.0.1", d.port());
  c.set_bearer_token_auth(d.token());
  c.set_read_timeout(120, 0);
  std::string buf;
  std::vector<Event> events;
  bool done = false;
  std::string content_type;
  auto headers = [&](const httplib::Response& res) {
    content_type = res.get_header_value("Content-Type");
    return true;
  };
  c.Get(path, httplib::Headers{}, headers, [&](const char* data, std::size_t n) {
    buf.append(data, n);
    done = take_sse_events(buf, events) || done;
    return !done;
  });
  return {events, content_type};
}

TEST_F(OpenApi, ATasksAnswersAndEveryEventOfItsStreamFitTheSpec) {
  Daemon d("openapitask");
  d.set_env("SANDBOXD_TEMPLATES_DIR", d.data_dir() + "/no-templates");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(network_gateway(d.network()));
  ASSERT_TRUE(allow_model(d, m)) << d.log();
  Api api(d, spec_);
  api.call("POST", "/v1/sandboxes", "/v1/sandboxes", {{"id", "oat1"}}, 201);

  const json request = {
      {"agent", "claude"},
      {"model", "claude-sonnet-4-5"},
      {"prompt", "Create hello.txt"},
      {"timeout_s", 300},
      {"env", {{"ANTHROPIC_BASE_URL", m.base()}, {"ANTHROPIC_API_KEY", "sk-mock"}}}};
  json task =
      api.call("POST", "/v1/sandboxes/{id}/tasks", "/v1/sandboxes/oat1/tasks", request, 202);
  ASSERT_TRUE(task.is_object());
  EXPECT_EQ(task["status"], "running");
  const std::string id = task["id"];
  const std::string path = "/v1/sandboxes/oat1/tasks/" + id;
  EXPECT_EQ(task["events_url"], path + "/events");

  auto [events, type] = stream(d, path + "/events");
  EXPECT_EQ(essence(type), "text/event-stream");
  EXPECT_TRUE(
      api.media_types("/v1/sandboxes/{id}/tasks/{task_id}/events", 200).count(essence(type)));
  const std::map<std::string, std::string> schemas = {
      {"status", "TaskEventStatus"}, {"message", "TaskEventMessage"}, {"tool", "TaskEventTool"},
      {"usage", "TaskEventUsage"},   {"error", "TaskEventError"},     {"done", "TaskEventDone"}};
  ASSERT_FALSE(events.empty()) << d.log();
  EXPECT_EQ(events.back().type, "done");
  for (const auto& e : events) {
    ASSERT_TRUE(schemas.count(e.type)) << "an event type the spec does not name: " << e.type;
    auto errors = validate(spec_, {{"$ref", "#/components/schemas/" + schemas.at(e.type)}}, e.data);
    EXPECT_TRUE(errors.empty()) << e.type << ":" << lines(errors) << "\n" << e.data.dump(2);
  }

  const std::string tmpl = "/v1/sandboxes/{id}/tasks/{task_id}";
  json finished = api.call("GET", tmpl, path, nullptr, 200);
  EXPECT_EQ(finished["status"], "succeeded") << finished.dump();
  EXPECT_TRUE(finished["duration_ms"].is_number_integer());
  json tasks =
      api.call("GET", "/v1/sandboxes/{id}/tasks", "/v1/sandboxes/oat1/tasks", nullptr, 200);
  EXPECT_EQ(ids_in(tasks, "tasks"), std::set<std::string>{id});
  // A cancel of a finished task answers the task as it is.
  EXPECT_EQ(api.call("POST", tmpl + "/cancel", path + "/cancel", nullptr, 200)["status"],
            "succeeded");
  api.call("GET", tmpl, "/v1/sandboxes/oat1/tasks/nosuch", nullptr, 404);
}

}  // namespace
}  // namespace sandboxd::testing_support
