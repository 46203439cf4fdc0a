// Unit tests of the preview edge's logic: host parsing, browser navigations, single-flight
// wakes, the Traefik access-log tailer, docker event lines, and the service's address
// cache and activity writes (on fakes).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "fakes/service_harness.h"
#include "sandboxd/preview/access_log.h"
#include "sandboxd/preview/http_head.h"
#include "sandboxd/preview/wake_flights.h"
#include "sandboxd/reconcile/event_watcher.h"
#include "sandboxd/runtime/docker_cli_runtime.h"

namespace sandboxd {
namespace {

TEST(PreviewHost, ParsesIdAndPortCaseInsensitively) {
  auto h = parse_preview_host("S-Ab12-3000.Preview.Example.COM", "example.com");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->id, "ab12");
  EXPECT_EQ(h->port, 3000);
  auto with_port = parse_preview_host("s-x-8080.preview.localhost:9091", "localhost");
  ASSERT_TRUE(with_port);
  EXPECT_EQ(with_port->port, 8080);
  EXPECT_TRUE(parse_preview_host("s-x-1.preview.localhost.", "localhost")) << "FQDN form";
}

TEST(PreviewHost, RejectsOtherShapesAndDomains) {
  for (const char* host :
       {"s-x-3000.preview.evil.com", "s-x-3000.preview.localhost.evil.com",
        "x-3000.preview.localhost", "s--3000.preview.localhost", "s-x-.preview.localhost",
        "s-x-0.preview.localhost", "s-x-65536.preview.localhost", "s-x-03000.preview.localhost",
        "s-x_y-1.preview.localhost", "s-x-y-1.preview.localhost", "s-x-1.other.localhost",
        "preview.localhost", "", "s-x-1.preview.localhost:", "s-x-1.preview.localhost:ab",
        "s-0123456789012345678901234567890123-1.preview.localhost"}) {
    EXPECT_FALSE(parse_preview_host(host, "localhost")) << host;
  }
  EXPECT_FALSE(parse_preview_host("s-x-1.preview.", "")) << "an empty domain matches nothing";
}

TEST(RequestHead, OnlyHtmlNavigationsAreBrowserNavigations) {
  http1::RequestHead head;
  auto nav = [&](const std::string& headers) {
    std::string raw = "GET / HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n";
    if (headers.rfind("POST", 0) == 0 || headers.rfind("HEAD", 0) == 0) {
      raw = headers.substr(0, 4) + " / HTTP/1.1\r\nHost: h\r\n" + headers.substr(5) + "\r\n";
    }
    EXPECT_EQ(http1::parse_request(raw, head).kind, http1::Verdict::kOk) << raw;
    return is_browser_navigation(head);
  };
  EXPECT_TRUE(nav("Accept: text/html,*/*\r\n"));
  EXPECT_TRUE(nav("HEAD Accept: TEXT/HTML\r\n"));
  EXPECT_FALSE(nav("POST Accept: text/html\r\n"));
  EXPECT_FALSE(nav("Accept: application/json\r\n"));
  EXPECT_FALSE(nav(""));
  EXPECT_FALSE(nav("Accept: text/html\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"));
}

// Subscribes to `flight` and waits up to `timeout` for what it lands with.
std::optional<Result<std::string>> await(WakeFlights& flights,
                                         const std::shared_ptr<WakeFlights::Flight>& flight,
                                         std::chrono::milliseconds timeout) {
  auto landed = std::make_shared<std::promise<Result<std::string>>>();
  auto result = landed->get_future();
  flights.subscribe(flight, [landed](const Result<std::string>& r) { landed->set_value(r); });
  if (result.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return result.get();
}

constexpr std::chrono::seconds kLong(30);

TEST(WakeFlights, ConcurrentRequestsShareOneWake) {
  std::atomic<int> calls{0};
  // The wake stays in the air until all 20 requests have begun: each must join it.
  std::mutex mu;
  std::condition_variable cv;
  int begun = 0;
  WakeFlights flights([&](const std::string& id) -> Result<std::string> {
    if (++calls == 1) {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::seconds(30), [&] { return begun == 20; });
    }
    return "10.0.0." + id;
  });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      auto flight = flights.begin("7");
      {
        std::lock_guard lock(mu);
        ++begun;
      }
      cv.notify_all();
      auto r = await(flights, flight, kLong);
      if (r && *r && **r == "10.0.0.7") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(calls.load(), 1);
  // A finished flight is forgotten: a later request wakes again.
  auto again = await(flights, flights.begin("7"), kLong);
  EXPECT_TRUE(again && *again);
  EXPECT_EQ(calls.load(), 2);
}

TEST(WakeFlights, ErrorsReachEveryWaiterAndTheNextRequestRetries) {
  std::atomic<int> calls{0};
  WakeFlights flights([&](const std::string&) -> Result<std::string> {
    if (++calls == 1) return Status(Code::kUnavailable, "memory low");
    return std::string("10.0.0.2");
  });
  auto first = await(flights, flights.begin("a"), kLong);
  ASSERT_TRUE(first && !*first);
  EXPECT_EQ(first->error().code(), Code::kUnavailable);
  auto second = await(flights, flights.begin("a"), kLong);
  EXPECT_TRUE(second && *second);
}

TEST(WakeFlights, SubscribersOfAFlightInTheAirHearOfCancel) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  WakeFlights flights([&](const std::string&) -> Result<std::string> {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    return std::string("10.0.0.3");
  });
  auto flight = flights.begin("slow");
  auto landed = std::make_shared<std::promise<Result<std::string>>>();
  auto result = landed->get_future();
  flights.subscribe(flight, [landed](const Result<std::string>& r) { landed->set_value(r); });
  EXPECT_EQ(result.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
      << "the wake is still in the air";
  flights.cancel();
  ASSERT_EQ(result.wait_for(kLong), std::future_status::ready);
  auto c = result.get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kUnavailable);
  auto late = await(flights, flight, kLong);
  ASSERT_TRUE(late && !*late) << "a subscriber after cancel hears at once";
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();  // the destructor waits for the wake thread
}

