// Integration: background processes (exec with "background": true) against a real
// sandboxd and real containers: the README's `python3 -m http.server` behind a preview,
// listed and read while it runs, still running and still holding its sandbox busy after
// sandboxd is killed and started again, then signalled; output followed as events to
// the exit; a sandbox's stop ends its processes; bad input changes nothing. HTTP goes
// only to loopback.
#include <gtest/gtest.h>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

class Processes : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }
};

json background(Daemon& d, const std::string& id, const json& body, int status = 202) {
  json req = body;
  req["background"] = true;
  return body_of(d.http().Post("/v1/sandboxes/" + id + "/exec", req.dump(), "application/json"),
                 status);
}

json process(Daemon& d, const std::string& id, const std::string& pid) {
  return body_of(d.http().Get("/v1/sandboxes/" + id + "/processes/" + pid), 200);
}

TEST_F(Processes, AServerInTheBackgroundServesThePreviewAndSurvivesARestartOfSandboxd) {
  Daemon d("procs");
  ASSERT_TRUE(d.start());
  body_of(d.http().Post("/v1/sandboxes", R"({"id":"pa","ports":[3000]})", "application/json"), 201);
  json p = background(d, "pa", {{"cmd", {"python3", "-m", "http.server", "3000"}}});
  ASSERT_TRUE(p.is_object());
  const std::string pid = p["id"];
  EXPECT_EQ(p["state"], "running");
  EXPECT_EQ(p["cmd"], (json{"python3", "-m", "http.server", "3000"}));
  EXPECT_TRUE(eventually([&] { return process(d, "pa", pid)["pid"].is_number_integer(); }));
  auto preview_ok = [&] {
    auto r = d.preview("pa", 3000)->Get("/");
    return r && r->status == 200 && r->body.find("Directory listing") != std::string::npos;
  };
  ASSERT_TRUE(eventually(preview_ok, std::chrono::seconds(30))) << d.log();

  json list = body_of(d.http().Get("/v1/sandboxes/pa/processes"), 200);
  ASSERT_EQ(list["processes"].size(), 1u);
  EXPECT_EQ(list["processes"][0]["id"], pid);
  // http.server logs each request on stderr.
  EXPECT_TRUE(eventually([&] {
    json out = body_of(d.http().Get("/v1/sandboxes/pa/processes/" + pid + "/output"), 200);
    return out["stderr"].get<std::string>().find("\"GET / HTTP/1.1\" 200") != std::string::npos;
  }));
  json sb = body_of(d.http().Get("/v1/sandboxes/pa"), 200);
  EXPECT_EQ(sb["idle"]["reason"], "busy: an exec, task or background process is running");

  // sandboxd dies and comes back: the process ran on, and is followed again.
  ASSERT_TRUE(d.stop(/*hard=*/true));
  ASSERT_TRUE(d.start());
  EXPECT_EQ(process(d, "pa", pid)["state"], "running");
  EXPECT_TRUE(preview_ok());
  sb = body_of(d.http().Get("/v1/sandboxes/pa"), 200);
  EXPECT_EQ(sb["idle"]["reason"], "busy: an exec, task or background process is running");

  json ended = body_of(d.http().Delete("/v1/sandboxes/pa/processes/" + pid + "?signal=TERM"), 200);
  EXPECT_EQ(ended["state"], "exited") << ended.dump();
  EXPECT_EQ(ended["signal"], 15);
  EXPECT_TRUE(ended["exit_code"].is_null());
  // "[h]" keeps the pattern from matching the command lines that carry it.
  json left = d.exec("pa", {{"cmd", {"pgrep", "-f", "[h]ttp.server 3000"}}});
  EXPECT_EQ(left["exit_code"], 1) << "the server outlived its signal";
  sb = body_of(d.http().Get("/v1/sandboxes/pa"), 200);
  EXPECT_NE(sb["idle"]["reason"], "busy: an exec, task or background process is running");
  // Ended: another signal is a conflict.
  body_of(d.http().Delete("/v1/sandboxes/pa/processes/" + pid), 409);
  (void)d.http().Post("/v1/sandboxes/pa/purge", "", "application/json");
}

TEST_F(Processes, OutputFollowsToTheExitAndAStopEndsTheRest) {
  Daemon d("procs2");
  ASSERT_TRUE(d.start());
  body_of(d.http().Post("/v1/sandboxes", R"({"id":"pb"})", "application/json"), 201);
  json p = background(d, "pb",
                      {{"cmd", {"sh", "-c", "echo one; sleep 1; echo two >&2; sleep 1; exit 4"}},
                       {"env", {{"SECRET_X", "hidden-value-123"}}}});
  ASSERT_TRUE(p.is_object());
  std::string buf;
  std::vector<SseEvent> events;
  auto r = d.http().Get("/v1/sandboxes/pb/processes/" + p["id"].get<std::string>() + "/output",
                        httplib::Headers{{"Accept", "text/event-stream"}},
                        [&](const char* data, std::size_t n) {
                          buf.append(data, n);
                          take_sse_events(buf, events);
                          return true;
                        });
  ASSERT_TRUE(r);
  std::string out, err;
  for (const auto& e : events) {
    if (e.type == "stdout") out += e.data["data"].get<std::string>();
    if (e.type == "stderr") err += e.data["data"].get<std::string>();
  }
  EXPECT_EQ(out, "one\n");
  EXPECT_EQ(err, "two\n");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "exit");
  EXPECT_EQ(events.back().data["state"], "exited");
  EXPECT_EQ(events.back().data["exit_code"], 4);

  json sleeper = background(d, "pb", {{"cmd", {"sleep", "600"}}});
  ASSERT_TRUE(sleeper.is_object());
  body_of(d.http().Post("/v1/sandboxes/pb/stop", "", "application/json"), 200);
  EXPECT_TRUE(eventually([&] { return process(d, "pb", sleeper["id"])["state"] == "stopped"; },
                         std::chrono::seconds(10)));
  json list = body_of(d.http().Get("/v1/sandboxes/pb/processes"), 200);
  ASSERT_EQ(list["processes"].size(), 2u);
  // The env value was never shown.
  EXPECT_EQ(list.dump().find("hidden-value-123"), std::string::npos);

  // Bad input: a clear 4xx, and nothing started.
  background(d, "pb", {{"cmd", json::array()}}, 400);
  background(d, "pb", {{"cmd", {"true"}}, {"timeout_s", 0}}, 400);
  body_of(d.http().Delete("/v1/sandboxes/pb/processes/" + sleeper["id"].get<std::string>() +
                          "?signal=FOO"),
          400);
  body_of(d.http().Get("/v1/sandboxes/pb/processes/01nosuchprocess"), 404);
  EXPECT_EQ(body_of(d.http().Get("/v1/sandboxes/pb/processes"), 200)["processes"].size(), 2u);
  (void)d.http().Post("/v1/sandboxes/pb/purge", "", "application/json");
}

}  // namespace
}  // namespace sandboxd::testing_support
