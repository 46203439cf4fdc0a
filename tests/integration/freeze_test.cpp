// Integration: the freeze tier against the real dockerd. An idle sandbox is paused
// ("frozen"); whatever reaches it (a preview request through the edge, exec, a files
// call, traffic on an open connection) thaws it with its processes and memory as they
// were, and without a waking page; connections opened before the freeze work after the
// thaw; a frozen sandbox still stops at the idle threshold; and it stays frozen across a
// sandboxd restart. Requests go only to sandboxd's listeners on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include "integration/daemon.h"
#include "integration/edge_client.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// One line (env values may not contain newlines). Answers every request with an HTML page
// carrying "count=<n>;", n the requests this process answered (so a restarted process
// shows), and echoes text frames (under 121 bytes) of a WebSocket as "echo:<text>".
constexpr const char* kApp =
    "const http = require('http'), crypto = require('crypto'); let n = 0;"
    "const s = http.createServer((req, res) => { n++; res.setHeader('Content-Type', 'text/html');"
    " res.end('<html><body><h1>frozen app count=' + n + ';</h1></body></html>'); });"
    "s.on('upgrade', (req, sock) => { const k = crypto.createHash('sha1')"
    ".update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')"
    ".digest('base64');"
    " sock.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\n"
    "Connection: Upgrade\\r\\nSec-WebSocket-Accept: ' + k + '\\r\\n\\r\\n');"
    " sock.on('data', (b) => { const l = b[1] & 127, m = b.slice(2, 6), p = Buffer.alloc(l);"
    " for (let i = 0; i < l; i++) p[i] = b[6 + i] ^ m[i % 4];"
    " sock.write(Buffer.concat([Buffer.from([0x81, l + 5]), Buffer.from('echo:'), p])); }); });"
    "s.listen(process.env.PORT, process.env.HOST);";

// Freezes after 3 s idle (the margin for reading the state right after a thaw), never
// stops within a test.
const std::map<std::string, std::string> kFreezeSoon = {
    {"SANDBOXD_FREEZE_AFTER_SECONDS", "3"},
    {"SANDBOXD_IDLE_THRESHOLD_SECONDS", "600"},
    {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "1"}};

const char* kBrowserAccept = "text/html,application/xhtml+xml,*/*;q=0.8";

class Freeze : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }

  static json get(Daemon& d, const std::string& id) {
    auto r = d.http().Get("/v1/sandboxes/" + id);
    return r && r->status == 200 ? json::parse(r->body, nullptr, false) : json(nullptr);
  }
  static std::string status(Daemon& d, const std::string& id) {
    json row = get(d, id);
    return row.is_object() ? row.value("status", "") : "(no answer)";
  }
  static bool paused(Daemon& d, const std::string& id) {
    json c = docker_inspect(d.container(id));
    return !c.is_null() && c["State"]["Paused"].get<bool>();
  }
  // The n of the app's "count=<n>;", or -1.
  static int app_count(const std::string& body) {
    auto at = body.find("count=");
    return at == std::string::npos ? -1 : std::atoi(body.c_str() + at + 6);
  }
  // The value of one series of /metrics (-1 when absent).
  static double metric(Daemon& d, const std::string& series) {
    auto r = d.http().Get("/metrics");
    if (!r || r->status != 200) return -1;
    auto at = r->body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::atof(r->body.c_str() + at + series.size() + 2);
  }
  static std::string ops(const std::string& op, const std::string& trigger) {
    return R"(sandboxd_sandbox_operations_total{op=")" + op + R"(",trigger=")" + trigger +
           R"(",result="ok"})";
  }

  // A sandbox `id` with port 3000 serving kApp through the edge; the app's count so far.
  static int make_app(Daemon& d, const std::string& id) {
    auto r = d.http().Post("/v1/sandboxes", json{{"id", id}, {"ports", {3000}}}.dump(),
                           "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer") << d.log();
    EXPECT_TRUE(d.write_node_app(id, kApp));
    int count = -1;
    EXPECT_TRUE(eventually([&] {
      auto res = d.preview(id, 3000)->Get("/");
      count = res && res->status == 200 ? app_count(res->body) : -1;
      return count > 0;
    })) << d.http().Get("/v1/sandboxes/" + id + "/logs")->body
        << d.log();
    return count;
  }
  static void wait_frozen(Daemon& d, const std::string& id) {
    ASSERT_TRUE(eventually([&] { return status(d, id) == "frozen"; })) << status(d, id) << "\n"
                                                                       << d.log();
  }
  static int count(const std::string& haystack, const std::string& needle) {
    int n = 0;
    for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
      ++n;
    return n;
  }
};

