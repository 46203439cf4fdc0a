// Unit tests of the edge's parts that need no sockets to sandboxes: trusted-proxy ranges,
// peer addresses, the caps, the event loop's posts, timers and retired watchers, and the
// Edge itself on loopback over a SandboxService on fakes (its own answers only: nothing
// here connects to a sandbox address).
#include "sandboxd/edge/edge.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "fakes/service_harness.h"
#include "sandboxd/edge/edge_limits.h"
#include "sandboxd/edge/event_loop.h"

namespace sandboxd {
namespace {

PeerAddress v4(const char* text) {
  sockaddr_storage ss{};
  auto& a = reinterpret_cast<sockaddr_in&>(ss);
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, text, &a.sin_addr);
  return PeerAddress::from(ss);
}

PeerAddress v6(const char* text) {
  sockaddr_storage ss{};
  auto& a = reinterpret_cast<sockaddr_in6&>(ss);
  a.sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, text, &a.sin6_addr);
  return PeerAddress::from(ss);
}

TEST(PeerAddress, AnIpv4MappedIpv6PeerIsPlainIpv4) {
  EXPECT_EQ(v4("203.0.113.7").text, "203.0.113.7");
  PeerAddress mapped = v6("::ffff:203.0.113.7");
  EXPECT_EQ(mapped.text, "203.0.113.7");
  EXPECT_FALSE(mapped.v6);
  EXPECT_EQ(v6("2001:db8::1").text, "2001:db8::1");
  EXPECT_TRUE(v6("2001:db8::1").v6);
}

TEST(TrustedProxies, MatchesAddressesAndRangesOfTheirOwnFamily) {
  auto t = TrustedProxies::parse(" 127.0.0.1, 10.0.0.0/8,192.0.2.2/31, 2001:db8::/32 ,::1");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_TRUE(t->contains(v4("127.0.0.1")));
  EXPECT_FALSE(t->contains(v4("127.0.0.2")));
  EXPECT_TRUE(t->contains(v4("10.255.1.2")));
  EXPECT_FALSE(t->contains(v4("11.0.0.1")));
  EXPECT_TRUE(t->contains(v4("192.0.2.2")));
  EXPECT_TRUE(t->contains(v4("192.0.2.3")));
  EXPECT_FALSE(t->contains(v4("192.0.2.4")));
  EXPECT_TRUE(t->contains(v6("2001:db8:ffff::9")));
  EXPECT_FALSE(t->contains(v6("2001:db9::1")));
  EXPECT_TRUE(t->contains(v6("::1")));
  EXPECT_TRUE(t->contains(v6("::ffff:127.0.0.1"))) << "a mapped peer matches its IPv4 range";
  EXPECT_FALSE(t->contains(v6("::ffff:127.0.0.2")));
  auto none = TrustedProxies::parse("");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(none->contains(v4("127.0.0.1")));
}

TEST(TrustedProxies, RejectsNamesBadPrefixesAndGarbageNamingTheEntry) {
  for (const char* bad : {"traefik", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x",
                          "1.2.3.4.5", "10.0.0.0/8/8"}) {
    auto t = TrustedProxies::parse(std::string("127.0.0.1,") + bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code(), Code::kInvalidArgument);
    EXPECT_NE(t.error().message().find(bad), std::string::npos) << t.error().message();
  }
}

TEST(EdgeLimits, CountsPerClientAndPerSandboxUpToTheirCaps) {
  EdgeLimits limits(2, 3);
  EXPECT_TRUE(limits.add_client("a"));
  EXPECT_TRUE(limits.add_client("a"));
  EXPECT_FALSE(limits.add_client("a")) << "the third connection from one address";
  EXPECT_TRUE(limits.add_client("b")) << "another address has its own count";
  limits.remove_client("a");
  EXPECT_TRUE(limits.add_client("a")) << "a closed connection frees its place";
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits.begin_request("sbx"));
  EXPECT_FALSE(limits.begin_request("sbx"));
  EXPECT_TRUE(limits.begin_request("other"));
  limits.end_request("sbx");
  EXPECT_TRUE(limits.begin_request("sbx"));
  limits.end_request("never-begun");  // harmless
  EXPECT_FALSE(limits.begin_request("sbx"));
}

