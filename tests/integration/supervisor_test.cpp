// Integration: sandbox-init in a real sandbox serves the app from the manifest, restarts
// it, survives stop/start with nobody re-running it, and logs it; the logs API never
// follows a tenant's symlink. HTTP goes only to the test's own container.
#include <gtest/gtest.h>

#include <thread>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// One line: env values may not contain newlines.
constexpr const char* kServer =
    "const http = require('http');"
    "http.createServer((req, res) => { let body = ''; req.on('data', (c) => (body += c));"
    " req.on('end', () => res.end('hello from app ' + req.method + ' ' + body + ' port=' + "
    "process.env.PORT)); })"
    ".listen(process.env.PORT, process.env.HOST, () => console.log('app listening on ' + "
    "process.env.PORT));";

std::string container_ip(Daemon& d, const std::string& id) {
  json c = docker_inspect(d.container(id));
  if (c.is_null()) return "";
  return c["NetworkSettings"]["Networks"][d.network()]["IPAddress"].get<std::string>();
}

std::string fetch(const std::string& ip, int port) {
  if (ip.empty()) return "";
  httplib::Client c(ip, port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(2, 0);
  auto r = c.Get("/");
  return r && r->status == 200 ? r->body : "";
}

TEST(Supervisor, ServesTheManifestAppRestartsItAndBringsItBackAfterAStop) {
  Daemon d("sup");
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.http().Post("/sandbox", R"({"id":"app1","ports":[3000]})", "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d.log();
  // Nothing to run yet; then an "agent" writes the app and its manifest.
  ASSERT_TRUE(d.write_node_app("app1", kServer));
  std::string ip = container_ip(d, "app1");
  ASSERT_TRUE(eventually([&] {
    return fetch(ip, 3000).find("hello from app GET") != std::string::npos;
  })) << d.http().Get("/v1/sandboxes/app1/logs")->body;
  EXPECT_NE(fetch(ip, 3000).find("port=3000"), std::string::npos);

  // The dev server dies: sandbox-init starts it again.
  d.exec("app1", {{"cmd", {"pkill", "-f", "node server.js"}}});
  ASSERT_TRUE(
      eventually([&] { return fetch(ip, 3000).find("hello from app") != std::string::npos; }));

  // Stop is graceful (sandbox-init handles SIGTERM; no SIGKILL after the grace period)...
  ASSERT_EQ(d.http().Post("/v1/sandboxes/app1/stop", "", "application/json")->status, 200);
  json c = docker_inspect(d.container("app1"));
  EXPECT_NE(c["State"]["ExitCode"], 137) << "stopped by SIGKILL, not by SIGTERM";
  // ...and after a start the app is served again without anyone running anything.
  ASSERT_EQ(d.http().Post("/v1/sandboxes/app1/start", "", "application/json")->status, 200);
  ip = container_ip(d, "app1");
  ASSERT_TRUE(
      eventually([&] { return fetch(ip, 3000).find("hello from app") != std::string::npos; }));

  auto logs = d.http().Get("/v1/sandboxes/app1/logs");
  ASSERT_EQ(logs->status, 200);
  EXPECT_NE(logs->body.find("started (manifest, port 3000"), std::string::npos) << logs->body;
  EXPECT_NE(logs->body.find("app listening on 3000"), std::string::npos) << logs->body;
  EXPECT_NE(logs->body.find("restarting in"), std::string::npos) << logs->body;
  EXPECT_EQ(d.http().Get("/v1/sandboxes/app1/logs?tail=10")->body.size(), 10u);
  EXPECT_EQ(d.http().Get("/v1/sandboxes/app1/logs?tail=0")->status, 400);
  EXPECT_EQ(d.http().Get("/v1/sandboxes/nope/logs")->status, 404);
}

TEST(Supervisor, TheLogsApiNeverFollowsATenantSymlink) {
  Daemon d("suplink");
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.http().Post("/sandbox", R"({"id":"ln1"})", "application/json");
  ASSERT_TRUE(r && r->status == 201);
  d.exec("ln1", {{"cmd",
                  {"sh", "-c",
                   "mkdir -p ~/.sandboxed/logs && ln -sf /etc/passwd ~/.sandboxed/logs/dev.log"}}});
  auto logs = d.http().Get("/v1/sandboxes/ln1/logs");
  ASSERT_TRUE(logs);
  EXPECT_EQ(logs->status, 409) << logs->body;
  EXPECT_EQ(logs->body.find("root:"), std::string::npos);
  d.exec("ln1",
         {{"cmd", {"sh", "-c", "rm -rf ~/.sandboxed/logs && ln -s /etc ~/.sandboxed/logs"}}});
  logs = d.http().Get("/v1/sandboxes/ln1/logs");
  EXPECT_EQ(logs->status, 409) << logs->body;
}

}  // namespace
}  // namespace sandboxd::testing_support