// A masked WebSocket text frame of `text` (under 121 bytes).
std::string ws_frame(const std::string& text) {
  std::string frame = {static_cast<char>(0x81), static_cast<char>(0x80 | text.size())};
  const char mask[4] = {1, 2, 3, 4};
  frame.append(mask, 4);
  for (std::size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
  return frame;
}

// Whether `text` arrives on `c` within `deadline` (false at once when the edge closes).
bool arrives(Conn& c, const std::string& text, std::chrono::seconds deadline) {
  eventually(
      [&] {
        bool closed = c.wait_closed(milliseconds(200));
        return closed || c.unread().find(text) != std::string::npos;
      },
      deadline);
  return c.unread().find(text) != std::string::npos;
}

TEST_F(Freeze, AnIdleSandboxFreezesAndABrowserRequestGetsTheAppItselfNotTheWakingPage) {
  Daemon d("frz", kFreezeSoon);
  ASSERT_TRUE(d.start()) << d.log();
  const int before = make_app(d, "fz1");
  ASSERT_GT(before, 0);

  // Running: the row says when it will freeze (before it stops).
  ASSERT_FALSE(d.exec("fz1", {{"cmd", {"true"}}}).is_null());
  json row = get(d, "fz1");
  ASSERT_EQ(row["status"], "running") << row.dump();
  ASSERT_TRUE(row["idle"]["freezes_at"].is_string()) << row.dump();
  EXPECT_LT(row["idle"]["freezes_at"].get<std::string>(),
            row["idle"]["stops_at"].get<std::string>());

  ASSERT_NO_FATAL_FAILURE(wait_frozen(d, "fz1"));
  json c = docker_inspect(d.container("fz1"));
  ASSERT_FALSE(c.is_null());
  EXPECT_TRUE(c["State"]["Paused"].get<bool>()) << c["State"].dump();
  row = get(d, "fz1");
  EXPECT_TRUE(row["idle"]["freezes_at"].is_null()) << row.dump();
  EXPECT_EQ(row["idle"]["reason"].get<std::string>().rfind("frozen", 0), 0u) << row.dump();

  // A browser's navigation is held for the thaw and gets the app: the same process, its
  // count one more than before the freeze.
  auto r = d.preview("fz1", 3000)->Get("/", {{"Accept", kBrowserAccept}});
  ASSERT_TRUE(r) << d.log();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body.find("Waking up"), std::string::npos) << r->body;
  EXPECT_EQ(app_count(r->body), before + 1) << r->body;
  EXPECT_EQ(status(d, "fz1"), "running");
  EXPECT_FALSE(paused(d, "fz1"));
  EXPECT_EQ(count(d.log(), "sandbox fz1 thawed (by preview)"), 1) << d.log();
  EXPECT_EQ(count(d.log(), "started (by preview)"), 0) << d.log();
  EXPECT_EQ(count(d.log(), "serving the waking page"), 0) << d.log();

  EXPECT_GE(metric(d, ops("freeze", "idle")), 1);
  EXPECT_GE(metric(d, ops("thaw", "preview")), 1);
  EXPECT_GE(metric(d, R"(sandboxd_reaper_actions_total{reaper="idle",action="freeze"})"), 1);
}

TEST_F(Freeze, AKeepAliveConnectionOpenedBeforeTheFreezeServesItsNextRequestAfterTheThaw) {
  Daemon d("frzka", kFreezeSoon);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_GT(make_app(d, "ka1"), 0);
  const std::string host = Daemon::preview_host("ka1", 3000);

  Conn c(d.wake_port());
  Response first = c.request(get_request(host, "/first"));
  ASSERT_EQ(first.status, 200) << first.head;
  ASSERT_FALSE(first.says_close()) << first.head;
  const int before = app_count(first.body);

  ASSERT_NO_FATAL_FAILURE(wait_frozen(d, "ka1"));
  EXPECT_TRUE(c.quiet()) << "the edge ended the connection at the freeze: " << c.unread();
  Response second = c.request(get_request(host, "/second", "Accept: text/html\r\n"));
  ASSERT_EQ(second.status, 200) << second.head << second.body << d.log();
  EXPECT_EQ(app_count(second.body), before + 1) << second.body;
  EXPECT_EQ(status(d, "ka1"), "running");
  EXPECT_FALSE(paused(d, "ka1"));
  EXPECT_TRUE(c.quiet()) << c.unread();
}

