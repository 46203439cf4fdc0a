// bench/tasks: the task event path and the files API against their raw equivalents,
// side by side in one run. In-process: sandboxd's real Store (SQLite file), TaskService,
// WorkspaceFiles and ApiServer over loopback HTTP; only Docker is a fake (no container
// is needed: the bench itself plays the agent, appending JSON lines to the task's
// out.jsonl as `sandbox-init task-run` would).
//   latency: agent line appended -> event received by an SSE client, vs. the same line
//            seen by a raw inotify tail of the file (the floor for any file follower).
//   fan-out: the same with 100 SSE watchers of one task: time until the last one has
//            each event, vs. one watcher, with two client models: all sockets read by one
//            epoll thread, and a reader thread per socket; and the floor of each: one
//            thread writes a 100-byte frame to 100 loopback sockets read the same way,
//            until the last read (what any server pays, before any work of its own).
//   files:   PUT / GET of a 1 MiB file through the API vs. plain write+rename / read of
//            the same bytes in the same directory.
// Usage: build/bench_tasks [EVENTS] [WATCHERS]   (defaults 200 and 100)
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes/fake_disks.h"
#include "fakes/fake_runtime.h"
#include "sandboxd/api/server.h"
#include "sandboxd/auth/auth.h"
#include "sandboxd/os/memory.h"
#include "sandboxd/store/store.h"
#include "sandboxd/tasks/task_service.h"

using namespace sandboxd;
using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<std::size_t>(p * (v.size() - 1))];
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench/tasks: %s\n", what.c_str());
  std::exit(1);
}

// SSE watchers of one task: each records when it saw each event id. Only the watcher
// that completes an event wakes the bench (one wake-up per event, as socket_floor).
class Watchers {
 public:
  Watchers(int port, const std::string& path, int n, int events)
      : n_(n), seen_(n), count_(static_cast<std::size_t>(events) + 2) {
    for (auto& s : seen_) s.assign(events + 2, SteadyClock::time_point{});
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, port, path, i] {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(120, 0);
        std::string buf;
        c.Get(path.c_str(), [&](const char* d, std::size_t len) {
          buf.append(d, len);
          std::size_t end;
          while ((end = buf.find("\n\n")) != std::string::npos) {
            std::string frame = buf.substr(0, end);
            buf.erase(0, end + 2);
            if (frame.rfind("id: ", 0) != 0) continue;
            auto id = std::stoul(frame.substr(4));
            if (id < count_.size()) {
              seen_[i][id] = SteadyClock::now();
              if (count_[id].fetch_add(1) + 1 == n_) {
                std::lock_guard lock(mu_);
                cv_.notify_all();
              }
            }
            if (frame.find("event: done") != std::string::npos) return false;
          }
          return true;
        });
      });
    }
  }
  ~Watchers() {
    for (auto& t : threads_) t.join();
  }
  // Waits until every watcher saw event `id`; returns when the last one did.
  SteadyClock::time_point all_saw(std::size_t id) {
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return count_[id] == n_; }))
        die("event " + std::to_string(id) + " did not reach every watcher");
    }
    SteadyClock::time_point last{};
    for (auto& s : seen_) last = std::max(last, s[id]);
    return last;
  }

 private:
  const int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<SteadyClock::time_point>> seen_;  // [watcher][id], each its own
  std::vector<std::atomic<int>> count_;                     // watchers that saw each id
  std::vector<std::thread> threads_;
};

