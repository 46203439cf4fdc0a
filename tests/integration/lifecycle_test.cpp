// Integration tests: the real sandboxd binary, a real dockerd, real containers, real
// SQLite files and HTTP over loopback. Each test uses its own instance and cleans up.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class Lifecycle : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }

  static json body(const httplib::Result& r) {
    EXPECT_TRUE(r) << "no HTTP response";
    if (!r) return nullptr;
    return json::parse(r->body, nullptr, false);
  }

  static httplib::Result post(Daemon& d, const std::string& path,
                              const std::string& payload = "{}") {
    return d.http().Post(path, d.auth_headers, payload, "application/json");
  }

  static json create(Daemon& d, const std::string& payload) {
    auto r = post(d, "/sandbox", payload);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 201) << r->body << "\n" << d.log();
    return json::parse(r->body, nullptr, false);
  }

  static json exec(Daemon& d, const std::string& id, const json& req) {
    auto r = post(d, "/sandbox/" + id + "/exec", req.dump());
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false);
  }
};

TEST_F(Lifecycle, CreateRunsAContainerWithEveryHardeningFlag) {
  Daemon d("harden");
  ASSERT_TRUE(d.start()) << d.log();
  json s = create(d, R"({"id":"Hard1","ports":[3000],"env":{"API_KEY":"sk-very-secret-123"},
                         "memory":"300m","pids_limit":200,"nofile":4096})");
  EXPECT_EQ(s["id"], "hard1");
  EXPECT_EQ(s["status"], "running");
  json c = docker_inspect(d.container("hard1"));
  ASSERT_FALSE(c.is_null());
  const json& hc = c["HostConfig"];
  EXPECT_TRUE(c["State"]["Running"].get<bool>());
  EXPECT_EQ(hc["CapDrop"], json::array({"ALL"}));
  EXPECT_NE(hc["SecurityOpt"].dump().find("no-new-privileges"), std::string::npos);
  EXPECT_TRUE(hc["ReadonlyRootfs"].get<bool>());
  EXPECT_TRUE(hc["Init"].get<bool>());
  EXPECT_TRUE(hc["Tmpfs"].contains("/tmp"));
  EXPECT_EQ(hc["Memory"], 300LL << 20);
  EXPECT_EQ(hc["PidsLimit"], 200);
  EXPECT_EQ(hc["Ulimits"][0]["Name"], "nofile");
  EXPECT_EQ(hc["Ulimits"][0]["Hard"], 4096);
  EXPECT_EQ(hc["NetworkMode"], d.network());
  // Its own uid, far from any host account's, with a cap of one CPU (the default).
  const int64_t uid = s["uid"].get<int64_t>();
  EXPECT_GE(uid, 0x70000000);
  EXPECT_EQ(c["Config"]["User"], std::to_string(uid) + ":" + std::to_string(uid));
  EXPECT_EQ(hc["NanoCpus"], 1000000000LL);
  EXPECT_EQ(c["Config"]["Labels"]["sandboxed.managed"], "true");
  EXPECT_EQ(c["Config"]["Labels"]["sandboxed.id"], "hard1");
  EXPECT_EQ(c["Config"]["Labels"]["sandboxed.instance"], d.instance());
  for (const auto& [key, value] : c["Config"]["Labels"].items())  // the edge routes previews
    EXPECT_NE(key.rfind("traefik.", 0), 0u) << key;
  bool mounted = false;
  for (const auto& m : c["Mounts"]) {
    mounted |= m["Source"] == d.workspace("hard1") && m["Destination"] == "/home/sandbox";
  }
  EXPECT_TRUE(mounted) << c["Mounts"].dump();
  struct stat sb {};
  ASSERT_EQ(::stat(d.workspace("hard1").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, static_cast<uid_t>(uid));
  EXPECT_TRUE(fs::is_directory(d.workspace("hard1") + "/workspace/app"));
  // The secret reached the sandbox but not the log, the API (exec output masks it) or the
  // database file's neighbours.
  json env = exec(d, "hard1",
                  {{"cmd", {"sh", "-c", "test \"$API_KEY\" = sk-very-secret-123 && echo same"}}});
  EXPECT_EQ(env["stdout"], "same\n");
  env = exec(d, "hard1", {{"cmd", {"sh", "-c", "printf %s \"$API_KEY\""}}});
  EXPECT_EQ(env["stdout"], "***");
  EXPECT_EQ(d.log().find("sk-very-secret-123"), std::string::npos);
  EXPECT_EQ(d.http().Get("/sandbox/hard1")->body.find("sk-very-secret-123"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(d.data_dir() + "/state/run")) << "env file left behind";
  struct stat db {};
  ASSERT_EQ(::stat((d.data_dir() + "/state/sandboxd.db").c_str(), &db), 0);
  EXPECT_EQ(db.st_mode & 0777, 0600u);
}

TEST_F(Lifecycle, ExecReturnsOutputExitCodeAndRunsAsTheSandboxUser) {
  Daemon d("exec");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, R"({"id":"ex1"})");
  json r = exec(d, "ex1", {{"cmd", {"bash", "-c", "id -un; echo ~; pwd; echo oops >&2; exit 7"}}});
  EXPECT_EQ(r["exit_code"], 7);
  EXPECT_EQ(r["stdout"], "sandbox\n/home/sandbox\n/home/sandbox/workspace/app\n");
  EXPECT_EQ(r["stderr"], "oops\n");
  EXPECT_FALSE(r["timed_out"].get<bool>());
  json env = exec(d, "ex1",
                  {{"cmd", {"sh", "-c", "echo $GREETING; pwd"}},
                   {"env", {{"GREETING", "hello"}}},
                   {"workdir", "/tmp"}});
  EXPECT_EQ(env["stdout"], "hello\n/tmp\n");
  json slow = exec(d, "ex1", {{"cmd", {"sleep", "30"}}, {"timeout_s", 1}});
  EXPECT_TRUE(slow["timed_out"].get<bool>());
  EXPECT_NE(slow["exit_code"], 0);
  json big = exec(d, "ex1", {{"cmd", {"sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a"}}});
  EXPECT_TRUE(big["truncated"].get<bool>());
  EXPECT_LE(big["stdout"].get<std::string>().size(), 1u << 20);
  // The root filesystem is read-only; /tmp and the workspace are writable.
  json ro = exec(
      d, "ex1",
      {{"cmd",
        {"sh", "-c", "touch /etc/x 2>/dev/null; echo $?; touch /tmp/x && touch ~/y && echo ok"}}});
  EXPECT_EQ(ro["stdout"], "1\nok\n");
}