TEST_F(Freeze, AWebSocketOpenedBeforeTheFreezeEchoesAgainAfterItsTrafficThawsTheSandbox) {
  Daemon d("frzws", kFreezeSoon);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_GT(make_app(d, "ws1"), 0);

  Conn ws(d.wake_port());
  Response up = ws.request("GET /hmr HTTP/1.1\r\nHost: " + Daemon::preview_host("ws1", 3000) +
                           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n");
  ASSERT_EQ(up.status, 101) << up.head;
  ASSERT_TRUE(ws.send(ws_frame("before")));
  ASSERT_TRUE(arrives(ws, "echo:before", seconds(10))) << ws.unread();

  // An open but quiet connection does not hold off the freeze.
  ASSERT_NO_FATAL_FAILURE(wait_frozen(d, "ws1"));
  ASSERT_TRUE(ws.send(ws_frame("after")));
  EXPECT_TRUE(arrives(ws, "echo:after", seconds(20))) << ws.unread() << d.log();
  EXPECT_EQ(status(d, "ws1"), "running");
  EXPECT_FALSE(paused(d, "ws1"));
  EXPECT_EQ(count(d.log(), "sandbox ws1 thawed (by preview)"), 1) << d.log();
}

TEST_F(Freeze, ExecAndAFilesReadOnAFrozenSandboxThawItAndSucceed) {
  Daemon d("frzexec", kFreezeSoon);
  ASSERT_TRUE(d.start()) << d.log();
  auto created = d.http().Post("/v1/sandboxes", json{{"id", "ex1"}}.dump(), "application/json");
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "") << d.log();
  json wrote = d.exec("ex1", {{"cmd", {"sh", "-c", "echo kept > note.txt"}}});
  ASSERT_FALSE(wrote.is_null());
  ASSERT_EQ(wrote["exit_code"], 0);

  ASSERT_NO_FATAL_FAILURE(wait_frozen(d, "ex1"));
  ASSERT_TRUE(paused(d, "ex1"));
  json r = d.exec("ex1", {{"cmd", {"cat", "note.txt"}}});
  ASSERT_FALSE(r.is_null()) << d.log();
  EXPECT_EQ(r["exit_code"], 0);
  EXPECT_EQ(r["stdout"], "kept\n");
  EXPECT_EQ(status(d, "ex1"), "running");
  EXPECT_FALSE(paused(d, "ex1"));

  ASSERT_NO_FATAL_FAILURE(wait_frozen(d, "ex1"));
  ASSERT_TRUE(paused(d, "ex1"));
  auto file = d.http().Get("/v1/sandboxes/ex1/files?path=workspace/app/note.txt");
  ASSERT_TRUE(file) << d.log();
  ASSERT_EQ(file->status, 200) << file->body;
  EXPECT_EQ(json::parse(file->body, nullptr, false)["content"], "kept\n") << file->body;
  EXPECT_EQ(status(d, "ex1"), "running");
  EXPECT_FALSE(paused(d, "ex1"));

  EXPECT_GE(metric(d, ops("freeze", "idle")), 2);
  EXPECT_EQ(metric(d, ops("thaw", "exec")), 1);
  EXPECT_EQ(metric(d, ops("thaw", "files")), 1);
}

TEST_F(Freeze, AFrozenSandboxStopsAtTheIdleThreshold) {
  Daemon d("frzstop", {{"SANDBOXD_FREEZE_AFTER_SECONDS", "1"},
                       {"SANDBOXD_IDLE_THRESHOLD_SECONDS", "5"},
                       {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "1"}});
  ASSERT_TRUE(d.start()) << d.log();
  auto created = d.http().Post("/v1/sandboxes", json{{"id", "st1"}}.dump(), "application/json");
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "") << d.log();

  ASSERT_NO_FATAL_FAILURE(wait_frozen(d, "st1"));
  EXPECT_TRUE(paused(d, "st1"));
  ASSERT_TRUE(eventually([&] { return status(d, "st1") == "stopped"; })) << status(d, "st1") << "\n"
                                                                         << d.log();
  json c = docker_inspect(d.container("st1"));
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["State"]["Status"], "exited") << c["State"].dump();
  EXPECT_EQ(get(d, "st1")["idle"]["reason"], "stopped (idle)");
  EXPECT_EQ(count(d.log(), "sandbox st1 frozen (idle)"), 1) << d.log();
  EXPECT_EQ(metric(d, ops("stop", "idle")), 1);
  EXPECT_EQ(metric(d, ops("thaw", "preview")), -1) << "nothing thawed it";
}

TEST_F(Freeze, AFrozenSandboxStaysFrozenAcrossARestartAndAPreviewRequestThawsIt) {
  Daemon d("frzboot", kFreezeSoon);
  ASSERT_TRUE(d.start()) << d.log();
  const int before = make_app(d, "rb1");
  ASSERT_GT(before, 0);
  ASSERT_NO_FATAL_FAILURE(wait_frozen(d, "rb1"));

  ASSERT_TRUE(d.stop()) << d.log();
  EXPECT_TRUE(paused(d, "rb1")) << "sandboxd's exit thawed it";
  ASSERT_TRUE(d.start()) << d.log();  // its boot reconcile has run once it answers
  EXPECT_EQ(status(d, "rb1"), "frozen") << d.log();
  EXPECT_TRUE(paused(d, "rb1"));

  auto r = d.preview("rb1", 3000)->Get("/", {{"Accept", kBrowserAccept}});
  ASSERT_TRUE(r) << d.log();
  EXPECT_EQ(r->status, 200) << r->body << d.log();
  EXPECT_EQ(r->body.find("Waking up"), std::string::npos) << r->body;
  EXPECT_EQ(app_count(r->body), before + 1) << "not the process that was frozen: " << r->body;
  EXPECT_EQ(status(d, "rb1"), "running");
  EXPECT_FALSE(paused(d, "rb1"));
  EXPECT_EQ(metric(d, ops("thaw", "preview")), 1);
}

}  // namespace
}  // namespace sandboxd::testing_support
