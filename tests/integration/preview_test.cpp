// Integration: the wake listener as the whole preview edge (no Traefik), against real
// sandboxes: routing by Host, wake on the first request with its body delivered, one
// start for a burst, WebSocket relay (also across a wake), the waking page in a real
// headless Chromium, and relayed traffic counting as activity. Requests go only to the
// listener on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// One line: env values may not contain newlines. Echoes method and body over HTTP, and
// text frames (under 126 bytes) over a hand-rolled WebSocket as "echo:<text>".
constexpr const char* kServer =
    "const http = require('http'), crypto = require('crypto');"
    "const s = http.createServer((req, res) => { let body = ''; req.on('data', (c) => (body += c));"
    " req.on('end', () => { res.setHeader('Content-Type', 'text/html');"
    " res.end('<html><body><h1 id=app>hello from app ' + req.method + ' ' + body +"
    " '</h1></body></html>'); }); });"
    "s.on('upgrade', (req, sock) => { const k = crypto.createHash('sha1')"
    ".update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')"
    ".digest('base64');"
    " sock.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\n"
    "Connection: Upgrade\\r\\nSec-WebSocket-Accept: ' + k + '\\r\\n\\r\\n');"
    " sock.on('data', (b) => { const n = b[1] & 127, m = b.slice(2, 6), p = Buffer.alloc(n);"
    " for (let i = 0; i < n; i++) p[i] = b[6 + i] ^ m[i % 4];"
    " sock.write(Buffer.concat([Buffer.from([0x81, n + 5]), Buffer.from('echo:'), p])); }); });"
    "s.listen(process.env.PORT, process.env.HOST);";

json get(Daemon& d, const std::string& id) {
  auto r = d.http().Get("/v1/sandboxes/" + id);
  return r && r->status == 200 ? json::parse(r->body) : json(nullptr);
}

bool stop(Daemon& d, const std::string& id) {
  auto r = d.http().Post("/v1/sandboxes/" + id + "/stop", "", "application/json");
  return r && r->status == 200;
}

int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

// A sandbox `id` with port 3000 serving kServer, answering through the listener.
void make_app(Daemon& d, const std::string& id) {
  auto r = d.http().Post("/v1/sandboxes", json{{"id", id}, {"ports", {3000}}}.dump(),
                         "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d.log();
  ASSERT_TRUE(d.write_node_app(id, kServer));
  ASSERT_TRUE(eventually([&] {
    auto res = d.preview(id, 3000)->Get("/");
    return res && res->status == 200;
  })) << d.http().Get("/v1/sandboxes/" + id + "/logs")->body
      << d.log();
}

// A minimal WebSocket client over a raw loopback socket to the listener.
class WebSocket {
 public:
  WebSocket(int port, const std::string& host) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    std::string req = "GET /hmr HTTP/1.1\r\nHost: " + host +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      std::string chunk = read_some(90000);
      if (chunk.empty()) break;
      head += chunk;
    }
    status_line_ = head.substr(0, head.find("\r\n"));
    accept_ok_ = head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos;
  }
  ~WebSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& status_line() const { return status_line_; }
  bool accept_ok() const { return accept_ok_; }
  // Sends a masked text frame and returns the payload of the text frame that comes back.
  std::string echo(const std::string& text) {
    std::string frame = {static_cast<char>(0x81), static_cast<char>(0x80 | text.size())};
    const char mask[4] = {1, 2, 3, 4};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
    ::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL);
    std::string got;
    while (got.size() < 2 || got.size() < 2u + static_cast<unsigned char>(got[1])) {
      std::string chunk = read_some(10000);
      if (chunk.empty()) return "";
      got += chunk;
    }
    return got.substr(2);
  }

 private:
  std::string read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return "";
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
  int fd_ = -1;
  std::string status_line_;
  bool accept_ok_ = false;
};

// Sends `data` on a new loopback connection to `port` and reads until the server closes
// (eof=true) or 10 s pass.
std::string raw_exchange(int port, const std::string& data, bool& eof) {
  eof = false;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 10000) > 0) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        eof = n == 0;
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return got;
}

