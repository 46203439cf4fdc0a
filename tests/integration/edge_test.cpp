// Integration: the preview edge as an HTTP/1.1 reverse proxy in front
// of real sandboxes: keep-alive both ways, routing every request by its own Host, refusing
// what could reach another sandbox (pipelining across hosts, smuggling), framing end to
// end with a real Node app, forwarding headers, and fairness between sandboxes (timeouts
// and caps). Traffic goes only to the edge on loopback, from 127.0.0.0/8 addresses.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "integration/daemon.h"
#include "integration/edge_client.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// One line of Node.js (env values may not contain newlines) for sandbox `name`:
//   /name      its name, with Content-Length (so a HEAD has a length and no body)
//   /echo      {method, headers, body} as JSON
//   /hang...   accepted and never answered
//   /204 /304  no body;  /chunked  two res.write()s;  /raw  a close-delimited response
//   /conns     TCP connections accepted so far;  /hung  requests left hanging so far
//   /seen      the URL of every other request so far, as JSON
std::string app_js(const std::string& name) {
  return R"js(const http = require('http'); const NAME = ')js" + name +
         R"js('; let conns = 0, hung = 0; const seen = [];)js"
         R"js( const s = http.createServer((req, res) => { const p = req.url.split('?')[0];)js"
         R"js( const reply = (b) => { res.setHeader('Content-Length', Buffer.byteLength(b));)js"
         R"js( res.end(b); };)js"
         R"js( if (p === '/conns') return reply(String(conns));)js"
         R"js( if (p === '/hung') return reply(String(hung));)js"
         R"js( if (p === '/seen') return reply(JSON.stringify(seen)); seen.push(req.url);)js"
         R"js( if (p.startsWith('/hang')) { hung++; return; })js"
         R"js( if (p === '/204') { res.writeHead(204); return res.end(); })js"
         R"js( if (p === '/304') { res.writeHead(304, { ETag: '"v1"' }); return res.end(); })js"
         R"js( if (p === '/chunked') { res.write('part1-');)js"
         R"js( return setTimeout(() => { res.write('part2'); res.end(); }, 20); })js"
         R"js( if (p === '/raw') return req.socket.end()js"
         R"js('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody-until-close');)js"
         R"js( const chunks = []; req.on('data', (c) => chunks.push(c));)js"
         R"js( req.on('end', () => reply(p === '/echo' ? JSON.stringify({ method: req.method,)js"
         R"js( headers: req.headers, body: Buffer.concat(chunks).toString() }) : NAME)); });)js"
         R"js( s.on('connection', () => conns++); s.listen(process.env.PORT, process.env.HOST);)js";
}

std::string sandbox_logs(Daemon& d, const std::string& id) {
  auto r = d.http().Get("/v1/sandboxes/" + id + "/logs");
  return r ? r->body : "";
}

// Creates sandboxes `ids` (port 3000) serving app_js(id), and waits until each answers
// its name through the edge.
void make_apps(Daemon& d, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    auto r = d.http().Post("/v1/sandboxes", json{{"id", id}, {"ports", {3000}}}.dump(),
                           "application/json");
    ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer") << d.log();
    ASSERT_TRUE(d.write_node_app(id, app_js(id)));
  }
  for (const auto& id : ids) {
    ASSERT_TRUE(eventually([&] {
      auto res = d.preview(id, 3000)->Get("/name");
      return res && res->status == 200 && res->body == id;
    })) << sandbox_logs(d, id)
        << d.log();
  }
}

