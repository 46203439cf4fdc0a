// Integration: the reconciler and the idle reaper against the real dockerd. Crashes are
// emulated by kill -9 plus writing the row a crash would leave, then restarting.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json get(Daemon& d, const std::string& id) {
  auto r = d.http().Get("/sandbox/" + id);
  return r ? json::parse(r->body, nullptr, false) : json(nullptr);
}

bool create(Daemon& d, const std::string& payload) {
  auto r = d.http().Post("/sandbox", payload, "application/json");
  EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no response") << d.log();
  return r && r->status == 201;
}

TEST(Convergence, ABootAfterKill9FinishesInterruptedOperationsWithWorkspacesIntact) {
  Daemon d("boot");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(create(d, R"({"id":"gone1"})"));
  ASSERT_TRUE(create(d, R"({"id":"stop1"})"));
  ASSERT_TRUE(create(d, R"({"id":"del1"})"));
  ASSERT_TRUE(create(d, R"({"id":"crt1","env":{"K":"v"}})"));
  auto w = d.http().Post("/sandbox/gone1/exec", R"({"cmd":["sh","-c","echo survived > f"]})",
                         "application/json");
  ASSERT_TRUE(w && w->status == 200);
  d.stop(/*hard=*/true);
  // What crashes and outside hands leave behind.
  ASSERT_EQ(run_cmd({"docker", "rm", "-f", d.container("gone1"), d.container("crt1")}).first, 0);
  {
    SQLite::Database db(d.data_dir() + "/state/sandboxd.db", SQLite::OPEN_READWRITE);
    db.exec("UPDATE sandboxes SET status = 'stopping' WHERE id = 'stop1'");
    db.exec("UPDATE sandboxes SET status = 'deleting' WHERE id = 'del1'");
    db.exec("UPDATE sandboxes SET status = 'creating', container_id = '' WHERE id = 'crt1'");
  }
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(get(d, "gone1")["status"], "stopped");
  EXPECT_EQ(get(d, "stop1")["status"], "stopped");
  EXPECT_EQ(docker_inspect(d.container("stop1"))["State"]["Running"], false);
  EXPECT_EQ(d.http().Get("/sandbox/del1")->status, 404);
  EXPECT_TRUE(docker_inspect(d.container("del1")).is_null());
  EXPECT_TRUE(fs::exists(d.workspace("del1")));
  EXPECT_EQ(get(d, "crt1")["status"], "running");
  EXPECT_EQ(docker_inspect(d.container("crt1"))["State"]["Running"], true);
  // The vanished container comes back on the same workspace.
  auto r = d.http().Post("/sandbox/gone1/exec", R"({"cmd":["cat","f"]})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["stdout"], "survived\n") << r->body;
}

TEST(Convergence, TheReconcilerNoticesContainersChangedBehindItsBack) {
  // The timer alone: docker events are off here (the next test covers them).
  Daemon d("drift",
           {{"SANDBOXD_RECONCILE_INTERVAL_SECONDS", "1"}, {"SANDBOXD_DOCKER_EVENTS", "false"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(create(d, R"({"id":"ex1"})"));
  ASSERT_TRUE(create(d, R"({"id":"on1","idle_policy":"always_on"})"));
  ASSERT_TRUE(create(d, R"({"id":"st1"})"));
  ASSERT_EQ(d.http().Post("/v1/sandboxes/st1/stop", "", "application/json")->status, 200);
  ASSERT_EQ(run_cmd({"docker", "stop", "-t", "1", d.container("ex1")}).first, 0);
  ASSERT_EQ(run_cmd({"docker", "rm", "-f", d.container("on1")}).first, 0);
  ASSERT_EQ(run_cmd({"docker", "start", d.container("st1")}).first, 0);
  // An orphan of this installation: a row deleted behind sandboxd's back.
  ASSERT_TRUE(create(d, R"({"id":"orph1"})"));
  {
    SQLite::Database db(d.data_dir() + "/state/sandboxd.db", SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM sandboxes WHERE id = 'orph1'");
  }
  EXPECT_TRUE(eventually([&] { return get(d, "ex1")["status"] == "stopped"; })) << d.log();
  EXPECT_TRUE(eventually([&] {
    auto c = docker_inspect(d.container("on1"));
    return !c.is_null() && c["State"]["Running"] == true;
  })) << d.log();
  EXPECT_TRUE(
      eventually([&] { return docker_inspect(d.container("st1"))["State"]["Running"] == false; }));
  EXPECT_TRUE(eventually([&] { return docker_inspect(d.container("orph1")).is_null(); }))
      << d.log();
  EXPECT_EQ(get(d, "st1")["status"], "stopped");
}

TEST(Convergence, DockerEventsConvergeDriftWithoutWaitingForATick) {
  // No timer: the reconciler runs at boot and then only on docker events.
  Daemon d("events", {{"SANDBOXD_RECONCILE_INTERVAL_SECONDS", "0"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(create(d, R"({"id":"ex1"})"));
  ASSERT_TRUE(create(d, R"({"id":"on1","idle_policy":"always_on"})"));
  ASSERT_TRUE(create(d, R"({"id":"st1"})"));
  ASSERT_EQ(d.http().Post("/v1/sandboxes/st1/stop", "", "application/json")->status, 200);
  ASSERT_EQ(run_cmd({"docker", "kill", d.container("ex1")}).first, 0);
  ASSERT_EQ(run_cmd({"docker", "rm", "-f", d.container("on1")}).first, 0);
  ASSERT_EQ(run_cmd({"docker", "start", d.container("st1")}).first, 0);
  EXPECT_TRUE(eventually([&] { return get(d, "ex1")["status"] == "stopped"; })) << d.log();
  EXPECT_EQ(get(d, "ex1")["stop_reason"], "container exited (code 137)");
  EXPECT_TRUE(eventually([&] {
    auto c = docker_inspect(d.container("on1"));
    return !c.is_null() && c["State"]["Running"] == true;
  })) << d.log();
  EXPECT_TRUE(eventually([&] {
    return docker_inspect(d.container("st1"))["State"]["Running"] == false;
  })) << d.log();
  EXPECT_EQ(get(d, "st1")["status"], "stopped");
}

TEST(Convergence, ADockerdRestartConvergesAndTheNextPreviewRequestWakesTheSandbox) {
  Daemon d("dockerd", {{"SANDBOXD_RECONCILE_INTERVAL_SECONDS", "0"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(create(d, R"({"id":"rs1","ports":[3000]})"));
  ASSERT_TRUE(d.write_node_app(
      "rs1", "require('http').createServer((q, s) => s.end('up')).listen(process.env.PORT);"));
  auto w = d.http().Post("/sandbox/rs1/exec", R"({"cmd":["sh","-c","echo kept > marker"]})",
                         "application/json");
  ASSERT_TRUE(w && w->status == 200);
  ASSERT_TRUE(eventually([&] {
    auto r = d.preview("rs1", 3000)->Get("/");
    return r && r->body == "up";
  })) << d.log();

  // Restart dockerd as the machine's own scripts start it; its containers exit.
  std::ifstream pidfile("/var/run/docker.pid");
  pid_t pid = 0;
  ASSERT_TRUE(pidfile >> pid) << "no dockerd pid file";
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ASSERT_TRUE(eventually([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(60)));
  ASSERT_EQ(run_cmd({SANDBOXD_SOURCE_DIR "/scripts/host-deps.sh"}).first, 0);

  // sandboxd's event stream reconnects and converges: the row says stopped...
  EXPECT_TRUE(eventually([&] { return get(d, "rs1")["status"] == "stopped"; })) << d.log();
  // ...and the next preview request wakes it, dev server and workspace intact.
  auto r = d.preview("rs1", 3000)->Get("/");
  ASSERT_TRUE(r) << d.log();
  EXPECT_EQ(r->body, "up");
  auto cat = d.http().Post("/sandbox/rs1/exec", R"({"cmd":["cat","marker"]})", "application/json");
  ASSERT_TRUE(cat && cat->status == 200);
  EXPECT_EQ(json::parse(cat->body)["stdout"], "kept\n");
}

TEST(Convergence, TheIdleReaperStopsOnlyTheIdleSandbox) {
  Daemon d("idle", {{"SANDBOXD_IDLE_THRESHOLD_SECONDS", "3"},
                    {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "1"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(create(d, R"({"id":"idle1"})"));
  ASSERT_TRUE(create(d, R"({"id":"kept1"})"));
  ASSERT_TRUE(create(d, R"({"id":"on1","idle_policy":"always_on"})"));
  ASSERT_TRUE(create(d, R"({"id":"busy1"})"));
  ASSERT_EQ(
      d.http().Post("/sandbox/kept1/keepalive", R"({"seconds":3600})", "application/json")->status,
      200);
  std::thread busy([&] {
    httplib::Client c("127.0.0.1", d.port());
    c.set_bearer_token_auth(d.token());
    c.set_read_timeout(60, 0);
    c.Post("/sandbox/busy1/exec", R"({"cmd":["sleep","8"]})", "application/json");
  });
  EXPECT_TRUE(eventually([&] { return get(d, "idle1")["status"] == "stopped"; })) << d.log();
  json idle = get(d, "idle1");
  EXPECT_EQ(idle["stop_reason"], "idle");
  EXPECT_EQ(idle["idle"]["reason"], "stopped (idle)");
  EXPECT_EQ(get(d, "kept1")["status"], "running");
  EXPECT_NE(get(d, "kept1")["idle"]["reason"].get<std::string>().find("kept alive"),
            std::string::npos);
  EXPECT_EQ(get(d, "on1")["status"], "running");
  EXPECT_EQ(get(d, "busy1")["status"], "running");
  busy.join();
}

TEST(Convergence, LowMemoryRefusesCreatesWith503AndLeavesNothing) {
  // Every real host is "low" when the refuse band is 100%.
  Daemon d("admit", {{"SANDBOXD_MEM_REFUSE_PCT", "100"},
                     {"SANDBOXD_MEM_HEADROOM_PCT", "100"},
                     {"SANDBOXD_MEM_EMERGENCY_PCT", "0"},
                     {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "0"}});
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.http().Post("/sandbox", R"({"id":"mem1"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  EXPECT_NE(r->body.find("memory"), std::string::npos) << r->body;
  EXPECT_EQ(d.http().Get("/sandbox/mem1")->status, 404);
  EXPECT_TRUE(d.containers().empty());
}

TEST(Convergence, ThePressureReaperStopsIdleEligibleSandboxesButNotAlwaysOn) {
  // Every real host is under a 100% headroom band; the emergency band is off.
  Daemon d("pressure", {{"SANDBOXD_MEM_HEADROOM_PCT", "100"},
                        {"SANDBOXD_MEM_REFUSE_PCT", "0"},
                        {"SANDBOXD_MEM_EMERGENCY_PCT", "0"},
                        {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "1"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(create(d, R"({"id":"on1","idle_policy":"always_on"})"));
  ASSERT_TRUE(create(d, R"({"id":"slp1"})"));
  EXPECT_TRUE(eventually([&] { return get(d, "slp1")["status"] == "stopped"; })) << d.log();
  EXPECT_EQ(get(d, "slp1")["stop_reason"], "memory pressure");
  EXPECT_EQ(get(d, "on1")["status"], "running");
}

}  // namespace
}  // namespace sandboxd::testing_support