TEST(Preview, TheListenerServesTheAppByHostAndAnswers404ForAnythingElse) {
  Daemon d("prv");
  ASSERT_TRUE(d.start()) << d.log();
  make_app(d, "web1");
  auto r = d.preview("web1", 3000)->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("hello from app GET"), std::string::npos) << r->body;

  auto with_host = [&](const std::string& host) {
    httplib::Client c("127.0.0.1", d.wake_port());
    c.set_default_headers({{"Host", host}});
    auto res = c.Get("/");
    return res ? res->status : -1;
  };
  EXPECT_EQ(with_host("S-WEB1-3000.Preview.LOCALHOST"), 200) << "hosts are case-insensitive";
  EXPECT_EQ(with_host("s-web1-3000.preview.localhost:8080"), 200);
  EXPECT_EQ(with_host("s-nope1-3000.preview.localhost"), 404) << "unknown sandbox";
  EXPECT_EQ(with_host("s-web1-3001.preview.localhost"), 404) << "undeclared port";
  EXPECT_EQ(with_host("s-web1-3000.preview.example.com"), 404) << "another domain";
  EXPECT_EQ(with_host("web1.localhost"), 404) << "not a preview host";
  auto html = d.preview("nope1", 3000)->Get("/", {{"Accept", "text/html"}});
  ASSERT_TRUE(html);
  EXPECT_EQ(html->status, 404);
  EXPECT_EQ(html->get_header_value("Content-Type").rfind("text/html", 0), 0u);

  // A second request on the same connection (say, one Traefik pooled) must never reach
  // the sandbox the first one chose: the connection ends after the first response.
  make_app(d, "web2");
  bool eof = false;
  std::string two =
      raw_exchange(d.wake_port(),
                   "GET /first HTTP/1.1\r\nHost: " + Daemon::preview_host("web1", 3000) +
                       "\r\nConnection: keep-alive\r\n\r\nGET /second HTTP/1.1\r\nHost: " +
                       Daemon::preview_host("web2", 3000) + "\r\n\r\n",
                   eof);
  EXPECT_TRUE(eof) << "the listener kept the connection open";
  EXPECT_EQ(count(two, "HTTP/1.1 200"), 1) << two;
  EXPECT_EQ(count(two, "hello from app"), 1) << two;

  json row = get(d, "web1");
  EXPECT_EQ(row["last_active_source"], "preview");
  EXPECT_EQ(count(d.log(), "started (by preview)"), 0) << "a running sandbox is not restarted";
}

TEST(Preview, APostToAStoppedSandboxWakesItAndDeliversTheBody) {
  Daemon d("prvpost");
  ASSERT_TRUE(d.start()) << d.log();
  make_app(d, "post1");
  ASSERT_TRUE(stop(d, "post1"));
  ASSERT_EQ(get(d, "post1")["status"], "stopped");

  auto r = d.preview("post1", 3000)->Post("/items", R"({"name":"x"})", "application/json");
  ASSERT_TRUE(r) << d.log();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find(R"(hello from app POST {"name":"x"})"), std::string::npos) << r->body;
  json row = get(d, "post1");
  EXPECT_EQ(row["status"], "running");
  EXPECT_EQ(row["last_active_source"], "preview");
  EXPECT_EQ(count(d.log(), "sandbox post1 started (by preview)"), 1) << d.log();
}

TEST(Preview, TwentyConcurrentRequestsToAStoppedSandboxStartItOnceAndAllSucceed) {
  Daemon d("prvburst");
  ASSERT_TRUE(d.start()) << d.log();
  make_app(d, "burst1");
  ASSERT_TRUE(stop(d, "burst1"));
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&, i] {
      auto r = d.preview("burst1", 3000)->Post("/", "n=" + std::to_string(i), "text/plain");
      if (r && r->status == 200 &&
          r->body.find("POST n=" + std::to_string(i) + "<") != std::string::npos)
        ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 20) << d.log();
  EXPECT_EQ(count(d.log(), "sandbox burst1 started"), 1) << d.log();
}

