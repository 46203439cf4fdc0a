// Integration: a sandbox under gVisor (SANDBOXD_RUNTIME=gvisor; tests/run.sh registers
// Debian's runsc with dockerd through scripts/gvisor.sh): create, exec, files, a preview
// through the edge, stop and a wake by the preview, the disk quota, and a runc sandbox
// beside it on request. Fails (never skips) when runsc is not registered.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

TEST(Gvisor, ASandboxUnderGvisorCreatesExecsServesFilesAndAPreviewSleepsAndWakes) {
  auto [rc, runtimes] = run_cmd({"docker", "info", "--format", "{{json .Runtimes}}"});
  ASSERT_NE(runtimes.find("\"runsc\""), std::string::npos)
      << "runsc is not registered with dockerd: run scripts/gvisor.sh (tests/run.sh does)";
  Daemon d("gvisor", {{"SANDBOXD_RUNTIME", "gvisor"}});
  ASSERT_TRUE(d.start()) << d.log();
  auto created = d.http().Post("/v1/sandboxes", R"({"id":"gv1","ports":[3000],"disk":"32m"})",
                               "application/json");
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "") << d.log();
  EXPECT_EQ(json::parse(created->body)["runtime"], "gvisor");
  json c = docker_inspect(d.container("gv1"));
  EXPECT_EQ(c["HostConfig"]["Runtime"], "runsc");
  // The tenant talks to gVisor's kernel, not the host's.
  struct utsname host {};
  ::uname(&host);
  json uname = d.exec("gv1", {{"cmd", {"uname", "-r"}}});
  ASSERT_FALSE(uname.is_null());
  EXPECT_EQ(uname["exit_code"], 0);
  EXPECT_NE(uname["stdout"], std::string(host.release) + "\n");
  json dmesg = d.exec("gv1", {{"cmd", {"dmesg"}}});
  EXPECT_NE(dmesg["stdout"].get<std::string>().find("gVisor"), std::string::npos) << dmesg.dump();
  // Exec as its own user, the files API, and the quota, all under gVisor.
  json who = d.exec("gv1", {{"cmd", {"id", "-un"}}});
  EXPECT_EQ(who["stdout"], "sandbox\n");
  auto put = d.http().Put("/v1/sandboxes/gv1/files",
                          R"({"path":"workspace/app/hello.txt","content":"from the host"})",
                          "application/json");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "");
  json cat = d.exec("gv1", {{"cmd", {"cat", "hello.txt"}}});
  EXPECT_EQ(cat["stdout"], "from the host");
  json dd = d.exec("gv1", {{"cmd", {"sh", "-c", "dd if=/dev/zero of=$HOME/big bs=1M count=64"}}});
  EXPECT_NE(dd["stderr"].get<std::string>().find("No space left on device"), std::string::npos)
      << dd.dump();
  d.exec("gv1", {{"cmd", {"rm", "-f", "/home/sandbox/big"}}});
  // A preview through the edge, a stop, and a wake by the next request.
  ASSERT_TRUE(d.write_node_app(
      "gv1",
      "require('http').createServer((q, s) => s.end('gvisor app')).listen(process.env.PORT);"));
  ASSERT_TRUE(eventually([&] {
    auto r = d.preview("gv1", 3000)->Get("/");
    return r && r->body == "gvisor app";
  })) << d.log();
  auto stop = d.http().Post("/v1/sandboxes/gv1/stop", "", "application/json");
  ASSERT_TRUE(stop && stop->status == 200);
  auto woke = d.preview("gv1", 3000)->Get("/");
  ASSERT_TRUE(woke) << d.log();
  EXPECT_EQ(woke->body, "gvisor app");
  EXPECT_EQ(json::parse(d.http().Get("/v1/sandboxes/gv1")->body)["status"], "running");
  // runc stays available per sandbox.
  auto runc =
      d.http().Post("/v1/sandboxes", R"({"id":"rc1","runtime":"runc"})", "application/json");
  ASSERT_TRUE(runc && runc->status == 201) << (runc ? runc->body : "");
  EXPECT_NE(docker_inspect(d.container("rc1"))["HostConfig"]["Runtime"], "runsc");
}

}  // namespace
}  // namespace sandboxd::testing_support