// Reads `fds` (non-blocking) on one epoll thread, handing each read's bytes to
// `on_data(index, bytes)`, until stopped; a socket that ends leaves the set.
class EpollReader {
 public:
  using OnData = std::function<void(std::size_t, std::string_view)>;
  EpollReader(const std::vector<int>& fds, OnData on_data) : on_data_(std::move(on_data)) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1");
    for (std::size_t i = 0; i < fds.size(); ++i) {
      ::fcntl(fds[i], F_SETFL, ::fcntl(fds[i], F_GETFL) | O_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fds[i], &ev) != 0) die("epoll_ctl");
    }
    thread_ = std::thread([this, fds] {
      std::vector<epoll_event> evs(fds.size());
      std::vector<char> buf(1 << 16);
      while (!stop_.load()) {
        int k = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 100);
        for (int j = 0; j < k; ++j) {
          auto i = static_cast<std::size_t>(evs[j].data.u64);
          ssize_t got = ::read(fds[i], buf.data(), buf.size());
          if (got > 0) {
            on_data_(i, std::string_view(buf.data(), static_cast<std::size_t>(got)));
          } else if (got == 0 || errno != EAGAIN) {
            ::epoll_ctl(ep_, EPOLL_CTL_DEL, fds[i], nullptr);
          }
        }
      }
    });
  }
  ~EpollReader() {
    stop_ = true;
    thread_.join();
    ::close(ep_);
  }

 private:
  OnData on_data_;
  int ep_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    die("connect to 127.0.0.1:" + std::to_string(port));
  return fd;
}

// The same watchers as Watchers, as one client process with many connections would run
// them: `n` raw sockets, each sending the GET, all read by one epoll thread that finds
// each frame's `id:` line in the chunked stream (a frame never spans two chunks: the
// server writes each batch of frames as one chunk).
class EpollWatchers {
 public:
  EpollWatchers(int port, const std::string& path, int n, int events)
      : n_(n), seen_(static_cast<std::size_t>(events) + 2), bufs_(n) {
    const std::string get = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < n; ++i) {
      fds_.push_back(connect_loopback(port));
      if (::write(fds_.back(), get.data(), get.size()) != static_cast<ssize_t>(get.size()))
        die("send GET");
    }
    reader_ = std::make_unique<EpollReader>(fds_, [this](std::size_t i, std::string_view d) {
      std::string& buf = bufs_[i];
      buf.append(d);
      std::size_t at = 0;
      for (std::size_t id_at; (id_at = buf.find("\nid: ", at)) != std::string::npos;) {
        std::size_t end = buf.find('\n', id_at + 1);
        if (end == std::string::npos) break;
        auto id = std::stoul(buf.substr(id_at + 5, end - id_at - 5));
        at = end;
        if (id < seen_.size() && ++seen_[id].count == n_) {
          seen_[id].last = SteadyClock::now();
          std::lock_guard lock(mu_);
          complete_ = id;
          cv_.notify_all();
        }
      }
      buf.erase(0, at);
    });
  }
  ~EpollWatchers() {
    reader_.reset();
    for (int fd : fds_) ::close(fd);
  }
  // Waits until every watcher saw event `id` (ids complete in order); returns when the
  // last one did.
  SteadyClock::time_point all_saw(std::size_t id) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return complete_ >= id; }))
      die("event " + std::to_string(id) + " did not reach every watcher");
    return seen_[id].last;
  }

 private:
  struct Seen {
    int count = 0;  // written by the reader thread only
    SteadyClock::time_point last{};
  };
  const int n_;
  std::vector<Seen> seen_;  // by event id
  std::vector<std::string> bufs_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t complete_ = 0;  // the highest id every watcher saw
  std::vector<int> fds_;
  std::unique_ptr<EpollReader> reader_;
};

struct Rig {
  std::string dir = "/tmp/sandboxd-bench-tasks-" + std::to_string(::getpid());
  Config config;
  std::unique_ptr<Store> store;
  FakeRuntime docker;
  Metrics metrics;
  SystemClock clock;
  ProcMemoryProbe memory;
  FakeDisks disks;  // plain directories: the bench measures the task and files paths
  std::unique_ptr<Workspaces> workspaces;
  std::unique_ptr<SandboxService> sandboxes;
  std::unique_ptr<TaskService> tasks;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<ApiServer> api;