TEST(Preview, AWebSocketEchoWorksThroughTheListenerAlsoAcrossAWake) {
  Daemon d("prvws");
  ASSERT_TRUE(d.start()) << d.log();
  make_app(d, "ws1");
  {
    WebSocket ws(d.wake_port(), Daemon::preview_host("ws1", 3000));
    ASSERT_EQ(ws.status_line(), "HTTP/1.1 101 Switching Protocols");
    EXPECT_TRUE(ws.accept_ok());
    EXPECT_EQ(ws.echo("hi"), "echo:hi");
    EXPECT_EQ(ws.echo("again"), "echo:again");
  }
  ASSERT_TRUE(stop(d, "ws1"));
  WebSocket ws(d.wake_port(), Daemon::preview_host("ws1", 3000));
  ASSERT_EQ(ws.status_line(), "HTTP/1.1 101 Switching Protocols") << d.log();
  EXPECT_EQ(ws.echo("after wake"), "echo:after wake");
  EXPECT_EQ(get(d, "ws1")["status"], "running");
}

TEST(Preview, AnOpenWebSocketCarryingTrafficKeepsTheSandboxAwake) {
  Daemon d("prvidle", {{"SANDBOXD_IDLE_THRESHOLD_SECONDS", "3"},
                       {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "1"}});
  ASSERT_TRUE(d.start()) << d.log();
  make_app(d, "live1");
  make_app(d, "quiet1");
  // quiet1 also has an open WebSocket, but nothing moves on it.
  WebSocket quiet(d.wake_port(), Daemon::preview_host("quiet1", 3000));
  ASSERT_EQ(quiet.status_line(), "HTTP/1.1 101 Switching Protocols");
  WebSocket live(d.wake_port(), Daemon::preview_host("live1", 3000));
  ASSERT_EQ(live.status_line(), "HTTP/1.1 101 Switching Protocols");
  bool quiet_stopped = false;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (!quiet_stopped && std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(live.echo("ping"), "echo:ping");
    quiet_stopped = get(d, "quiet1")["status"] == "stopped";
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(quiet_stopped) << d.log();
  // quiet1 idled out after >= 3 s; live1 saw traffic every 0.5 s throughout.
  EXPECT_EQ(get(d, "live1")["status"], "running") << d.log();
  EXPECT_EQ(get(d, "live1")["last_active_source"], "preview");
}

TEST(Preview, ABrowserGetsTheWakingPageWhichSwitchesToTheAppInHeadlessChromium) {
  Daemon d("prvpage");
  ASSERT_TRUE(d.start()) << d.log();
  make_app(d, "page1");
  ASSERT_TRUE(stop(d, "page1"));

  // What a browser's navigation gets at once: the waking page, not a held request.
  auto page = d.preview("page1", 3000)->Get("/", {{"Accept", "text/html,*/*;q=0.8"}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 503);
  EXPECT_NE(page->body.find("Waking up"), std::string::npos);
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-store");
  ASSERT_TRUE(eventually([&] { return get(d, "page1")["status"] == "running"; }))
      << "the waking page's request starts the wake";
  ASSERT_TRUE(stop(d, "page1"));

  // A real browser: it gets the waking page, whose script waits for the app and then
  // reloads. Virtual time does not advance while a fetch is pending, so the budget
  // covers only the page's own work, not the wake.
  std::string url =
      "http://" + Daemon::preview_host("page1", 3000) + ":" + std::to_string(d.wake_port()) + "/";
  std::string dom = headless_dom(url, d.data_dir() + "/chromium");
  ASSERT_FALSE(dom.empty());
  EXPECT_NE(dom.find("hello from app GET"), std::string::npos) << dom << d.log();
  EXPECT_EQ(dom.find("Waking up"), std::string::npos) << dom;
  EXPECT_GE(count(d.log(), "preview page1:3000: serving the waking page"), 2) << d.log();
  EXPECT_EQ(get(d, "page1")["status"], "running");
}

}  // namespace
}  // namespace sandboxd::testing_support
