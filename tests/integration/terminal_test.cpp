// Integration: the terminal over a WebSocket against a real sandboxd and real containers:
// auth refused before any upgrade (no token, a bad, reused or other sandbox's ticket, a
// foreign Origin); a real PTY (bash as the sandbox user in the app directory) with
// resize and its exit code; a stopped sandbox woken by opening it and the session closed
// when the sandbox stops; no shell left behind by a client that vanishes. HTTP goes only
// to loopback.
#include <gtest/gtest.h>

#include "integration/daemon.h"
#include "integration/ws_client.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

class Terminal : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    require_docker_and_image();
    daemon_ = new Daemon("term");
    ASSERT_TRUE(daemon_->start());
    for (const char* id : {"tm1", "tm2"}) {
      auto r = daemon_->http().Post("/v1/sandboxes", json{{"id", id}}.dump(), "application/json");
      ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    }
  }
  static void TearDownTestSuite() {
    if (daemon_) {
      for (const char* id : {"tm1", "tm2"})
        (void)daemon_->http().Post(std::string("/v1/sandboxes/") + id + "/purge", "",
                                   "application/json");
    }
    delete daemon_;
    daemon_ = nullptr;
  }
  static WsClient::Headers bearer() { return {{"Authorization", "Bearer " + daemon_->token()}}; }
  static std::string ticket(const std::string& id) {
    auto r =
        daemon_->http().Post("/v1/sandboxes/" + id + "/terminal/ticket", "", "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return r ? json::parse(r->body, nullptr, false).value("ticket", "") : "";
  }
  static std::string status(const std::string& id) {
    auto r = daemon_->http().Get("/v1/sandboxes/" + id);
    return r ? json::parse(r->body, nullptr, false).value("status", "") : "";
  }
  static Daemon* daemon_;
};
Daemon* Terminal::daemon_ = nullptr;

// The exit message among the text frames, or null.
json exit_message(const WsClient& ws) {
  for (const auto& t : ws.texts()) {
    json j = json::parse(t, nullptr, false);
    if (j.is_object() && j.value("type", "") == "exit") return j;
  }
  return nullptr;
}

TEST_F(Terminal, WithoutAValidCredentialOrFromAForeignOriginNothingIsUpgraded) {
  const int port = daemon_->port();
  EXPECT_EQ(WsClient().connect(port, "/v1/sandboxes/tm1/terminal").status, 401);
  EXPECT_EQ(
      WsClient().connect(port, "/v1/sandboxes/tm1/terminal?ticket=" + std::string(64, 'a')).status,
      401);
  std::string t = ticket("tm1");
  ASSERT_EQ(t.size(), 64u);
  // A ticket opens only the sandbox it was issued for, and only once.
  EXPECT_EQ(WsClient().connect(port, "/v1/sandboxes/tm2/terminal?ticket=" + t).status, 401);
  EXPECT_EQ(WsClient().connect(port, "/v1/sandboxes/tm1/terminal?ticket=" + t).status, 401);
  WsClient::Headers foreign = bearer();
  foreign.push_back({"Origin", "https://evil.example"});
  EXPECT_EQ(WsClient().connect(port, "/v1/sandboxes/tm1/terminal", foreign).status, 403);
  // Not a WebSocket handshake: a plain 400.
  auto plain = daemon_->http().Get("/v1/sandboxes/tm1/terminal");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 400);
  EXPECT_EQ(WsClient().connect(port, "/v1/sandboxes/nosuch/terminal", bearer()).status, 404);
}

