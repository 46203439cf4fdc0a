// Unit tests of the preview edge's logic: host parsing, browser navigations, single-flight
// wakes, docker event lines, and the service's address cache and activity writes (on
// fakes).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "fakes/service_harness.h"
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
  EXPECT_FALSE(before->address) << "no docker call on this path, so no address until a wake";

  auto ip = h_.service->wake("web", Trigger::kPreview);
  ASSERT_TRUE(ip) << ip.error().message();
  auto known = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(known && known->address);
  EXPECT_EQ(*known->address, *ip);

  ASSERT_TRUE(h_.service->stop("web"));
  auto after = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->address);
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
  EXPECT_FALSE(addr->address) << "a stale address could belong to another sandbox by now";
}

TEST_F(EdgeServiceTest, AnyContainerStartForgetsCachedAddressesSinceDockerReusesThem) {
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  CreateRequest other;
  other.id = "other";
  ASSERT_TRUE(h_.service->create(other));
  auto addr = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(addr);
  EXPECT_FALSE(addr->address) << "the next request re-learns web's address with a verified wake";
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  ASSERT_TRUE(h_.service->stop("other"));
  ASSERT_TRUE(h_.service->start("other", Trigger::kApi));
  EXPECT_FALSE(h_.service->preview_address("web", 3000)->address);
}

TEST_F(EdgeServiceTest, AFrozenSandboxIsHeldForAThawThatKeepsItsAddressWithoutAStart) {
  auto ip = h_.service->wake("web", Trigger::kPreview);
  ASSERT_TRUE(ip) << ip.error().message();
  auto frozen = h_.service->freeze_if("web", [](const SandboxRecord&) { return true; });
  ASSERT_TRUE(frozen && *frozen);
  EXPECT_EQ(h_.status("web"), SandboxStatus::kFrozen);
  auto target = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(target);
  EXPECT_TRUE(target->frozen);
  EXPECT_FALSE(target->address) << "a paused container must not be sent requests";

  h_.runtime.clear_calls();
  auto thawed = h_.service->wake("web", Trigger::kPreview);
  ASSERT_TRUE(thawed) << thawed.error().message();
  EXPECT_EQ(*thawed, *ip);
  EXPECT_EQ(h_.runtime.calls(), std::vector<std::string>({"unpause s-web"}));
  EXPECT_EQ(h_.status("web"), SandboxStatus::kRunning);
  auto after = h_.service->preview_address("web", 3000);
  ASSERT_TRUE(after && after->address);
  EXPECT_FALSE(after->frozen);
}

TEST_F(EdgeServiceTest, AFreezeRechecksItsConditionUnderTheLock) {
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  auto frozen = h_.service->freeze_if("web", [](const SandboxRecord&) { return false; });
  ASSERT_TRUE(frozen);
  EXPECT_FALSE(*frozen);
  EXPECT_EQ(h_.status("web"), SandboxStatus::kRunning);
}

TEST_F(EdgeServiceTest, AFailedPauseLeavesTheSandboxRunning) {
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  h_.runtime.fail_next("pause", Status(Code::kUnavailable, "docker said no"));
  auto frozen = h_.service->freeze_if("web", [](const SandboxRecord&) { return true; });
  EXPECT_FALSE(frozen);
  EXPECT_EQ(h_.status("web"), SandboxStatus::kRunning);
  EXPECT_FALSE(h_.service->preview_address("web", 3000)->frozen);
}

TEST_F(EdgeServiceTest, ActivityOnAFrozenSandboxThawsIt) {
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  ASSERT_TRUE(h_.service->freeze_if("web", [](const SandboxRecord&) { return true; }));
  h_.clock.advance(std::chrono::milliseconds(5000));
  h_.service->record_activity("web", Trigger::kExec);
  EXPECT_EQ(h_.status("web"), SandboxStatus::kRunning);
}

TEST_F(EdgeServiceTest, StoppingAFrozenSandboxUnpausesItFirst) {
  ASSERT_TRUE(h_.service->wake("web", Trigger::kPreview));
  ASSERT_TRUE(h_.service->freeze_if("web", [](const SandboxRecord&) { return true; }));
  h_.runtime.clear_calls();
  ASSERT_TRUE(h_.service->stop("web"));
  EXPECT_EQ(h_.runtime.calls(), std::vector<std::string>({"unpause s-web", "stop s-web"}));
  EXPECT_EQ(h_.status("web"), SandboxStatus::kStopped);
}

TEST_F(EdgeServiceTest, ActivityWritesAreThrottledToOncePerSecond) {
  h_.clock.advance(std::chrono::milliseconds(1000));
  h_.service->record_activity("web", Trigger::kExec);
  int64_t first = h_.clock.now_ms();
  h_.clock.advance(std::chrono::milliseconds(500));
  h_.service->record_activity("web", Trigger::kPreview);  // within the second: not written
  auto row = h_.service->get("web");
  EXPECT_EQ(row->last_active_at, first);
  EXPECT_EQ(row->last_active_source, Trigger::kExec);
  h_.clock.advance(std::chrono::milliseconds(600));
  h_.service->record_activity("web", Trigger::kPreview);  // a second later: written
  row = h_.service->get("web");
  EXPECT_EQ(row->last_active_at, h_.clock.now_ms());
  EXPECT_EQ(row->last_active_source, Trigger::kPreview);
}

}  // namespace
}  // namespace sandboxd