TEST(Edge, AHundredRequestsOnOneClientConnectionShareAFewBackendConnections) {
  Daemon d("edgeka");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa"}));
  const std::string a = Daemon::preview_host("appa", 3000);

  Conn c(d.wake_port());
  Response before = c.request(get_request(a, "/conns"));
  ASSERT_EQ(before.status, 200) << before.head;
  int answered = 0;
  std::string first_failure;
  for (int i = 0; i < 100; ++i) {
    Response r = c.request(get_request(a, "/name?n=" + std::to_string(i)));
    if (r.status == 200 && r.body == "appa" && !r.says_close())
      ++answered;
    else if (first_failure.empty())
      first_failure = "request " + std::to_string(i) + ": " + r.head + r.body;
  }
  EXPECT_EQ(answered, 100) << first_failure;
  EXPECT_TRUE(c.quiet()) << "the edge closed the connection or sent more: " << c.unread();
  Response after = c.request(get_request(a, "/conns"));
  ASSERT_EQ(after.status, 200) << after.head;
  EXPECT_LE(std::atoi(after.body.c_str()) - std::atoi(before.body.c_str()), 3)
      << "new backend connections for 101 sequential requests";

  // /metrics counts what the edge did: the relayed answers and the pooled connections.
  auto metrics = d.http().Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  auto value = [&](const std::string& series) {
    std::size_t at = metrics->body.find("\n" + series + " ");
    return at == std::string::npos ? -1.0
                                   : std::atof(metrics->body.c_str() + at + series.size() + 2);
  };
  EXPECT_GE(value(R"(sandboxd_edge_responses_total{source="sandbox",code="2xx"})"), 102)
      << metrics->body;
  EXPECT_GE(value(R"(sandboxd_edge_upstream_connections_total{result="reused"})"), 98);
  EXPECT_GE(value("sandboxd_edge_connections"), 1) << "this test's connection is open";
}

TEST(Edge, EachRequestOnAKeepAliveConnectionGoesToTheSandboxOfItsOwnHost) {
  Daemon d("edgeroute");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa", "appb"}));

  Conn c(d.wake_port());
  std::map<std::string, std::vector<std::string>> sent;
  for (int i = 0; i < 20; ++i) {
    const std::string id = i % 2 == 0 ? "appa" : "appb";
    const std::string target = "/name?n=" + std::to_string(i);
    Response r = c.request(get_request(Daemon::preview_host(id, 3000), target));
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.head;
    EXPECT_EQ(r.body, id) << "request " << i;
    sent[id].push_back(target);
  }
  for (const std::string id : {"appa", "appb"}) {
    Response seen = fetch(d.wake_port(), Daemon::preview_host(id, 3000), "/seen");
    ASSERT_EQ(seen.status, 200) << seen.head;
    json urls = json::parse(seen.body, nullptr, false);
    ASSERT_TRUE(urls.is_array()) << seen.body;
    std::vector<std::string> got;
    for (const json& url : urls)
      if (url.is_string() && url.get<std::string>().rfind("/name?n=", 0) == 0)
        got.push_back(url.get<std::string>());
    EXPECT_EQ(got, sent[id]) << id << " saw exactly its own requests, in order";
  }
}

TEST(Edge, APipelinedRequestForAnotherHostGets400AndNeverReachesThatSandbox) {
  Daemon d("edgepipe");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa", "appb"}));
  const std::string a = Daemon::preview_host("appa", 3000);
  const std::string b = Daemon::preview_host("appb", 3000);
  const std::string marker = "pipelined-" + random_token(12);

  Conn c(d.wake_port());
  ASSERT_TRUE(c.send(get_request(a, "/name") + get_request(b, "/" + marker)));
  Response first = c.read("GET");
  EXPECT_EQ(first.status, 200) << first.head;
  EXPECT_EQ(first.body, "appa");
  Response second = c.read("GET");
  EXPECT_EQ(second.status, 400) << second.head;
  EXPECT_TRUE(c.wait_closed(kExchange)) << "still open after the 400; got: " << c.unread();

  Response seen = fetch(d.wake_port(), b, "/seen");
  ASSERT_EQ(seen.status, 200) << seen.head;
  EXPECT_EQ(seen.body.find(marker), std::string::npos) << seen.body;
}