TEST_F(Lifecycle, StopExitsTheContainerStartRunsItAndExecWakesIt) {
  Daemon d("stop");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, R"({"id":"st1"})");
  auto stopped = post(d, "/v1/sandboxes/st1/stop");
  ASSERT_EQ(stopped->status, 200) << stopped->body;
  EXPECT_EQ(body(stopped)["status"], "stopped");
  EXPECT_EQ(docker_inspect(d.container("st1"))["State"]["Status"], "exited");
  auto again = post(d, "/v1/sandboxes/st1/stop");
  EXPECT_EQ(again->status, 200);
  auto started = post(d, "/v1/sandboxes/st1/start");
  ASSERT_EQ(started->status, 200) << started->body;
  EXPECT_EQ(body(started)["status"], "running");
  EXPECT_TRUE(docker_inspect(d.container("st1"))["State"]["Running"].get<bool>());
  ASSERT_EQ(post(d, "/v1/sandboxes/st1/stop")->status, 200);
  json woke = exec(d, "st1", {{"cmd", {"true"}}});
  EXPECT_EQ(woke["exit_code"], 0);
  EXPECT_EQ(body(d.http().Get("/sandbox/st1"))["status"], "running");
}

TEST_F(Lifecycle, DeleteKeepsTheWorkspaceAndRecreateReattachesIt) {
  Daemon d("reattach");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, R"({"id":"keep1"})");
  exec(d, "keep1", {{"cmd", {"sh", "-c", "echo persisted > note.txt"}}});
  auto del = d.http().Delete("/sandbox/keep1");
  ASSERT_EQ(del->status, 204);
  EXPECT_TRUE(docker_inspect(d.container("keep1")).is_null());
  EXPECT_EQ(d.http().Get("/sandbox/keep1")->status, 404);
  EXPECT_EQ(d.http().Delete("/sandbox/keep1")->status, 204);  // idempotent
  // Kept on its disk, which delete unmounts; the re-create mounts it again.
  EXPECT_TRUE(fs::exists(d.data_dir() + "/disks/keep1.img"));
  EXPECT_FALSE(fs::exists(d.workspace("keep1") + "/workspace/app/note.txt"));
  create(d, R"({"id":"keep1"})");
  json r = exec(d, "keep1", {{"cmd", {"cat", "note.txt"}}});
  EXPECT_EQ(r["stdout"], "persisted\n");
}