  Rig() {
    std::filesystem::create_directories(dir + "/state");
    config.data_dir = dir;
    config.mem_headroom_pct = config.mem_refuse_pct = config.mem_emergency_pct = 0;
    store = std::move(*Store::open(config.db_path()));
    workspaces = std::make_unique<Workspaces>(config.workspaces_dir(), disks);
    if (!workspaces->init().is_ok()) die("workspaces");
    sandboxes = std::make_unique<SandboxService>(config, *store, docker, clock, *workspaces, memory,
                                                 metrics, /*egress=*/nullptr);
    if (!sandboxes->init().is_ok()) die("sandbox service");
    tasks = std::make_unique<TaskService>(config, *store, *sandboxes, clock, *workspaces, metrics);
    tasks->start();
    auth = std::make_unique<Authenticator>(true, std::vector<ApiToken>{});
    api = std::make_unique<ApiServer>(config, *sandboxes, *auth, clock, metrics, tasks.get());
    if (!api->start("127.0.0.1", 0).is_ok()) die("api");
  }
  ~Rig() {
    api->stop();
    tasks->stop();
    std::filesystem::remove_all(dir);
  }
  // A running task in a fresh sandbox; returns {events path, host path of out.jsonl}.
  std::pair<std::string, std::string> task(const std::string& sandbox) {
    CreateRequest req;
    req.id = sandbox;
    if (!sandboxes->create(req)) die("create sandbox");
    TaskRequest tr;
    tr.prompt = "bench";
    tr.agent = Agent::kOpenCode;
    auto t = tasks->create(sandbox, tr);
    if (!t) die("create task: " + t.error().message());
    return {"/v1/sandboxes/" + sandbox + "/tasks/" + t->id + "/events",
            workspaces->path(sandbox) + "/.sandboxed/tasks/" + t->id + "/out.jsonl"};
  }
};

void append(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    die("append to " + path);
  ::close(fd);
}

std::string line(int i) {
  return json{{"type", "text"}, {"part", {{"text", "event " + std::to_string(i)}}}}.dump() + "\n";
}

// Agent line -> SSE client latencies (ms) for `watchers` watchers of a new task, each a
// thread of its own (Watchers) or all on one epoll thread (EpollWatchers).
template <class Clients>
std::vector<double> sse_latency(Rig& rig, const std::string& sandbox, int events, int watchers) {
  auto [path, out] = rig.task(sandbox);
  Clients w(rig.api->port(), path, watchers, events);
  w.all_saw(1);  // the "starting" status event: every watcher is connected
  std::vector<double> lat;
  for (int i = 0; i < events; ++i) {
    auto t0 = SteadyClock::now();
    append(out, line(i));
    lat.push_back(ms(w.all_saw(static_cast<std::size_t>(i) + 2) - t0));
  }
  std::string exit_json = out.substr(0, out.rfind('/')) + "/exit.json";
  append(exit_json,
         R"({"exit_code":0,"signal":0,"timed_out":false,"cancelled":false,"files_changed":[]})");
  return lat;
}

// The same lines seen by a raw inotify tail of a plain file.
std::vector<double> raw_latency(const std::string& dir, int events) {
  std::string path = dir + "/raw.jsonl";
  append(path, "");
  int in = ::inotify_init1(IN_CLOEXEC);
  ::inotify_add_watch(in, path.c_str(), IN_MODIFY);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<double> lat;
  char buf[65536];
  for (int i = 0; i < events; ++i) {
    auto t0 = SteadyClock::now();
    append(path, line(i));
    pollfd p{in, POLLIN, 0};
    ::poll(&p, 1, 1000);
    (void)::read(in, buf, sizeof buf);
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    lat.push_back(ms(SteadyClock::now() - t0));
  }
  ::close(fd);
  ::close(in);
  return lat;
}