TEST(Edge, SmugglingAttemptsGet400AndCloseAndNeverReachAnotherSandbox) {
  Daemon d("edgesmug");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa", "appb"}));
  const std::string a = Daemon::preview_host("appa", 3000);
  const std::string b = Daemon::preview_host("appb", 3000);
  const std::string marker = random_token(12);

  // Each request to appa hides one to appb in what one reading takes for its body.
  const std::string smuggled = "GET /smuggled-" + marker + " HTTP/1.1\r\nHost: " + b + "\r\n\r\n";
  const std::string hidden = "0\r\n\r\n" + smuggled;
  const std::string len = std::to_string(hidden.size());
  const std::string post = "POST /outer-" + marker + " HTTP/1.1\r\nHost: " + a + "\r\n";
  const std::vector<std::pair<const char*, std::string>> attempts = {
      {"Content-Length and Transfer-Encoding",
       post + "Content-Length: " + len + "\r\nTransfer-Encoding: chunked\r\n\r\n" + hidden},
      {"Transfer-Encoding and Content-Length",
       post + "Transfer-Encoding: chunked\r\nContent-Length: " + len + "\r\n\r\n" + hidden},
      {"two Content-Lengths", post + "Content-Length: 0\r\nContent-Length: " +
                                  std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled},
      {"Transfer-Encoding in an obs-fold",
       post + "Content-Length: " + len + "\r\nX-Pad: a\r\n Transfer-Encoding: chunked\r\n\r\n" +
           hidden},
      {"a bare LF",
       post + "Content-Length: " + len + "\nTransfer-Encoding: chunked\r\n\r\n" + hidden},
      {"a space before the colon",
       post + "Content-Length: " + len + "\r\nTransfer-Encoding : chunked\r\n\r\n" + hidden},
      {"chunked not the final coding",
       post + "Transfer-Encoding: chunked, identity\r\n\r\n" + hidden},
  };
  for (const auto& [what, request] : attempts) {
    SCOPED_TRACE(what);
    Conn c(d.wake_port());
    Response r = c.request(request, "POST");
    EXPECT_EQ(r.status, 400) << r.head;
    EXPECT_TRUE(c.wait_closed(kExchange)) << "still open after the 400; got: " << c.unread();
  }

  for (const std::string& host : {a, b}) {
    Response seen = fetch(d.wake_port(), host, "/seen");
    ASSERT_EQ(seen.status, 200) << seen.head;
    EXPECT_EQ(seen.body.find(marker), std::string::npos) << host << " saw: " << seen.body;
  }
}