// Runs a loop on a thread of its own for the test's length.
class LoopThread {
 public:
  LoopThread() {
    EXPECT_TRUE(loop.init().is_ok());
    thread_ = std::thread([this] { loop.run(std::chrono::milliseconds(10), [this] { ++ticks; }); });
  }
  ~LoopThread() {
    loop.stop();
    thread_.join();
  }
  EventLoop loop;
  std::atomic<int> ticks{0};

 private:
  std::thread thread_;
};

template <class Pred>
bool within(std::chrono::seconds limit, Pred pred) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

TEST(EventLoop, PostsFromOtherThreadsRunOnTheLoopInOrder) {
  LoopThread t;
  std::vector<int> seen;  // touched only on the loop thread
  std::atomic<bool> done{false};
  std::thread::id loop_thread;
  for (int i = 0; i < 100; ++i) t.loop.post([&, i] { seen.push_back(i); });
  t.loop.post([&] {
    loop_thread = std::this_thread::get_id();
    done = true;
  });
  ASSERT_TRUE(within(std::chrono::seconds(10), [&] { return done.load(); }));
  EXPECT_NE(loop_thread, std::this_thread::get_id());
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_TRUE(within(std::chrono::seconds(10), [&] { return t.ticks.load() > 2; }))
      << "the tick runs on its period";
}

TEST(EventLoop, TimersRunInDeadlineOrderNotBefore) {
  LoopThread t;
  std::vector<int> order;
  std::atomic<int> fired{0};
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration first_at{};
  t.loop.post([&] {
    t.loop.after(std::chrono::milliseconds(60), [&] {
      order.push_back(2);
      ++fired;
    });
    t.loop.after(std::chrono::milliseconds(20), [&] {
      first_at = std::chrono::steady_clock::now() - start;
      order.push_back(1);
      ++fired;
    });
  });
  ASSERT_TRUE(within(std::chrono::seconds(10), [&] { return fired.load() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_GE(first_at, std::chrono::milliseconds(20));
}

// A watcher that counts its events and retires itself (and closes its fd) on the first.
struct Retiring : EventLoop::Watcher {
  EventLoop* loop = nullptr;
  int fd = -1;
  std::atomic<int>* events = nullptr;
  std::atomic<int>* destroyed = nullptr;
  ~Retiring() override { ++*destroyed; }
  void on_io(uint32_t) override {
    ++*events;
    loop->remove(fd);
    ::close(fd);
    loop->retire(this);
    loop->retire(this);  // twice is harmless
  }
};

TEST(EventLoop, AWatcherRetiredDuringABatchIsDeletedOnceAfterIt) {
  LoopThread t;
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  std::atomic<int> events{0}, destroyed{0};
  auto* w = new Retiring;
  w->loop = &t.loop;
  w->fd = pair[0];
  w->events = &events;
  w->destroyed = &destroyed;
  t.loop.post([&] { ASSERT_TRUE(t.loop.add(pair[0], EPOLLIN, w).is_ok()); });
  ASSERT_EQ(::write(pair[1], "x", 1), 1);
  ASSERT_TRUE(within(std::chrono::seconds(10), [&] { return destroyed.load() == 1; }));
  EXPECT_EQ(events.load(), 1);
  ::close(pair[1]);
}

// A connection to 127.0.0.1:`port`; -1 when it fails.
int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  ::close(fd);
  return -1;
}

// Sends `request` on a new loopback connection to `port` and returns what arrives until
// the edge closes the connection (closed=true) or 5 s pass. Every answer these tests
// provoke ends its connection.
std::string exchange(int port, const std::string& request, bool& closed) {
  std::string got;
  closed = false;
  int fd = connect_loopback(port);
  if (fd >= 0) {
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = n == 0;
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
  }
  return got;
}

double sample(const std::vector<ScrapeSample>& samples, const std::string& family,
              const MetricLabels& labels) {
  for (const auto& s : samples)
    if (s.family == family && s.labels == labels) return s.value;
  return -1;
}

class EdgeOnFakes : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.config.edge_threads = 2;
    h_.init();
    edge = std::make_unique<Edge>(h_.config, *h_.service, h_.clock);
    ASSERT_TRUE(edge->start("127.0.0.1", 0).is_ok());
  }
  ServiceHarness h_{"edge-unit"};
  std::unique_ptr<Edge> edge;  // after h_, whose service it uses
};