// The fan-out floor: one thread writes a 100-byte frame to `n` loopback sockets (TCP, as
// the API), each read by its own thread, or all by one epoll thread (`one_reader`); per
// round, the time until the last read (ms).
std::vector<double> socket_floor(int rounds, int n, bool one_reader) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, n) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    die("floor: listen");
  std::vector<int> readers(n), writers(n);
  for (int i = 0; i < n; ++i) {
    readers[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(readers[i], reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        (writers[i] = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) < 0)
      die("floor: connect");
    int one = 1;
    ::setsockopt(writers[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ::close(listener);
  constexpr std::size_t kFrame = 100;
  std::vector<std::vector<SteadyClock::time_point>> seen(
      n, std::vector<SteadyClock::time_point>(rounds));
  std::atomic<int> reads{0};
  std::vector<std::thread> threads;
  std::vector<std::size_t> got_bytes(n);  // one_reader: bytes read from each socket
  std::unique_ptr<EpollReader> reader;
  if (one_reader) {
    reader = std::make_unique<EpollReader>(readers, [&](std::size_t i, std::string_view d) {
      std::size_t from = got_bytes[i] / kFrame;
      got_bytes[i] += d.size();
      for (auto r = from; r < got_bytes[i] / kFrame; ++r) {
        seen[i][r] = SteadyClock::now();
        if (reads.fetch_add(1) + 1 == (static_cast<int>(r) + 1) * n) reads.notify_all();
      }
    });
  }
  for (int i = 0; i < n && !one_reader; ++i) {
    threads.emplace_back([&, i] {
      char buf[kFrame];
      for (int r = 0; r < rounds; ++r) {
        for (std::size_t got = 0; got < kFrame;) {
          ssize_t k = ::read(readers[i], buf, kFrame - got);
          if (k <= 0) return;
          got += static_cast<std::size_t>(k);
        }
        seen[i][r] = SteadyClock::now();
        if (reads.fetch_add(1) + 1 == (r + 1) * n) reads.notify_all();
      }
    });
  }
  const std::string frame(kFrame, 'x');
  std::vector<double> lat;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = SteadyClock::now();
    for (int fd : writers)
      if (::write(fd, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size()))
        die("floor: write");
    for (int got; (got = reads.load()) < (r + 1) * n;) reads.wait(got);
    SteadyClock::time_point last{};
    for (const auto& s : seen) last = std::max(last, s[r]);
    lat.push_back(ms(last - t0));
  }
  for (auto& t : threads) t.join();
  reader.reset();
  for (int i = 0; i < n; ++i) {
    ::close(readers[i]);
    ::close(writers[i]);
  }
  return lat;
}

}  // namespace

int main(int argc, char** argv) {
  const int events = argc > 1 ? std::max(10, std::atoi(argv[1])) : 200;
  const int watchers = argc > 2 ? std::max(2, std::atoi(argv[2])) : 100;
  spdlog::set_level(spdlog::level::warn);
  Rig rig;

  auto raw = raw_latency(rig.dir, events);
  auto one = sse_latency<Watchers>(rig, "lat1", events, 1);
  auto many = sse_latency<Watchers>(rig, "fan1", events, watchers);
  auto ep_one = sse_latency<EpollWatchers>(rig, "lat2", events, 1);
  auto ep_many = sse_latency<EpollWatchers>(rig, "fan2", events, watchers);
  auto floor_one = socket_floor(events, 1, false);
  auto floor_many = socket_floor(events, watchers, false);
  auto ep_floor_one = socket_floor(events, 1, true);
  auto ep_floor_many = socket_floor(events, watchers, true);
  std::printf("event latency (ms): raw inotify tail p50 %.3f p99 %.3f\n", pct(raw, .5),
              pct(raw, .99));
  const auto row = [&](const char* model, const std::vector<double>& sse1,
                       const std::vector<double>& sseN, const std::vector<double>& floor1,
                       const std::vector<double>& floorN) {
    std::printf(
        "  %s: sandboxd SSE 1 watcher p50 %.3f p99 %.3f | %d watchers (last one) p50 %.3f p99 "
        "%.3f || floor (100-byte frame written by one thread, until the last read) 1 socket "
        "p50 %.3f p99 %.3f | %d sockets p50 %.3f p99 %.3f\n",
        model, pct(sse1, .5), pct(sse1, .99), watchers, pct(sseN, .5), pct(sseN, .99),
        pct(floor1, .5), pct(floor1, .99), watchers, pct(floorN, .5), pct(floorN, .99));
  };
  row("epoll client (one thread reads every socket)", ep_one, ep_many, ep_floor_one, ep_floor_many);
  row("thread per client (each socket read by its own thread)", one, many, floor_one, floor_many);

  // Files API vs plain file I/O, 1 MiB x 30 each way.
  CreateRequest req;
  req.id = "files1";
  if (!rig.sandboxes->create(req)) die("create files sandbox");
  std::string content(1 << 20, 'a');
  for (std::size_t i = 0; i < content.size(); i += 97) content[i] = static_cast<char>('a' + i % 26);
  httplib::Client c("127.0.0.1", rig.api->port());
  std::string body = json{{"path", "big.txt"}, {"content", content}}.dump();
  const int rounds = 30;
  auto t0 = SteadyClock::now();
  for (int i = 0; i < rounds; ++i) {
    auto r = c.Put("/v1/sandboxes/files1/files", body, "application/json");
    if (!r || r->status != 200) die("PUT files");
  }
  double api_put = ms(SteadyClock::now() - t0) / rounds;
  t0 = SteadyClock::now();
  for (int i = 0; i < rounds; ++i) {
    auto r = c.Put("/v1/sandboxes/files1/files?path=big.txt", content, "application/octet-stream");
    if (!r || r->status != 200) die("PUT files (raw)");
  }
  double api_put_raw = ms(SteadyClock::now() - t0) / rounds;
  t0 = SteadyClock::now();
  for (int i = 0; i < rounds; ++i) {
    auto r = c.Get("/v1/sandboxes/files1/files?path=big.txt&raw=true");
    if (!r || r->body.size() != content.size()) die("GET files");
  }
  double api_get = ms(SteadyClock::now() - t0) / rounds;
  std::string ws = rig.workspaces->path("files1");
  t0 = SteadyClock::now();
  for (int i = 0; i < rounds; ++i) {
    std::string tmp = ws + "/.raw.tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 ||
        ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
      die("raw write");
    ::close(fd);
    std::filesystem::rename(tmp, ws + "/raw.txt");
  }
  double raw_put = ms(SteadyClock::now() - t0) / rounds;
  t0 = SteadyClock::now();
  for (int i = 0; i < rounds; ++i) {
    std::string got(content.size(), '\0');
    int fd = ::open((ws + "/raw.txt").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::read(fd, got.data(), got.size()) != static_cast<ssize_t>(got.size()))
      die("raw read");
    ::close(fd);
  }
  double raw_get = ms(SteadyClock::now() - t0) / rounds;
  std::printf(
      "files, 1 MiB: API PUT JSON %.2f ms (%.0f MB/s), PUT raw %.2f ms (%.0f MB/s) vs local "
      "write+rename %.2f ms; API GET raw %.2f ms (%.0f MB/s) vs local read %.2f ms\n",
      api_put, 1.048576 / api_put * 1000, api_put_raw, 1.048576 / api_put_raw * 1000, raw_put,
      api_get, 1.048576 / api_get * 1000, raw_get);
  std::printf("ratio event latency p50 sandboxd/raw %.2f (added %.3f ms)\n",
              pct(one, .5) / pct(raw, .5), pct(one, .5) - pct(raw, .5));
  const double ep_fan_out = pct(ep_many, .5) / pct(ep_one, .5);
  std::printf(
      "ratio fan-out p50 %d/1 (epoll client) %.2f (target <= 2) %s; raw floor %d/1 sockets "
      "%.2f, sandboxd's %d watchers = %.2f x the floor's %d sockets\n",
      watchers, ep_fan_out, ep_fan_out <= 2 ? "met" : "NOT met", watchers,
      pct(ep_floor_many, .5) / pct(ep_floor_one, .5), watchers,
      pct(ep_many, .5) / pct(ep_floor_many, .5), watchers);
  std::printf(
      "ratio fan-out p50 %d/1 (thread per client) %.2f; raw floor %d sockets p50 %.3f ms = %.2f "
      "x sandboxd's 1 watcher, sandboxd's %d watchers = %.2f x the floor\n",
      watchers, pct(many, .5) / pct(one, .5), watchers, pct(floor_many, .5),
      pct(floor_many, .5) / pct(one, .5), watchers, pct(many, .5) / pct(floor_many, .5));
  std::printf("ratio files PUT (raw body) api/local %.2f, PUT (JSON) %.2f, GET api/local %.2f\n",
              api_put_raw / raw_put, api_put / raw_put, api_get / raw_get);
  return 0;
}
