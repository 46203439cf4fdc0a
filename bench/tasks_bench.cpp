// bench/tasks: the task event path and the files API against their raw equivalents,
// side by side in one run. In-process: sandboxd's real Store (SQLite file), TaskService,
// WorkspaceFiles and ApiServer over loopback HTTP; only Docker is a fake (no container
// is needed: the bench itself plays the agent, appending JSON lines to the task's
// out.jsonl as `sandbox-init task-run` would).
//   latency: agent line appended -> event received by an SSE client, vs. the same line
//            seen by a raw inotify tail of the file (the floor for any file follower).
//   fan-out: the same with 100 SSE watchers of one task: time until the last one has
//            each event, vs. one watcher.
//   files:   PUT / GET of a 1 MiB file through the API vs. plain write+rename / read of
//            the same bytes in the same directory.
// Usage: build/bench_tasks [EVENTS] [WATCHERS]   (defaults 200 and 100)
#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
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

// SSE watchers of one task: each records when it saw each event id.
class Watchers {
 public:
  Watchers(int port, const std::string& path, int n, int events) : seen_(n) {
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
            std::lock_guard lock(mu_);
            if (id < seen_[i].size()) seen_[i][id] = SteadyClock::now();
            cv_.notify_all();
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
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      for (auto& s : seen_)
        if (s[id] == SteadyClock::time_point{}) return false;
      return true;
    });
    SteadyClock::time_point last{};
    for (auto& s : seen_) last = std::max(last, s[id]);
    return last;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<SteadyClock::time_point>> seen_;
  std::vector<std::thread> threads_;
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

// Agent line -> SSE client latencies (ms) for `watchers` watchers of a new task.
std::vector<double> sse_latency(Rig& rig, const std::string& sandbox, int events, int watchers) {
  auto [path, out] = rig.task(sandbox);
  Watchers w(rig.api->port(), path, watchers, events);
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

}  // namespace

int main(int argc, char** argv) {
  const int events = argc > 1 ? std::max(10, std::atoi(argv[1])) : 200;
  const int watchers = argc > 2 ? std::max(2, std::atoi(argv[2])) : 100;
  spdlog::set_level(spdlog::level::warn);
  Rig rig;

  auto raw = raw_latency(rig.dir, events);
  auto one = sse_latency(rig, "lat1", events, 1);
  auto many = sse_latency(rig, "fan1", events, watchers);
  std::printf(
      "event latency (ms): raw inotify tail p50 %.3f p99 %.3f | sandboxd SSE, 1 watcher "
      "p50 %.3f p99 %.3f | %d watchers (last one) p50 %.3f p99 %.3f\n",
      pct(raw, .5), pct(raw, .99), pct(one, .5), pct(one, .99), watchers, pct(many, .5),
      pct(many, .99));

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
  std::printf("ratio fan-out p50 %d watchers/1 watcher %.2f\n", watchers,
              pct(many, .5) / pct(one, .5));
  std::printf("ratio files PUT (raw body) api/local %.2f, PUT (JSON) %.2f, GET api/local %.2f\n",
              api_put_raw / raw_put, api_put / raw_put, api_get / raw_get);
  return 0;
}