TEST(Edge, EveryFramingCrossesTheEdgeIntactAndLeavesTheConnectionUsable) {
  Daemon d("edgeframe");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa"}));
  const std::string a = Daemon::preview_host("appa", 3000);
  Conn c(d.wake_port());
  auto reusable = [&](const char* after) {
    Response r = c.request(get_request(a, "/name"));
    EXPECT_EQ(r.status, 200) << "the next request after " << after << ": " << r.head;
    EXPECT_EQ(r.body, "appa") << "the next request after " << after;
  };
  auto echoed_body = [](const Response& r) {
    return str(json::parse(r.body, nullptr, false), "body");
  };

  {
    SCOPED_TRACE("a chunked request body");
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: " + a +
                       "\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"));
    std::string body;
    for (std::size_t size : {5, 16384, 70000}) {
      const std::string data = random_token(size);
      body += data;
      ASSERT_TRUE(c.send(hex(size) + (size == 16384 ? ";note=x" : "") + "\r\n" + data + "\r\n"));
    }
    ASSERT_TRUE(c.send("0\r\n\r\n"));
    Response r = c.read("POST");
    ASSERT_EQ(r.status, 200) << r.head;
    std::string echoed = echoed_body(r);
    EXPECT_EQ(echoed.size(), body.size());
    EXPECT_TRUE(echoed == body) << "the body arrived altered";
  }
  {
    SCOPED_TRACE("Expect: 100-continue");
    const std::string body = "sent-after-100-" + random_token(8);
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: " + a + "\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
    Response interim = c.read("POST");
    EXPECT_EQ(interim.status, 100) << "before the body was sent: " << interim.head;
    ASSERT_TRUE(c.send(body));
    Response r = c.read("POST");
    while (r.status >= 100 && r.status < 200) r = c.read("POST");
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(echoed_body(r), body);
  }
  {
    SCOPED_TRACE("HEAD");
    Response r = c.request("HEAD /name HTTP/1.1\r\nHost: " + a + "\r\n\r\n", "HEAD");
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.field("content-length"), "4") << r.head;
    reusable("HEAD");
  }
  {
    SCOPED_TRACE("204 and 304");
    Response none = c.request(get_request(a, "/204"));
    EXPECT_EQ(none.status, 204) << none.head;
    Response same = c.request(get_request(a, "/304"));
    EXPECT_EQ(same.status, 304) << same.head;
    EXPECT_EQ(same.field("etag"), "\"v1\"");
    reusable("204 and 304");
  }
  {
    SCOPED_TRACE("a chunked response");
    Response r = c.request(get_request(a, "/chunked"));
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body, "part1-part2");
    reusable("a chunked response");
  }
  {
    SCOPED_TRACE("Connection: close");
    Response r = c.request(get_request(a, "/name", "Connection: close\r\n"));
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body, "appa");
    EXPECT_TRUE(r.says_close()) << r.head;
    EXPECT_TRUE(c.wait_closed(kExchange)) << "still open; got: " << c.unread();
  }
  {
    SCOPED_TRACE("a close-delimited response");
    Conn raw(d.wake_port());
    Response r = raw.request(get_request(a, "/raw"));
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body, "body-until-close");
    EXPECT_TRUE(raw.wait_closed(kExchange)) << "still open; got: " << raw.unread();
  }
}

