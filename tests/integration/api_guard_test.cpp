// Integration: no web page can drive the API, whatever the auth setting. curl sends what a
// page could (a text/plain or form body, a foreign Origin, a rebound Host) and real
// headless Chromium loads a page served from a preview host that fetch()es the API; each
// refused request changes nothing. A listed origin gets working CORS. Traffic goes only
// to loopback.
#include <gtest/gtest.h>

#include <filesystem>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// curl's status code for one request to the API (no body printed).
int curl_status(Daemon& d, std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl", "-s",           "-o",         "/dev/null",
                                   "-w",   "%{http_code}", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string& last = argv.back();
  last = "http://127.0.0.1:" + std::to_string(d.port()) + last;
  auto [rc, out] = run_cmd(argv);
  return rc == 0 ? std::atoi(out.c_str()) : -1;
}

std::vector<std::string> sandbox_ids(Daemon& d) {
  std::vector<std::string> ids;
  auto r = d.http().Get("/v1/sandboxes");
  if (!r || r->status != 200) return {"<list failed>"};
  const json page = json::parse(r->body);
  for (const auto& s : page["sandboxes"]) ids.push_back(s["id"]);
  return ids;
}

int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

TEST(ApiGuard, CurlWithWhatAPageCouldSendIsRefusedAndChangesNothing) {
  Daemon d("guardcurl", {{"SANDBOXD_API_AUTH_DISABLED", "true"}, {"SANDBOXD_API_TOKENS", ""}});
  ASSERT_TRUE(d.start()) << d.log();
  const std::string create = R"({"id":"evil1"})";
  EXPECT_EQ(curl_status(d, {"-X", "POST", "-H", "Content-Type: text/plain", "--data-binary", create,
                            "/v1/sandboxes"}),
            415);
  EXPECT_EQ(curl_status(d, {"-d", create, "/sandbox"}), 415);  // curl -d: a form body
  EXPECT_EQ(
      curl_status(d, {"-H", "Content-Type: application/json", "-H",
                      "Origin: http://s-x-3000.preview.localhost", "-d", create, "/v1/sandboxes"}),
      403);
  EXPECT_EQ(curl_status(d, {"-X", "OPTIONS", "-H", "Origin: https://evil.test", "-H",
                            "Access-Control-Request-Method: POST", "/v1/sandboxes"}),
            403);
  EXPECT_EQ(curl_status(d, {"-H", "Content-Type: application/json", "-H",
                            "Host: rebind.evil.test:9090", "-d", create, "/v1/sandboxes"}),
            403);
  EXPECT_EQ(curl_status(d, {"-H", "Host: rebind.evil.test", "/v1/sandboxes"}), 403);
  EXPECT_TRUE(sandbox_ids(d).empty());
  EXPECT_TRUE(d.containers().empty());
  EXPECT_FALSE(std::filesystem::exists(d.workspace("evil1")));
  // The same request, as the API wants it, works.
  EXPECT_EQ(curl_status(d, {"-H", "Content-Type: application/json; charset=utf-8", "-d", create,
                            "/v1/sandboxes"}),
            201);
  EXPECT_EQ(sandbox_ids(d), std::vector<std::string>{"evil1"});
}