TEST_F(Lifecycle, PurgeRemovesContainerRowAndWorkspaceWithoutFollowingSymlinks) {
  Daemon d("purge");
  ASSERT_TRUE(d.start()) << d.log();
  // A directory outside every workspace that the tenant's links point at.
  std::string sentinel = d.data_dir() + "/../sentinel";
  fs::create_directories(sentinel + "/sub");
  std::ofstream(sentinel + "/sub/precious") << "keep me";
  create(d, R"({"id":"gone1"})");
  exec(d, "gone1", {{"cmd", {"sh", "-c", "head -c 200000 /dev/urandom > blob && mkdir -p a/b"}}});
  // Links planted host-side, as a tenant could with a path that exists on the host.
  fs::create_directory_symlink(sentinel, d.workspace("gone1") + "/workspace/app/a/b/link-dir");
  fs::create_directory_symlink(sentinel + "/sub", d.workspace("gone1") + "/workspace/mid");
  fs::create_symlink(sentinel + "/sub/precious", d.workspace("gone1") + "/workspace/app/link-file");
  auto r = post(d, "/sandbox/gone1/purge");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_GE(body(r)["freed_bytes"].get<int64_t>(), 200000);
  EXPECT_FALSE(fs::exists(d.workspace("gone1")));
  EXPECT_TRUE(docker_inspect(d.container("gone1")).is_null());
  EXPECT_EQ(d.http().Get("/sandbox/gone1")->status, 404);
  auto again = post(d, "/sandbox/gone1/purge");
  ASSERT_EQ(again->status, 200);
  EXPECT_EQ(body(again)["freed_bytes"], 0);
  std::ifstream kept(sentinel + "/sub/precious");
  std::string content((std::istreambuf_iterator<char>(kept)), {});
  EXPECT_EQ(content, "keep me") << "purge followed a symlink out of the workspace";
}

TEST_F(Lifecycle, StateSurvivesARestartAndAKill9) {
  Daemon d("restart");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, R"({"id":"dur1","ports":[3000,8080]})");
  create(d, R"({"id":"dur2"})");
  ASSERT_EQ(post(d, "/v1/sandboxes/dur2/stop")->status, 200);
  ASSERT_TRUE(d.stop()) << "SIGTERM did not shut down cleanly\n" << d.log();
  EXPECT_NE(d.log().find("sandboxd stopped"), std::string::npos);
  ASSERT_TRUE(d.start()) << d.log();
  json one = body(d.http().Get("/sandbox/dur1"));
  EXPECT_EQ(one["status"], "running");
  EXPECT_EQ(one["ports"], json::array({3000, 8080}));
  EXPECT_EQ(body(d.http().Get("/sandbox/dur2"))["status"], "stopped");
  d.stop(/*hard=*/true);
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(exec(d, "dur1", {{"cmd", {"echo", "alive"}}})["stdout"], "alive\n");
  EXPECT_EQ(body(d.http().Get("/sandboxes")).size(), 2u);
}

TEST_F(Lifecycle, AStartRecreatesAContainerRemovedBehindOurBack) {
  Daemon d("heal");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, R"({"id":"heal1","env":{"K":"v1"}})");
  exec(d, "heal1", {{"cmd", {"sh", "-c", "echo still-here > f"}}});
  ASSERT_EQ(post(d, "/v1/sandboxes/heal1/stop")->status, 200);
  ASSERT_EQ(run_cmd({"docker", "rm", "-f", d.container("heal1")}).first, 0);
  auto r = post(d, "/v1/sandboxes/heal1/start");
  ASSERT_EQ(r->status, 200) << r->body << d.log();
  json out = exec(d, "heal1", {{"cmd", {"sh", "-c", "cat f; echo $K"}}});
  EXPECT_EQ(out["stdout"], "still-here\nv1\n");
}