TEST(Edge, ForwardingHeadersAreTheEdgesOwnUnlessThePeerIsATrustedProxy) {
  // 127.0.0.2 and .3 are trusted; 127.0.0.1 is not.
  Daemon d("edgefwd", {{"SANDBOXD_EDGE_TRUSTED_PROXIES", "192.0.2.0/24,127.0.0.2/31,::1"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa"}));
  const std::string a = Daemon::preview_host("appa", 3000);
  auto headers_seen = [&](const char* source, const std::string& fields) {
    Conn c(d.wake_port(), source);
    Response r = c.request(get_request(a, "/echo", fields));
    EXPECT_EQ(r.status, 200) << r.head;
    json echo = json::parse(r.body, nullptr, false);
    return echo.is_object() && echo.contains("headers") ? echo["headers"] : json::object();
  };

  json h = headers_seen(nullptr,
                        "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\n"
                        "X-Forwarded-Proto: https\r\nX-Real-IP: 6.6.6.6\r\n"
                        "Forwarded: for=6.6.6.6;proto=https\r\n");
  EXPECT_EQ(str(h, "x-forwarded-for"), "127.0.0.1") << h.dump();
  EXPECT_EQ(str(h, "x-forwarded-proto"), "http") << h.dump();
  EXPECT_EQ(str(h, "x-forwarded-host"), a) << h.dump();
  EXPECT_NE(str(h, "forwarded").find("for=127.0.0.1"), std::string::npos) << h.dump();
  EXPECT_EQ(h.dump().find("6.6.6.6"), std::string::npos) << h.dump();
  EXPECT_EQ(h.dump().find("evil"), std::string::npos) << h.dump();

  h = headers_seen("127.0.0.2",
                   "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n"
                   "X-Forwarded-Host: app.example.com\r\n");
  EXPECT_EQ(str(h, "x-forwarded-for"), "203.0.113.9, 127.0.0.2") << h.dump();
  EXPECT_EQ(str(h, "x-forwarded-proto"), "https") << h.dump();
  EXPECT_EQ(str(h, "x-forwarded-host"), "app.example.com") << h.dump();
  EXPECT_NE(str(h, "forwarded").find("for=127.0.0.2"), std::string::npos) << h.dump();
}

TEST(Edge, AStuckBackendAndSlowlorisClientsOfOneSandboxDoNotSlowAnother) {
  constexpr seconds kHeaderTimeout{5};
  ASSERT_NO_FATAL_FAILURE(raise_fd_limit(8192));
  Daemon d("edgefair", {{"SANDBOXD_EDGE_HEADER_TIMEOUT_SECONDS", "5"},
                        {"SANDBOXD_EDGE_UPSTREAM_TIMEOUT_SECONDS", "30"},
                        {"SANDBOXD_EDGE_MAX_CONNECTIONS_PER_CLIENT", "5000"},
                        {"SANDBOXD_EDGE_MAX_REQUESTS_PER_SANDBOX", "2000"},
                        {"SANDBOXD_WAKE_MAX_CONNECTIONS", "5000"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa", "appb"}));
  const std::string a = Daemon::preview_host("appa", 3000);
  const std::string b = Daemon::preview_host("appb", 3000);

  // 500 complete requests that appa accepts and never answers, all in flight at appa.
  std::vector<std::unique_ptr<Conn>> stuck;
  for (int i = 0; i < 500; ++i) {
    stuck.push_back(std::make_unique<Conn>(d.wake_port()));
    ASSERT_TRUE(stuck.back()->send(get_request(a, "/hang/" + std::to_string(i)))) << i;
  }
  Response hung;
  ASSERT_TRUE(eventually(
      [&] {
        hung = fetch(d.wake_port(), a, "/hung");
        return hung.body == "500";
      },
      seconds(20)))
      << hung.head << hung.body;
  // And 500 slowloris connections to appa's host, kept at 500 while appb is measured.
  Slowloris slow(d.wake_port(), a, 500);

  Conn keep(d.wake_port());
  int served = 0, slow_answers = 0;
  milliseconds worst{0};
  std::string first_failure;
  for (int i = 0; i < 200; ++i) {
    const std::string request = get_request(b, "/name?n=" + std::to_string(i));
    auto t0 = Clock::now();
    Response r;
    if (i % 2 == 0) {
      r = keep.request(request);
    } else {
      Conn fresh(d.wake_port());
      r = fresh.request(request);
    }
    auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    worst = std::max(worst, took);
    if (took > seconds(2)) ++slow_answers;
    if (r.status == 200 && r.body == "appb")
      ++served;
    else if (first_failure.empty())
      first_failure = "request " + std::to_string(i) + ": " + r.head + r.body;
  }
  EXPECT_EQ(served, 200) << first_failure;
  EXPECT_EQ(slow_answers, 0) << "answers over 2 s; the slowest took " << worst.count() << " ms";
  int still_stuck = 0;
  for (auto& c : stuck) still_stuck += c->quiet();
  EXPECT_EQ(still_stuck, 500) << "stuck requests to appa that ended while appb was measured";
  EXPECT_EQ(slow.held(), 500);

  // Every slowloris connection is ended by the header timeout, although it kept sending.
  slow.release();
  std::vector<Slowloris::End> ends = slow.ends_once_all_ended(kHeaderTimeout + seconds(15));
  EXPECT_EQ(slow.held(), 0) << "slowloris connections still open";
  EXPECT_GE(ends.size(), 500u);
  int timed_out = 0;
  std::string first_wrong;
  for (const auto& end : ends) {
    bool answer_ok = end.got.empty() || end.got.rfind("HTTP/1.1 408", 0) == 0;
    bool timing_ok =
        end.after >= kHeaderTimeout - seconds(1) && end.after <= kHeaderTimeout + seconds(10);
    if (answer_ok && timing_ok)
      ++timed_out;
    else if (first_wrong.empty())
      first_wrong = "after " + std::to_string(end.after.count()) + " ms: " + end.got;
  }
  EXPECT_EQ(timed_out, static_cast<int>(ends.size())) << first_wrong;
}

TEST(Edge, CapsPerSandboxAndPerClientAddressRefuseOnlyTheExcess) {
  Daemon d("edgecaps", {{"SANDBOXD_EDGE_MAX_CONNECTIONS_PER_CLIENT", "20"},
                        {"SANDBOXD_EDGE_MAX_REQUESTS_PER_SANDBOX", "10"}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_NO_FATAL_FAILURE(make_apps(d, {"appa", "appb"}));
  const std::string a = Daemon::preview_host("appa", 3000);
  const std::string b = Daemon::preview_host("appb", 3000);
  const int port = d.wake_port();

  {
    SCOPED_TRACE("per sandbox (clients on 127.0.0.3, below their own cap)");
    constexpr const char* kFrom = "127.0.0.3";
    std::vector<std::unique_ptr<Conn>> stuck;
    for (int i = 0; i < 9; ++i) {
      stuck.push_back(std::make_unique<Conn>(port, kFrom));
      ASSERT_TRUE(stuck.back()->send(get_request(a, "/hang/" + std::to_string(i))));
    }
    // Each probe is the 10th request in flight to appa: admitted.
    Response probe;
    ASSERT_TRUE(eventually([&] {
      probe = fetch(port, a, "/hung", kFrom);
      return probe.status == 200 && probe.body == "9";
    })) << probe.head
        << probe.body;
    stuck.push_back(std::make_unique<Conn>(port, kFrom));
    ASSERT_TRUE(stuck.back()->send(get_request(a, "/hang/9")));
    // Once the 10th hangs at appa, a probe is the 11th: refused (a probe that reports
    // 10 hanging requests was admitted as the 11th).
    eventually([&] {
      probe = fetch(port, a, "/hung", kFrom);
      return !(probe.status == 200 && probe.body == "9");
    });
    EXPECT_EQ(probe.status, 503) << probe.head << probe.body;
    Response other = fetch(port, b, "/name", kFrom);
    EXPECT_EQ(other.status, 200) << other.head;
    EXPECT_EQ(other.body, "appb");
    int still_stuck = 0;
    for (auto& c : stuck) still_stuck += c->quiet();
    EXPECT_EQ(still_stuck, 10) << "requests within the cap were answered or closed; the last got: "
                               << stuck.back()->read("GET", milliseconds(100)).head;
    // A client that goes away frees its request's place; appa had all 10 within the cap.
    stuck.front().reset();
    EXPECT_TRUE(eventually(
        [&] {
          probe = fetch(port, a, "/hung", kFrom);
          return probe.status == 200;
        },
        seconds(15)))
        << "appa still refuses after a stuck client left: " << probe.head;
    EXPECT_EQ(probe.body, "10");
  }
  {
    SCOPED_TRACE("per client address");
    std::vector<std::unique_ptr<Conn>> held;
    for (int i = 0; i < 20; ++i) {
      held.push_back(std::make_unique<Conn>(port));
      Response r = held.back()->request(get_request(b, "/name"));
      ASSERT_EQ(r.status, 200) << "connection " << i + 1 << ": " << r.head;
    }
    Conn over(port);
    Response refused = over.request(get_request(b, "/name"));
    EXPECT_EQ(refused.status, 429) << refused.head;
    EXPECT_TRUE(over.wait_closed(kExchange)) << "still open after the 429; got: " << over.unread();
    Response elsewhere = fetch(port, b, "/name", "127.0.0.2");
    EXPECT_EQ(elsewhere.status, 200) << elsewhere.head;
    EXPECT_EQ(elsewhere.body, "appb");
    Response again = held.back()->request(get_request(b, "/name"));
    EXPECT_EQ(again.status, 200) << "a held connection after the refusal: " << again.head;
    // Closing one of the 20 makes room for another.
    held.front().reset();
    EXPECT_TRUE(eventually([&] { return fetch(port, b, "/name").status == 200; }, seconds(15)))
        << "127.0.0.1 still refused after one of its connections closed";
  }
}

}  // namespace
}  // namespace sandboxd::testing_support