TEST_F(Terminal, ARealShellResizesAndReportsItsExitCode) {
  WsClient ws;
  auto hs = ws.connect(daemon_->port(), "/v1/sandboxes/tm1/terminal?cols=90&rows=20", bearer());
  ASSERT_EQ(hs.status, 101) << hs.body;
  EXPECT_TRUE(hs.accept_ok);
  ASSERT_TRUE(ws.send_binary("stty size; echo \"at-$(pwd)-as-$(id -un)\"\n"));
  EXPECT_TRUE(ws.output_until("20 90")) << ws.output();
  EXPECT_TRUE(ws.output_until("at-/home/sandbox/workspace/app-as-sandbox")) << ws.output();
  ASSERT_TRUE(ws.send_text(R"({"type":"resize","cols":100,"rows":30})"));
  ASSERT_TRUE(ws.send_text(R"({"type":"input","data":"stty size\n"})"));
  EXPECT_TRUE(ws.output_until("30 100")) << ws.output();
  ASSERT_TRUE(ws.send_binary("exit 3\n"));
  ws.output_until("never-printed", std::chrono::seconds(10));  // reads on to the close
  json exit = exit_message(ws);
  ASSERT_TRUE(exit.is_object()) << ws.output();
  EXPECT_EQ(exit["exit_code"], 3);
  EXPECT_EQ(exit["reason"], "exited");
  ASSERT_TRUE(ws.close_received());
  EXPECT_EQ(ws.close_received()->code, 1000);
}

TEST_F(Terminal, ALargePasteReachesTheShellWhileItsOutputFlows) {
  WsClient ws;
  ASSERT_EQ(ws.connect(daemon_->port(), "/v1/sandboxes/tm1/terminal", bearer()).status, 101);
  ASSERT_TRUE(ws.send_binary("cat > /tmp/paste; echo got-$(wc -c < /tmp/paste)-bytes\n"));
  std::string line(99, 'p');
  line += '\n';
  std::string paste;
  for (int i = 0; i < 6000; ++i) paste += line;  // 600,000 bytes, echoed back as they go
  ASSERT_TRUE(ws.send_binary(paste));
  ASSERT_TRUE(ws.send_binary("\x04"));  // end of input for cat
  EXPECT_TRUE(ws.output_until("got-600000-bytes", std::chrono::seconds(60)))
      << ws.output().substr(ws.output().size() > 300 ? ws.output().size() - 300 : 0);
}

TEST_F(Terminal, OpeningWakesAStoppedSandboxAndItsStopClosesTheSession) {
  auto stop = daemon_->http().Post("/v1/sandboxes/tm2/stop", "", "application/json");
  ASSERT_TRUE(stop && stop->status == 200);
  ASSERT_EQ(status("tm2"), "stopped");
  WsClient ws;
  auto hs = ws.connect(daemon_->port(), "/v1/sandboxes/tm2/terminal?ticket=" + ticket("tm2"));
  ASSERT_EQ(hs.status, 101) << hs.body;
  EXPECT_EQ(status("tm2"), "running");
  ASSERT_TRUE(ws.send_binary("echo up-$((40+2))\n"));
  ASSERT_TRUE(ws.output_until("up-42")) << ws.output();
  stop = daemon_->http().Post("/v1/sandboxes/tm2/stop", "", "application/json");
  ASSERT_TRUE(stop && stop->status == 200);
  ws.output_until("never-printed", std::chrono::seconds(15));
  json exit = exit_message(ws);
  ASSERT_TRUE(exit.is_object()) << ws.output();
  EXPECT_EQ(exit["reason"], "sandbox_stopped");
  ASSERT_TRUE(ws.close_received());
  EXPECT_EQ(ws.close_received()->code, 1001);
}

TEST_F(Terminal, AVanishedClientLeavesNoShellBehind) {
  WsClient ws;
  ASSERT_EQ(ws.connect(daemon_->port(), "/v1/sandboxes/tm1/terminal", bearer()).status, 101);
  ASSERT_TRUE(ws.send_binary("echo ready-$((1+1))\n"));
  ASSERT_TRUE(ws.output_until("ready-2")) << ws.output();
  auto shells = [] {
    json r = daemon_->exec("tm1", {{"cmd", {"pgrep", "-c", "-x", "bash"}}});
    return r.is_null() ? -1 : std::atoi(r["stdout"].get<std::string>().c_str());
  };
  EXPECT_EQ(shells(), 1);
  ws.drop();
  EXPECT_TRUE(eventually([&] { return shells() == 0; }, std::chrono::seconds(15)));
}

}  // namespace
}  // namespace sandboxd::testing_support