TEST_F(Lifecycle, ExecHealsASandboxWhoseContainerWasRemovedWhileRunning) {
  // What a dockerd reset or `docker rm -f` does: the row says running, no container.
  Daemon d("rmrun");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, R"({"id":"rm1"})");
  exec(d, "rm1", {{"cmd", {"sh", "-c", "echo kept > f"}}});
  ASSERT_EQ(run_cmd({"docker", "rm", "-f", d.container("rm1")}).first, 0);
  json out = exec(d, "rm1", {{"cmd", {"cat", "f"}}});
  EXPECT_EQ(out["stdout"], "kept\n");
}

TEST_F(Lifecycle, ASecondDaemonOnTheSameDataDirRefusesToStart) {
  Daemon a("lock1");
  ASSERT_TRUE(a.start()) << a.log();
  Daemon b("lock2", {{"SANDBOXED_DATA_DIR", a.data_dir()}});
  EXPECT_FALSE(b.start());
  EXPECT_NE(b.log().find("another sandboxd is using"), std::string::npos) << b.log();
  EXPECT_EQ(a.http().Get("/healthz")->status, 200);
}

TEST_F(Lifecycle, AnEnvFileNamedOnTheCommandLineMustExist) {
  Daemon d("envfile");
  d.serve_args = {"--env-file", "/nonexistent/sandboxd.env"};
  EXPECT_FALSE(d.start());
  EXPECT_NE(d.log().find("--env-file"), std::string::npos) << d.log();
}

TEST_F(Lifecycle, RequestPathsCannotForgeLogLines) {
  Daemon d("loginj");
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(d.http().Get("/sandbox/x%0aFORGED%20info%20line")->status, 400);
  // The request's log line is written just after the response: wait for it.
  EXPECT_TRUE(eventually([&] { return d.log().find("\\x0aFORGED") != std::string::npos; },
                         std::chrono::seconds(5)))
      << d.log();
  EXPECT_EQ(d.log().find("\nFORGED"), std::string::npos) << d.log();
}

TEST_F(Lifecycle, AuthEnabledRequiresTheBearerToken) {
  Daemon d("auth", {{"SANDBOXD_API_AUTH_DISABLED", "false"},
                    {"SANDBOXD_API_TOKENS", "ci:integration-secret-0123"}});
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(d.http().Get("/healthz")->status, 200);
  EXPECT_EQ(d.http().Get("/sandboxes")->status, 401);
  EXPECT_EQ(post(d, "/sandbox", R"({"id":"au1"})")->status, 401);
  EXPECT_TRUE(d.containers().empty());
  d.auth_headers = {{"Authorization", "Bearer integration-secret-0123"}};
  create(d, R"({"id":"au1"})");
  EXPECT_EQ(d.http().Get("/sandbox/au1", d.auth_headers)->status, 200);
  EXPECT_TRUE(eventually([&] { return d.log().find("actor=ci") != std::string::npos; },
                         std::chrono::seconds(5)));
  // Service log lines carry the id of the request they serve.
  std::string log = d.log();
  auto created = log.find("sandbox au1 created");
  ASSERT_NE(created, std::string::npos) << log;
  std::string line = log.substr(log.rfind('\n', created) + 1, created - log.rfind('\n', created));
  EXPECT_NE(line.find("request_id="), std::string::npos) << line;
  EXPECT_EQ(d.log().find("integration-secret-0123"), std::string::npos);
}