TEST_F(EdgeOnFakes, ASecondEdgeCannotTakeThePortOfTheFirst) {
  EXPECT_EQ(edge->threads(), 2);
  Edge second(h_.config, *h_.service, h_.clock);
  Status st = second.start("127.0.0.1", edge->port());
  ASSERT_FALSE(st.is_ok()) << "two edges on one port would split its traffic";
  EXPECT_NE(st.message().find("bind"), std::string::npos) << st.message();
}

TEST_F(EdgeOnFakes, AnswersOtherHostsAndBadRequestsItselfAndCountsThem) {
  bool closed = false;
  std::string not_preview = exchange(
      edge->port(), "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", closed);
  EXPECT_EQ(not_preview.rfind("HTTP/1.1 404 ", 0), 0u) << not_preview;
  EXPECT_TRUE(closed);
  std::string unknown = exchange(
      edge->port(),
      "GET / HTTP/1.1\r\nHost: s-nope-3000.preview.localhost\r\nConnection: close\r\n\r\n", closed);
  EXPECT_EQ(unknown.rfind("HTTP/1.1 404 ", 0), 0u) << unknown;
  std::string smuggled = exchange(edge->port(),
                                  "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                                  closed);
  EXPECT_EQ(smuggled.rfind("HTTP/1.1 400 ", 0), 0u) << smuggled;
  EXPECT_NE(smuggled.find("Connection: close"), std::string::npos) << smuggled;
  EXPECT_TRUE(closed) << "a refused request ends its connection";

  auto samples = edge->samples();
  EXPECT_EQ(sample(samples, "sandboxd_edge_connections_total", {{"result", "accepted"}}), 3);
  EXPECT_EQ(sample(samples, "sandboxd_edge_responses_total", {{"source", "edge"}, {"code", "4xx"}}),
            3);
  EXPECT_EQ(
      sample(samples, "sandboxd_edge_responses_total", {{"source", "sandbox"}, {"code", "2xx"}}),
      0);
  Metrics m;
  std::string text = m.render(samples);
  EXPECT_NE(text.find("sandboxd_edge_responses_total{source=\"edge\",code=\"4xx\"} 3\n"),
            std::string::npos)
      << text;
}

TEST(EdgeCaps, AClientOverItsConnectionCapGets429) {
  ServiceHarness h("edge-cap");
  h.config.edge_max_connections_per_client = 1;
  h.init();
  Edge edge(h.config, *h.service, h.clock);
  ASSERT_TRUE(edge.start("127.0.0.1", 0).is_ok());
  int held = connect_loopback(edge.port());
  ASSERT_GE(held, 0);
  // The held connection is counted once the edge accepted it.
  ASSERT_TRUE(within(std::chrono::seconds(10),
                     [&] { return sample(edge.samples(), "sandboxd_edge_connections", {}) == 1; }));
  bool closed = false;
  std::string over = exchange(edge.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", closed);
  EXPECT_EQ(over.rfind("HTTP/1.1 429 ", 0), 0u) << over;
  EXPECT_EQ(
      sample(edge.samples(), "sandboxd_edge_connections_total", {{"result", "over_client_cap"}}),
      1);
  ::close(held);
}

}  // namespace
}  // namespace sandboxd