TEST(WakeFlights, NoWakeStartsAfterCancel) {
  std::atomic<int> calls{0};
  WakeFlights flights([&](const std::string&) -> Result<std::string> {
    ++calls;
    return std::string("10.0.0.4");
  });
  flights.cancel();
  auto r = await(flights, flights.begin("x"), kLong);
  ASSERT_TRUE(r && !*r);
  EXPECT_EQ(r->error().code(), Code::kUnavailable);
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(flights.started(), 0);
}

TEST(AccessLog, HostComesFromRequestHostOrTheKeptHeader) {
  EXPECT_EQ(access_log_host(R"({"RequestHost":"S-A-1.preview.x","RequestMethod":"GET"})"),
            "S-A-1.preview.x");
  EXPECT_EQ(access_log_host(R"({"request_Host":"s-a-1.preview.x"})"), "s-a-1.preview.x");
  EXPECT_EQ(access_log_host("not json"), "");
  EXPECT_EQ(access_log_host(R"({"RequestHost":5})"), "");
  EXPECT_EQ(access_log_host("[1]"), "");
}

class AccessLogTailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/access-log-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/access.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void append(const std::string& text) { std::ofstream(path_, std::ios::app) << text; }
  static std::string line(const std::string& host) {
    return "{\"RequestHost\":\"" + host + "\"}\n";
  }
  std::string dir_, path_;
  std::vector<std::string> hosts_;
};

TEST_F(AccessLogTailerTest, StartsAtTheEndThenReportsAppendedLines) {
  append(line("old"));
  AccessLogTailer tail(path_, [&](const std::string& h) { hosts_.push_back(h); });
  tail.poll();
  EXPECT_TRUE(hosts_.empty()) << "history before sandboxd started is not activity now";
  append(line("a") + "{\"RequestHost\":\"b");
  tail.poll();
  EXPECT_EQ(hosts_, std::vector<std::string>({"a"}));
  append("\"}\n");
  tail.poll();
  EXPECT_EQ(hosts_, std::vector<std::string>({"a", "b"})) << "a line split across polls";
}