// Served by the sandbox on two ports, so two preview origins: port 3000 attacks the API,
// port 3001 (a listed origin) reads it with a CORS preflight.
std::string page_app(int api_port) {
  const std::string api = "http://127.0.0.1:" + std::to_string(api_port);
  const std::string port = std::to_string(api_port);
  std::string attack =
      "const api='" + api +
      "';"
      "const tries=["
      "fetch(api+'/v1/sandboxes',{method:'POST',mode:'no-cors',headers:{'Content-Type':"
      "'text/plain'},body:'{\"id\":\"evil1\"}'}),"
      "fetch(api+'/v1/sandboxes',{method:'POST',headers:{'Content-Type':'application/json'},"
      "body:'{\"id\":\"evil2\"}'}),"
      "fetch(api+'/v1/sandboxes/web1/exec',{method:'POST',mode:'no-cors',body:"
      "'{\"cmd\":[\"touch\",\"pwned1\"]}'}),"
      "fetch('http://localhost:" +
      port +
      "/v1/sandboxes/web1/exec',{method:'POST',mode:"
      "'no-cors',headers:{'Content-Type':'application/x-www-form-urlencoded'},body:"
      "'{\"cmd\":[\"touch\",\"pwned2\"]}'}),"
      "fetch('http://rebind.evil.test:" +
      port +
      "/v1/sandboxes',{method:'POST',mode:'no-cors',"
      "body:'{\"id\":\"evil3\"}'}),"
      "fetch(api+'/v1/sandboxes/web1/purge',{method:'POST',mode:'no-cors'}),"
      "fetch(api+'/v1/sandboxes/web1',{method:'DELETE'}),"
      "fetch(api+'/v1/sandboxes',{mode:'no-cors'})];"
      "Promise.allSettled(tries).then(rs=>document.body.setAttribute('data-done',"
      "'attack:'+rs.map(r=>r.status).join(',')));";
  std::string reader = "fetch('" + api +
                       "/v1/sandboxes',{headers:{'X-Request-Id':'cors-reader'}})"
                       ".then(r=>r.json()).then(j=>document.body.setAttribute('data-done','cors:'+"
                       "j.sandboxes.map(s=>s.id).join(',')))"
                       ".catch(e=>document.body.setAttribute('data-done','cors-failed:'+e));";
  return "const http=require('http');const pages={3000:" + json(attack).dump() +
         ",3001:" + json(reader).dump() +
         "};for(const p of [3000,3001]){http.createServer((req,res)=>{"
         "res.setHeader('Content-Type','text/html');res.end('<html><body>page<script>'+"
         "pages[p]+'</script></body></html>');}).listen(p,process.env.HOST);}";
}

std::string chromium_dom(Daemon& d, const std::string& host) {
  return headless_dom("http://" + host + ":" + std::to_string(d.wake_port()) + "/",
                      d.data_dir() + "/chromium");
}

TEST(ApiGuard, APageOnAPreviewHostCannotDriveTheApiEvenWithAuthDisabled) {
  Daemon d("guardpage", {{"SANDBOXD_API_AUTH_DISABLED", "true"}, {"SANDBOXD_API_TOKENS", ""}});
  // Port 3001's page is a listed origin; port 3000's is not.
  d.set_env("SANDBOXD_API_ALLOWED_ORIGINS",
            "http://" + Daemon::preview_host("web1", 3001) + ":" + std::to_string(d.wake_port()));
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.http().Post("/v1/sandboxes", json{{"id", "web1"}, {"ports", {3000, 3001}}}.dump(),
                         "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d.log();
  ASSERT_TRUE(d.write_node_app("web1", page_app(d.port())));
  ASSERT_TRUE(eventually([&] {
    auto a = d.preview("web1", 3000)->Get("/");
    auto b = d.preview("web1", 3001)->Get("/");
    return a && a->status == 200 && b && b->status == 200;
  })) << d.http().Get("/v1/sandboxes/web1/logs")->body;
  const int refused_before = count(d.log(), "status=403");

  std::string dom = chromium_dom(d, Daemon::preview_host("web1", 3000));
  EXPECT_NE(dom.find("data-done=\"attack:"), std::string::npos) << dom;
  // The page's requests reached sandboxd (the browser did not stop them) and were refused.
  EXPECT_TRUE(eventually([&] { return count(d.log(), "status=403") - refused_before >= 6; },
                         std::chrono::seconds(10)))
      << d.log();
  EXPECT_EQ(sandbox_ids(d), std::vector<std::string>{"web1"});
  auto web1 = d.http().Get("/v1/sandboxes/web1");
  ASSERT_TRUE(web1 && web1->status == 200);
  EXPECT_EQ(json::parse(web1->body)["status"], "running");
  EXPECT_FALSE(std::filesystem::exists(d.workspace("web1") + "/workspace/app/pwned1"));
  EXPECT_FALSE(std::filesystem::exists(d.workspace("web1") + "/workspace/app/pwned2"));
  EXPECT_EQ(d.containers().size(), 1u);

  // A listed origin reads the API, preflight included.
  std::string reader = chromium_dom(d, Daemon::preview_host("web1", 3001));
  EXPECT_NE(reader.find("data-done=\"cors:web1\""), std::string::npos) << reader << d.log();
  EXPECT_NE(d.log().find("OPTIONS /v1/sandboxes status=204"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace sandboxd::testing_support
