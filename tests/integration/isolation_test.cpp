// Integration: from inside a sandbox, another sandbox's dev-server port and sandboxd's
// API (with its /metrics) and wake listener are unreachable, while the host and the edge
// still reach the app; the edge never serves /metrics.
// Connections go only to the test's own containers and the host's own address on the test's
// network.
#include <gtest/gtest.h>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// A one-line app (env values may not contain newlines).
constexpr const char* kServer =
    "require('http').createServer((q, s) => s.end('app-b')).listen(process.env.PORT, "
    "process.env.HOST);";

// Node one-liner run inside a sandbox: exit 0 if a TCP connection to HOST:PORT succeeds
// within 2 s, 1 otherwise.
constexpr const char* kProbe =
    "const s = require('net').connect(+process.env.PORT, process.env.HOST, () => process.exit(0));"
    "s.on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 2000);";

int probe(Daemon& d, const std::string& from, const std::string& host, int port) {
  json r = d.exec(from, {{"cmd", {"node", "-e", kProbe}},
                         {"env", {{"HOST", host}, {"PORT", std::to_string(port)}}}});
  return r.is_null() ? -1 : r["exit_code"].get<int>();
}

TEST(Isolation, SandboxesReachNeitherEachOtherNorTheApiAndItsMetricsButTheHostReachesThem) {
  Daemon d("iso");
  ASSERT_TRUE(d.start()) << d.log();
  for (const char* body : {R"({"id":"a1"})", R"({"id":"b1","ports":[3000]})"}) {
    auto r = d.http().Post("/sandbox", body, "application/json");
    ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d.log();
  }
  ASSERT_TRUE(d.write_node_app("b1", kServer));
  json b = docker_inspect(d.container("b1"));
  std::string b_ip = b["NetworkSettings"]["Networks"][d.network()]["IPAddress"];
  auto [rc, gw] = run_cmd(
      {"docker", "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", d.network()});
  ASSERT_EQ(rc, 0);
  gw.erase(gw.find_last_not_of("\n") + 1);
  // The host (the edge's and the wake path's side) reaches b's app.
  ASSERT_TRUE(eventually([&] {
    httplib::Client c(b_ip, 3000);
    c.set_connection_timeout(1, 0);
    auto r = c.Get("/");
    return r && r->body == "app-b";
  })) << d.http().Get("/v1/sandboxes/b1/logs")->body;
  // b reaches its own app; a reaches neither b's app nor sandboxd's API via the host.
  EXPECT_EQ(probe(d, "b1", "127.0.0.1", 3000), 0) << "the probe itself must work";
  EXPECT_EQ(probe(d, "a1", b_ip, 3000), 1) << "sandbox a reached sandbox b's dev server";
  EXPECT_EQ(probe(d, "a1", gw, d.port()), 1) << "sandbox a reached the sandboxd API";
  EXPECT_EQ(probe(d, "a1", gw, d.wake_port()), 1) << "sandbox a reached the wake listener";
  // Preview traffic still flows, through the edge.
  auto via_edge = d.preview("b1", 3000)->Get("/");
  ASSERT_TRUE(via_edge);
  EXPECT_EQ(via_edge->body, "app-b");
  // /metrics is served by the API (unreachable from sandboxes, above) and never by the
  // edge, whatever the Host.
  auto api_metrics = d.http().Get("/metrics");
  ASSERT_TRUE(api_metrics && api_metrics->status == 200);
  EXPECT_NE(api_metrics->body.find("sandboxd_sandboxes{state=\"running\"} 2\n"), std::string::npos)
      << api_metrics->body;
  httplib::Client edge("127.0.0.1", d.wake_port());
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto m = edge.Get("/metrics", {{"Host", host}});
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 404) << host;
    EXPECT_EQ(m->body.find("sandboxd_"), std::string::npos) << host;
  }
  json net = json::parse(run_cmd({"docker", "network", "inspect", d.network()}).second)[0];
  EXPECT_EQ(net["Options"]["com.docker.network.bridge.enable_icc"], "false");
}

}  // namespace
}  // namespace sandboxd::testing_support