TEST_F(AccessLogTailerTest, FollowsRotationAndTruncation) {
  AccessLogTailer tail(path_, [&](const std::string& h) { hosts_.push_back(h); });
  tail.poll();  // no file yet
  append(line("first"));
  tail.poll();
  EXPECT_EQ(hosts_, std::vector<std::string>({"first"})) << "a file created later is read whole";
  append(line("before-rotate"));
  std::filesystem::rename(path_, path_ + ".1");
  append(line("rotated"));
  tail.poll();
  EXPECT_EQ(hosts_, std::vector<std::string>({"first", "before-rotate", "rotated"}));
  append(line("padding-padding-padding"));
  tail.poll();
  // copytruncate: emptied in place, then written again (less than was read before).
  std::ofstream(path_, std::ios::trunc) << line("truncated");
  tail.poll();
  EXPECT_EQ(hosts_.back(), "truncated");
}

TEST_F(AccessLogTailerTest, TruncatesPastItsCapAndKeepsReportingHostsWrittenAfter) {
  // Traefik's writer: O_APPEND, held open across the truncation.
  int w = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(w, 0);
  auto write_line = [&](const std::string& host) {
    std::string l = line(host);
    ASSERT_EQ(::write(w, l.data(), l.size()), static_cast<ssize_t>(l.size()));
  };
  AccessLogTailer tail(
      path_, [&](const std::string& h) { hosts_.push_back(h); }, 100);
  tail.poll();
  write_line("under-the-cap");
  tail.poll();
  EXPECT_EQ(std::filesystem::file_size(path_), line("under-the-cap").size());
  for (int i = 0; i < 5; ++i) write_line("h" + std::to_string(i));
  write_line("unfinished");
  ASSERT_EQ(::ftruncate(w, static_cast<off_t>(std::filesystem::file_size(path_) - 3)), 0);
  tail.poll();
  EXPECT_EQ(hosts_.size(), 6u);
  EXPECT_GT(std::filesystem::file_size(path_), 100u) << "not in the middle of a line";
  ASSERT_EQ(::write(w, "\"}\n", 3), 3);
  tail.poll();
  ASSERT_EQ(hosts_.size(), 7u);
  EXPECT_EQ(hosts_.back(), "unfinished");
  EXPECT_EQ(std::filesystem::file_size(path_), 0u) << "read whole and over the cap: truncated";
  write_line("after");
  tail.poll();
  EXPECT_EQ(hosts_.back(), "after");
  std::ifstream f(path_);
  std::string content((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(content, line("after")) << "the writer goes on at the new start, no hole";
  ::close(w);
}

TEST(DockerEvents, OnlyThisInstancesManagedContainersAreReported) {
  const std::string mine =
      R"({"Type":"container","Action":"die","Actor":{"ID":"c1","Attributes":{)"
      R"("sandboxed.managed":"true","sandboxed.instance":"prod","sandboxed.id":"ab1","exitCode":"137"}}})";
  EXPECT_EQ(docker_event_sandbox_id(mine, "prod"), std::optional<std::string>("ab1"));
  EXPECT_FALSE(docker_event_sandbox_id(mine, "staging"));
  EXPECT_FALSE(docker_event_sandbox_id(
      R"({"Type":"network","Actor":{"Attributes":{"sandboxed.managed":"true","sandboxed.instance":"prod","sandboxed.id":"x"}}})",
      "prod"));
  EXPECT_FALSE(docker_event_sandbox_id(
      R"({"Type":"container","Actor":{"Attributes":{"sandboxed.instance":"prod","sandboxed.id":"x"}}})",
      "prod"));
  EXPECT_FALSE(docker_event_sandbox_id("garbage", "prod"));
}

class EdgeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.init();
    CreateRequest req;
    req.id = "web";
    req.ports = {3000};
    ASSERT_TRUE(h_.service->create(req));
  }
  ServiceHarness h_{"edge"};
};