TEST_F(Lifecycle, AuthIsOnByDefaultAndServeRefusesToStartWithoutAToken) {
  Daemon d("notoken", {{"SANDBOXD_API_TOKENS", ""}});
  EXPECT_FALSE(d.start());
  EXPECT_NE(d.log().find("SANDBOXD_API_TOKENS"), std::string::npos) << d.log();
  // The harness's own daemons run with a token: without it, every call is 401.
  Daemon with_token("deftoken");
  ASSERT_TRUE(with_token.start()) << with_token.log();
  httplib::Client anonymous("127.0.0.1", with_token.port());
  EXPECT_EQ(anonymous.Get("/v1/sandboxes")->status, 401);
  EXPECT_EQ(with_token.http().Get("/v1/sandboxes")->status, 200);
}

TEST_F(Lifecycle, AuthDisabledExplicitlyServesWithoutATokenOnLoopbackOnly) {
  Daemon d("noauth", {{"SANDBOXD_API_AUTH_DISABLED", "true"}, {"SANDBOXD_API_TOKENS", ""}});
  ASSERT_TRUE(d.start()) << d.log();
  httplib::Client anonymous("127.0.0.1", d.port());
  EXPECT_EQ(anonymous.Get("/sandboxes")->status, 200);
  Daemon public_bind("pubnoauth",
                     {{"SANDBOXD_API_AUTH_DISABLED", "true"}, {"SANDBOXED_API_BIND", "0.0.0.0:0"}});
  EXPECT_FALSE(public_bind.start());
  EXPECT_NE(public_bind.log().find("loopback"), std::string::npos) << public_bind.log();
}

TEST_F(Lifecycle, TheTokenCommandPrintsAConfiguredSecret) {
  std::string dir = "/tmp/sandboxd-it-token-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream env(dir + "/.env");
    env << "SANDBOXD_API_TOKENS=backend:first-secret-0123456789,ops:second-secret-0123456789\n";
  }
  auto [rc, out] = run_cmd({SANDBOXD_BINARY, "token", "--env-file", dir + "/.env"});
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "first-secret-0123456789\n");
  auto [rc_ops, ops] =
      run_cmd({SANDBOXD_BINARY, "token", "--env-file", dir + "/.env", "--name", "ops"});
  EXPECT_EQ(rc_ops, 0);
  EXPECT_EQ(ops, "second-secret-0123456789\n");
  auto [rc_none, none] =
      run_cmd({SANDBOXD_BINARY, "token", "--env-file", dir + "/.env", "--name", "nobody"});
  EXPECT_EQ(rc_none, 1);
  EXPECT_TRUE(none.empty());
  std::filesystem::remove_all(dir);
}