TEST_F(EdgeServiceTest, PreviewAddressIsKnownOnlyAfterAWakeAndForgottenOnStop) {
  auto unknown = h_.service->preview_address("nope", 3000);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Code::kNotFound);
  auto undeclared = h_.service->preview_address("web", 3001);
  ASSERT_FALSE(undeclared);
  EXPECT_EQ(undeclared.error().code(), Code::kNotFound);
  auto before = h_.service->preview_address("WEB", 3000);
  ASSERT_TRUE(before);
  EXPECT_FALSE(*before) << "no docker call on this path, so no address until a wake";

  auto ip = h_.service->wake("web", Trigger::kPreview);
  ASSERT_TRUE(ip) << ip.error().message();
  auto known = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(known && *known);
  EXPECT_EQ(**known, *ip);

  ASSERT_TRUE(h_.service->stop("web"));
  auto after = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(after);
  EXPECT_FALSE(*after);
}

TEST_F(EdgeServiceTest, WakeStartsAStoppedSandboxAndRecordsPreviewActivity) {
  ASSERT_TRUE(h_.service->stop("web"));
  h_.clock.advance(std::chrono::milliseconds(5000));
  h_.runtime.clear_calls();
  auto ip = h_.service->wake("web", Trigger::kPreview);
  ASSERT_TRUE(ip) << ip.error().message();
  EXPECT_EQ(h_.status("web"), SandboxStatus::kRunning);
  EXPECT_EQ(h_.runtime.calls(), std::vector<std::string>({"start s-web"}));
  auto row = h_.service->get("web");
  EXPECT_EQ(row->last_active_source, Trigger::kPreview);
  EXPECT_EQ(row->last_active_at, h_.clock.now_ms());
}

TEST_F(EdgeServiceTest, AContainerThatExitedIsForgottenByConverge) {
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  h_.runtime.set_running("s-web", false);
  ASSERT_TRUE(h_.service->converge("web").is_ok());
  EXPECT_EQ(h_.status("web"), SandboxStatus::kStopped);
  auto addr = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(addr);
  EXPECT_FALSE(*addr) << "a stale address could belong to another sandbox by now";
}

TEST_F(EdgeServiceTest, AnyContainerStartForgetsCachedAddressesSinceDockerReusesThem) {
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  CreateRequest other;
  other.id = "other";
  ASSERT_TRUE(h_.service->create(other));
  auto addr = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(addr);
  EXPECT_FALSE(*addr) << "the next request re-learns web's address with a verified wake";
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  ASSERT_TRUE(h_.service->stop("other"));
  ASSERT_TRUE(h_.service->start("other", Trigger::kApi));
  EXPECT_FALSE(*h_.service->preview_address("web", 3000));
}

TEST_F(EdgeServiceTest, ActivityWritesAreThrottledToOncePerSecond) {
  h_.clock.advance(std::chrono::milliseconds(1000));
  h_.service->record_activity("web", Trigger::kTraefik);
  int64_t first = h_.clock.now_ms();
  h_.clock.advance(std::chrono::milliseconds(500));
  h_.service->record_activity("web", Trigger::kPreview);  // within the second: not written
  auto row = h_.service->get("web");
  EXPECT_EQ(row->last_active_at, first);
  EXPECT_EQ(row->last_active_source, Trigger::kTraefik);
  h_.clock.advance(std::chrono::milliseconds(600));
  h_.service->record_activity("web", Trigger::kPreview);  // a second later: written
  row = h_.service->get("web");
  EXPECT_EQ(row->last_active_at, h_.clock.now_ms());
  EXPECT_EQ(row->last_active_source, Trigger::kPreview);
}

}  // namespace
}  // namespace sandboxd