TEST_F(Lifecycle, BadInputGetsA4xxAndLeavesNothingBehind) {
  Daemon d("bad");
  ASSERT_TRUE(d.start()) << d.log();
  struct Case {
    std::string method, path, payload;
  };
  std::vector<Case> cases = {
      {"POST", "/sandbox", "{\"id\":"},
      {"POST", "/sandbox", "[1,2]"},
      {"POST", "/sandbox", R"({"id":42})"},
      {"POST", "/sandbox", R"({"ports":"3000"})"},
      {"POST", "/sandbox", R"({"env":"A=B"})"},
      {"POST", "/sandbox", R"({"id":"../x"})"},
      {"POST", "/sandbox", R"({"id":"a/b"})"},
      {"POST", "/sandbox", "{\"id\":\"" + std::string(33, 'a') + "\"}"},
      {"POST", "/sandbox", R"({"id":"bad1","ports":[0]})"},
      {"POST", "/sandbox", R"({"id":"bad2","ports":[70000]})"},
      {"POST", "/sandbox", R"({"id":"bad3","ports":[3000,3000]})"},
      {"POST", "/sandbox", R"({"id":"bad4","env":{"A=B":"x"}})"},
      {"POST", "/sandbox", R"({"id":"bad5","env":{"A\nB":"x"}})"},
      {"POST", "/sandbox", R"({"id":"bad6","env":{"A":"x\ny"}})"},
      {"POST", "/sandbox", R"({"id":"bad7","memory":"1t"})"},
      {"POST", "/sandbox", R"({"id":"bad8","idle_policy":"never"})"},
      {"POST", "/sandbox", "{\"id\":\"bad9\",\"pad\":\"" + std::string(10 << 20, 'x') + "\"}"},
      {"GET", "/sandbox/unknown1", ""},
      {"POST", "/sandbox/unknown1/exec", R"({"cmd":["ls"]})"},
      {"POST", "/sandbox/unknown1/keepalive", ""},
      {"POST", "/v1/sandboxes/unknown1/stop", ""},
      {"POST", "/v1/sandboxes/unknown1/start", ""},
      {"GET", "/sandbox/" + std::string(33, 'a'), ""},
      {"GET", "/sandbox/..%2Fx", ""},
      {"POST", "/sandbox/a%2Fb/purge", ""},
      {"DELETE", "/sandbox/..", ""},
  };
  for (const auto& c : cases) {
    httplib::Result r = c.method == "GET"      ? d.http().Get(c.path)
                        : c.method == "DELETE" ? d.http().Delete(c.path)
                                               : post(d, c.path, c.payload);
    ASSERT_TRUE(r) << c.path << " " << c.payload.substr(0, 60);
    EXPECT_GE(r->status, 400) << c.path << " " << c.payload.substr(0, 60) << " -> " << r->body;
    EXPECT_LT(r->status, 500) << c.path << " " << c.payload.substr(0, 60) << " -> " << r->body;
    auto j = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << c.path << " -> " << r->body;
  }
  // Exec with bad bodies on a real sandbox changes nothing either.
  create(d, R"({"id":"real1"})");
  for (const char* payload :
       {"{}", R"({"cmd":[]})", R"({"cmd":"ls"})", R"({"cmd":["ls"],"timeout_s":"x"})",
        R"({"cmd":["ls"],"env":{"=":"x"}})"}) {
    auto r = post(d, "/sandbox/real1/exec", payload);
    EXPECT_EQ(r->status, 400) << payload << " -> " << r->body;
  }
  ASSERT_EQ(post(d, "/sandbox/real1/purge")->status, 200);
  EXPECT_TRUE(body(d.http().Get("/sandboxes")).empty());
  EXPECT_TRUE(d.containers().empty());
  EXPECT_TRUE(fs::is_empty(d.data_dir() + "/workspaces"));
  EXPECT_TRUE(d.http().Get("/healthz")) << "the daemon must survive bad input";
}

TEST_F(Lifecycle, AMissingImageIs503AndLeavesNothingBehind) {
  Daemon d("noimage", {{"SANDBOXD_IMAGE", "sandboxed-does-not-exist:0"}});
  ASSERT_TRUE(d.start()) << d.log();
  auto r = post(d, "/sandbox", R"({"id":"img1"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(d.http().Get("/sandbox/img1")->status, 404);
  EXPECT_TRUE(d.containers().empty());
  EXPECT_FALSE(fs::exists(d.workspace("img1")));
}

TEST_F(Lifecycle, TwoInstancesShareDockerWithoutSeeingEachOther) {
  Daemon a("insta");
  Daemon b("instb");
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  create(a, R"({"id":"same1"})");
  create(b, R"({"id":"same1"})");
  EXPECT_NE(a.container("same1"), b.container("same1"));
  exec(a, "same1", {{"cmd", {"sh", "-c", "echo from-a > who"}}});
  EXPECT_EQ(exec(b, "same1", {{"cmd", {"sh", "-c", "cat who 2>/dev/null || echo none"}}})["stdout"],
            "none\n");
  ASSERT_EQ(a.http().Delete("/sandbox/same1")->status, 204);
  EXPECT_TRUE(docker_inspect(b.container("same1"))["State"]["Running"].get<bool>());
  EXPECT_EQ(a.containers().size(), 0u);
  EXPECT_EQ(b.containers().size(), 1u);
  EXPECT_EQ(body(b.http().Get("/sandboxes")).size(), 1u);
}

TEST_F(Lifecycle, ReadyzAnswersWhenDockerAndSqliteDo) {
  Daemon d("ready");
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.http().Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(Lifecycle, ABadConfigValueIsAStartupErrorNamingTheVariable) {
  Daemon d("badcfg", {{"SANDBOXD_DEFAULT_PIDS", "lots"}});
  EXPECT_FALSE(d.start());
  EXPECT_NE(d.log().find("SANDBOXD_DEFAULT_PIDS"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace sandboxd::testing_support
