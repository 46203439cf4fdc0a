// bench/instant: sandboxd's fast paths (issue 14), each beside what it saves, in one run.
//
//   pool:   POST /v1/sandboxes {} served by the warm pool (SANDBOXD_WARM_POOL=5, full
//           again before every round) vs `docker run -d` with the flags of a sandbox's
//           container: read from its `docker inspect`, and the raw container's inspect
//           checked against it before timing. N pairs, the raw one first in each.
//   thaw:   first byte of GET / on a fresh connection through the edge to a frozen
//           (paused) sandbox's Node app vs the same to an always_on sandbox's. N pairs.
//   fleet:  FLEET frozen sandboxes, each thawed by one of FLEET concurrent requests
//           through the edge (released at once, a fresh connection each): first byte
//           per request; vs, on the same paused containers, FLEET concurrent `docker
//           unpause` each followed by the request straight to its container (sandboxd
//           runs with docker events and the reconciler off, so it sees nothing of that,
//           and they are paused again after).
//   fork:   POST /v1/sandboxes/{id}/fork of a sandbox made from the `vite` template (its
//           node_modules) vs `cp -a` of the same tree (its home without .sandboxed and
//           lost+found, what a snapshot copies). N pairs, cp first in each.
//   vite:   POST /v1/sandboxes {"snapshot":"vite","ports":[3000]} to the first 200 of
//           GET / through the edge. N rounds. This sandboxd has a warm pool too (full
//           before each fork and create); each round says whether the pool served it.
// Times are a client's: the HTTP exchange on a fresh connection, the raw commands' wall
// time (a process each, as sandboxd runs docker). Targets: pool create p50 <= 50 ms;
// frozen first byte p50 <= 60 ms; fleet p50 <= 200 ms; vite create to first 200 p50 <=
// 1.5 s; the pool / docker run and fork / cp -a ratios are printed. Printed, never
// asserted: the exit status is 0 unless something failed to run.
//
// Each part runs its own sandboxd (the integration tests' harness: private instance,
// network and data dir; the pressure reaper off) and removes everything on exit: the raw
// containers and copies too. The templates are SANDBOXED_TEST_TEMPLATES_DIR's, else
// <repo>/build/templates, built there by scripts/build-templates.sh when missing.
// Usage: build/bench_instant [N] [FLEET]   (defaults 20 and 50; root, dockerd, the image;
// bench/instant runs it)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/daemon.h"
#include "sandboxd/base/status.h"
#include "sandboxd/os/process_runner.h"

using namespace sandboxd::testing_support;
using nlohmann::json;
using sandboxd::Code;
using sandboxd::PosixProcessRunner;
using sandboxd::ProcessSpec;
using sandboxd::Result;
using sandboxd::Status;
using SteadyClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr int kPool = 5;
constexpr const char* kApp =
    "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT || 3000, "
    "process.env.HOST);";
// Reapers for the freeze parts: frozen 1-2 s after the last request, never stopped.
const std::map<std::string, std::string> kFreezeSoon = {
    {"SANDBOXD_FREEZE_AFTER_SECONDS", "1"},
    {"SANDBOXD_IDLE_THRESHOLD_SECONDS", "3600"},
    {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "1"},
    {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "0"},
    {"SANDBOXD_DEFAULT_MEMORY", "128m"}};

double ms_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * (v.size() - 1))];
}

std::string figures(const std::vector<double>& v) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.1f ms, p90 %.1f ms, max %.1f ms (n=%zu)",
                percentile(v, 0.5), percentile(v, 0.9), percentile(v, 1.0), v.size());
  return buf;
}

const char* verdict(bool met) { return met ? "met" : "NOT met"; }

// A command's outcome as a Status (stdout and stderr in the message when it failed).
Status run_ok(const std::vector<std::string>& argv,
              std::chrono::seconds timeout = std::chrono::seconds(120)) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.timeout = timeout;
  auto out = PosixProcessRunner().run(spec);
  if (!out) return out.error().with_context(argv[0]);
  if (out->exit_code != 0)
    return Status(Code::kInternal, argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " exited " +
                                       std::to_string(out->exit_code) + ": " + out->stderr_data +
                                       out->stdout_data);
  return Status::ok();
}

// A POST with a JSON body; the parsed answer when its status is `want`.
Result<json> post(Daemon& d, const std::string& path, const json& body, int want) {
  auto r = d.http().Post(path, body.dump(), "application/json");
  if (!r) return Status(Code::kUnavailable, "POST " + path + ": no answer");
  if (r->status != want)
    return Status(Code::kInternal,
                  "POST " + path + ": HTTP " + std::to_string(r->status) + ": " + r->body);
  return json::parse(r->body, nullptr, false);
}

Status purge(Daemon& d, const std::string& id) {
  return post(d, "/v1/sandboxes/" + id + "/purge", json::object(), 200).error_or_ok();
}

// The value of one series of /metrics (0 when absent, as a counter not yet counted;
// -1 when /metrics does not answer).
double metric(Daemon& d, const std::string& series) {
  auto r = d.http().Get("/metrics");
  if (!r || r->status != 200) return -1;
  auto at = r->body.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::atof(r->body.c_str() + at + series.size() + 2);
}

std::string status_of(Daemon& d, const std::string& id) {
  auto r = d.http().Get("/v1/sandboxes/" + id);
  if (!r || r->status != 200) return "(no answer)";
  json row = json::parse(r->body, nullptr, false);
  return row.is_object() ? row.value("status", "") : "(unreadable)";
}

// Milliseconds from connecting to ip:port to the first byte of the answer to GET / with
// `Host: host` on that fresh connection; an error unless the answer is a 200.
Result<double> first_byte_ms(const std::string& ip, int port, const std::string& host) {
  const std::string req = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  auto t0 = SteadyClock::now();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(Code::kInternal, "socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  double at = -1;
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[512];
    while (got.size() < 12) {  // "HTTP/1.1 200"
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 120000) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (at < 0) at = ms_since(t0);
      got.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (got.rfind("HTTP/1.1 200", 0) != 0)
    return Status(Code::kInternal, "GET / with Host " + host + " to " + ip + ": " +
                                       (got.empty() ? "no answer" : got.substr(0, got.find('\r'))));
  return at;
}

// The same through the edge on loopback.
Result<double> first_byte_ms(int port, const std::string& host) {
  return first_byte_ms("127.0.0.1", port, host);
}

// A private temp dir, and the raw containers made for the run; both removed at the end.
class Scratch {
 public:
  Scratch() {
    char tmpl[] = "/tmp/sandboxd-bench-instant-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    for (const auto& name : containers_) run_cmd({"docker", "rm", "-f", name});
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  const std::string& dir() const { return dir_; }
  void track(const std::string& container) { containers_.insert(container); }

 private:
  std::string dir_;
  std::set<std::string> containers_;
};

// The flags of a container that decide what `docker run` does, from its inspect.
json flags(const json& c) {
  const json cfg = c.value("Config", json::object());
  const json h = c.value("HostConfig", json::object());
  std::vector<std::string> env;
  for (const auto& e : cfg.value("Env", json::array())) env.push_back(e.get<std::string>());
  std::sort(env.begin(), env.end());
  json mounts = json::array();
  for (const auto& m : h.value("Mounts", json::array()))
    mounts.push_back({m.value("Type", ""), m.value("Target", ""), m.value("ReadOnly", false)});
  json out = {
      {"env", env}, {"labels", cfg.value("Labels", json::object()).size()}, {"mounts", mounts}};
  for (const char* k : {"Image", "User", "WorkingDir", "Cmd", "Entrypoint"})
    out[k] = cfg.value(k, json());
  for (const char* k :
       {"NetworkMode", "Init", "ReadonlyRootfs", "CapDrop", "CapAdd", "SecurityOpt", "Memory",
        "MemorySwap", "NanoCpus", "Runtime", "PidsLimit", "Ulimits", "Tmpfs", "LogConfig", "Binds"})
    out[k] = h.value(k, json());
  return out;
}

// `docker run -d` argv with the flags of a sandbox's container (its inspect): its own
// name, hostname and a fresh home; the labels it has beyond its image's with their keys
// prefixed by "bench." (so that sandboxd leaves it alone); the read-only mounts from
// copies of theirs.
class RawRun {
 public:
  // Copies what the argv needs into `dir`: the read-only mounts' sources and the env
  // the container has beyond its image's (an env file, as sandboxd passes it).
  // `image` is the image's inspect.
  static Result<RawRun> make(const json& c, const json& image, const std::string& dir) {
    RawRun r;
    r.c_ = c;
    r.dir_ = dir;
    const json cfg = c.value("Config", json::object());
    r.user_ = cfg.value("User", "");
    const json base = image.value("Config", json::object()).value("Env", json::array());
    const json base_labels = image.value("Config", json::object()).value("Labels", json::object());
    const json labels = cfg.value("Labels", json::object());  // named: items() refers to it
    for (const auto& [k, v] : labels.items())
      if (base_labels.value(k, json()) != v) r.labels_[k] = v.get<std::string>();
    std::ofstream env(dir + "/raw.env");
    for (const auto& e : cfg.value("Env", json::array()))
      if (std::find(base.begin(), base.end(), e) == base.end()) env << e.get<std::string>() << "\n";
    if (!env.flush()) return Status(Code::kInternal, "writing " + dir + "/raw.env failed");
    ::chmod((dir + "/raw.env").c_str(), 0600);
    int i = 0;
    const json h = c.value("HostConfig", json::object());
    for (const auto& m : h.value("Mounts", json::array())) {
      if (m.value("Type", "") != "bind")
        return Status(Code::kInternal, "unsupported mount type: " + m.dump());
      if (!m.value("ReadOnly", false)) {
        if (!r.home_target_.empty())
          return Status(Code::kInternal, "more than one writable mount: " + m.dump());
        r.home_target_ = m.value("Target", "");
        continue;
      }
      const std::string copy = dir + "/mount" + std::to_string(i++);
      if (auto s = run_ok({"cp", "-a", m.value("Source", ""), copy}); !s.is_ok()) return s;
      r.copies_[m.value("Target", "")] = copy;
    }
    return r;
  }

  // Makes the home of raw container `name` (workspace/app in it, owned by the container's
  // user, as sandboxd seeds a workspace) and returns the argv that runs it.
  Result<std::vector<std::string>> argv(const std::string& name) const {
    const std::string home = dir_ + "/home-" + name;
    std::error_code ec;
    fs::create_directories(home + "/workspace/app", ec);
    if (ec) return Status(Code::kInternal, "mkdir " + home + ": " + ec.message());
    const uid_t uid = static_cast<uid_t>(std::atol(user_.c_str()));
    const auto colon = user_.find(':');
    const gid_t gid =
        colon == std::string::npos ? uid : static_cast<gid_t>(std::atol(user_.c_str() + colon + 1));
    for (const std::string& p : {home, home + "/workspace", home + "/workspace/app"}) {
      if (::chown(p.c_str(), uid, gid) != 0) return Status(Code::kInternal, "chown " + p);
      ::chmod(p.c_str(), p == home ? 0700 : 0755);
    }

    const json cfg = c_.value("Config", json::object());
    const json h = c_.value("HostConfig", json::object());
    std::vector<std::string> a = {
        "run",    "-d", "--pull",     "never",
        "--name", name, "--hostname", "r-" + name.substr(name.rfind('-') + 1)};
    auto add = [&](std::initializer_list<std::string> more) { a.insert(a.end(), more); };
    if (auto net = h.value("NetworkMode", ""); !net.empty() && net != "default")
      add({"--network", net});
    if (!user_.empty()) add({"--user", user_});
    if (auto wd = cfg.value("WorkingDir", ""); !wd.empty()) add({"--workdir", wd});
    if (h.value("Init", json()) == true) add({"--init"});
    if (h.value("ReadonlyRootfs", false)) add({"--read-only"});
    for (const auto& cap : h.value("CapDrop", json::array()))
      add({"--cap-drop", cap.get<std::string>()});
    for (const auto& cap : h.value("CapAdd", json::array()))
      add({"--cap-add", cap.get<std::string>()});
    for (const auto& opt : h.value("SecurityOpt", json::array()))
      add({"--security-opt", opt.get<std::string>()});
    if (int64_t mem = h.value("Memory", int64_t{0}); mem > 0)
      add({"--memory", std::to_string(mem)});
    if (int64_t swap = h.value("MemorySwap", int64_t{0}); swap != 0)
      add({"--memory-swap", std::to_string(swap)});
    if (int64_t nano = h.value("NanoCpus", int64_t{0}); nano > 0) {
      char cpus[32];
      std::snprintf(cpus, sizeof cpus, "%.3f", static_cast<double>(nano) / 1e9);
      add({"--cpus", cpus});
    }
    if (auto rt = h.value("Runtime", ""); !rt.empty() && rt != "runc") add({"--runtime", rt});
    if (const json pids = h.value("PidsLimit", json()); pids.is_number() && pids.get<int64_t>() > 0)
      add({"--pids-limit", std::to_string(pids.get<int64_t>())});
    for (const auto& u : h.value("Ulimits", json::array()))
      add({"--ulimit", u.value("Name", "") + "=" + std::to_string(u.value("Soft", int64_t{0})) +
                           ":" + std::to_string(u.value("Hard", int64_t{0}))});
    const json tmpfs = h.value("Tmpfs", json::object());
    for (const auto& [path, opts] : tmpfs.items())
      add({"--tmpfs",
           opts.get<std::string>().empty() ? path : path + ":" + opts.get<std::string>()});
    for (const auto& [k, v] : labels_) add({"--label", "bench." + k + "=" + v});
    for (const auto& m : h.value("Mounts", json::array())) {
      const std::string target = m.value("Target", "");
      const bool ro = m.value("ReadOnly", false);
      const std::string source = ro ? copies_.at(target) : home;
      add({"--mount",
           "type=bind,source=" + source + ",target=" + target + (ro ? ",readonly" : "")});
    }
    const json log = h.value("LogConfig", json::object());
    if (auto driver = log.value("Type", ""); !driver.empty()) add({"--log-driver", driver});
    const json log_opts = log.value("Config", json::object());
    for (const auto& [k, v] : log_opts.items()) add({"--log-opt", k + "=" + v.get<std::string>()});
    add({"--env-file", dir_ + "/raw.env", cfg.value("Image", "")});
    for (const auto& arg : cfg.value("Cmd", json::array())) a.push_back(arg.get<std::string>());
    return a;
  }

 private:
  json c_;
  std::string dir_;
  std::string user_;
  std::string home_target_;
  std::map<std::string, std::string> labels_;  // beyond the image's
  std::map<std::string, std::string> copies_;  // mount target -> copy of its source
};

// The figures of one run, printed at the end.
struct Figures {
  std::vector<double> pool, docker_run;
  int pool_misses = 0;
  std::vector<double> frozen, running;
  std::vector<double> fleet, fleet_raw;
  std::vector<double> fork, cp;
  std::string tree;
  std::vector<double> vite, vite_create;
  int vite_pool_hits = 0;
};

constexpr const char* kPoolHits = R"(sandboxd_warm_pool_claims_total{result="hit"})";

Status wait_pool_full(Daemon& d) {
  if (eventually([&] { return metric(d, "sandboxd_warm_pool_ready") >= kPool; },
                 std::chrono::seconds(120)))
    return Status::ok();
  return Status(Code::kTimeout,
                "the warm pool never held " + std::to_string(kPool) + ":\n" + d.log());
}

// Part 1: a create served by the warm pool vs `docker run -d` with the same flags.
Status bench_pool(int n, Figures& f) {
  Daemon d("ipool", {{"SANDBOXD_WARM_POOL", std::to_string(kPool)},
                     {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "0"},
                     {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "0"}});
  Scratch scratch;
  if (!d.start()) return Status(Code::kInternal, "sandboxd did not start:\n" + d.log());
  if (scratch.dir().empty()) return Status(Code::kInternal, "mkdtemp failed");
  if (auto s = wait_pool_full(d); !s.is_ok()) return s;

  // Warm-up, untimed: one create from the pool, and its container as the raw side's model.
  auto ref = post(d, "/v1/sandboxes", json::object(), 201);
  if (!ref) return ref.error();
  const std::string ref_id = ref->value("id", "");
  const json model = docker_inspect(d.container(ref_id));
  if (model.is_null()) return Status(Code::kInternal, "docker inspect of a sandbox failed");
  auto [rc, image] = run_cmd({"docker", "image", "inspect", test_image()});
  const json image_inspect = json::parse(image, nullptr, false);
  if (rc != 0 || !image_inspect.is_array() || image_inspect.empty())
    return Status(Code::kInternal, "docker image inspect " + test_image() + " failed");
  auto raw = RawRun::make(model, image_inspect[0], scratch.dir());
  if (!raw) return raw.error();
  const std::string raw_prefix = d.instance() + "-raw-";
  scratch.track(raw_prefix + "0");
  auto argv = raw->argv(raw_prefix + "0");
  if (!argv) return argv.error();
  argv->insert(argv->begin(), "docker");
  if (auto s = run_ok(*argv); !s.is_ok()) return s;
  const json raw_model = docker_inspect(raw_prefix + "0");
  if (raw_model.is_null()) return Status(Code::kInternal, "docker inspect of the raw container");
  const json raw_flags = flags(raw_model);
  if (raw_flags != flags(model))
    return Status(Code::kInternal, "the raw container's flags differ from the sandbox's:\n" +
                                       flags(model).dump() + "\n" + raw_flags.dump());
  std::printf("flags parity: the raw container's docker inspect matches the sandbox's\n");
  if (auto s = purge(d, ref_id); !s.is_ok()) return s;
  run_cmd({"docker", "rm", "-f", raw_prefix + "0"});

  for (int i = 1; i <= n; ++i) {
    if (auto s = wait_pool_full(d); !s.is_ok()) return s;
    const std::string name = raw_prefix + std::to_string(i);
    scratch.track(name);
    argv = raw->argv(name);
    if (!argv) return argv.error();
    argv->insert(argv->begin(), "docker");
    auto t0 = SteadyClock::now();
    if (auto s = run_ok(*argv); !s.is_ok()) return s;
    f.docker_run.push_back(ms_since(t0));

    const double hits_before = metric(d, kPoolHits);
    t0 = SteadyClock::now();
    auto created = post(d, "/v1/sandboxes", json::object(), 201);
    if (!created) return created.error();
    f.pool.push_back(ms_since(t0));
    const bool hit = metric(d, kPoolHits) == hits_before + 1;
    f.pool_misses += hit ? 0 : 1;
    std::printf("  create %2d: pool %7.1f ms%s   docker run %7.1f ms\n", i, f.pool.back(),
                hit ? "" : " (MISS: not from the pool)", f.docker_run.back());
    std::fflush(stdout);
    if (auto s = purge(d, created->value("id", "")); !s.is_ok()) return s;
    run_cmd({"docker", "rm", "-f", name});
  }
  return Status::ok();
}

// Creates sandbox `id` with port 3000 serving kApp (and `extra` fields of the create).
Status create_app(Daemon& d, const std::string& id, const json& extra = json::object()) {
  json body = {{"id", id}, {"ports", {3000}}};
  body.update(extra);
  if (auto r = post(d, "/v1/sandboxes", body, 201); !r) return r.error();
  if (!d.write_node_app(id, kApp)) return Status(Code::kInternal, "writing the app of " + id);
  return Status::ok();
}

// Waits until sandbox `id`'s port 3000 answers 200 through the edge.
Status await_app(Daemon& d, const std::string& id, std::chrono::seconds deadline) {
  const std::string host = Daemon::preview_host(id, 3000);
  if (eventually([&] { return first_byte_ms(d.wake_port(), host).has_value(); }, deadline))
    return Status::ok();
  return Status(Code::kTimeout, "the app of " + id + " never answered:\n" + d.log());
}

// Waits until every one of `ids` is frozen: its row says so and its container is paused
// (the row says it first).
Status wait_frozen(Daemon& d, const std::vector<std::string>& ids) {
  auto all = [&] {
    auto [rc, out] =
        run_cmd({"docker", "ps", "--filter", "status=paused", "--filter",
                 "label=sandboxed.instance=" + d.instance(), "--format", "{{.Names}}"});
    out = "\n" + out;
    for (const auto& id : ids)
      if (out.find("\n" + d.container(id) + "\n") == std::string::npos ||
          status_of(d, id) != "frozen")
        return false;
    return rc == 0;
  };
  if (eventually(all, std::chrono::seconds(60 + static_cast<int>(ids.size())))) return Status::ok();
  return Status(Code::kTimeout, "not all of " + std::to_string(ids.size()) + " froze (" +
                                    ids.front() + ": " + status_of(d, ids.front()) + ")");
}

// Runs `one(i)` for i in [0, n) on n threads released at once; the first error, if any.
Status at_once(std::size_t n, const std::function<Result<double>(std::size_t)>& one,
               std::vector<double>& out) {
  std::vector<std::string> errors(n);
  std::vector<double> ms(n);
  std::latch go(static_cast<std::ptrdiff_t>(n) + 1);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      auto r = one(i);
      if (r)
        ms[i] = *r;
      else
        errors[i] = r.error().message();
    });
  }
  go.arrive_and_wait();
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (!e.empty()) return Status(Code::kInternal, e);
  out.insert(out.end(), ms.begin(), ms.end());
  return Status::ok();
}

// Parts 2 and 3: first byte from a frozen sandbox vs a running one; a fleet thawed at once
// through the edge vs by `docker unpause` and a request straight to each container.
Status bench_thaw(int n, int fleet, Figures& f) {
  // Docker events and the reconciler off: the raw side's unpause and pause go unseen.
  auto env = kFreezeSoon;
  env.insert({{"SANDBOXD_DOCKER_EVENTS", "false"}, {"SANDBOXD_RECONCILE_INTERVAL_SECONDS", "0"}});
  Daemon d("ithaw", env);
  if (!d.start()) return Status(Code::kInternal, "sandboxd did not start:\n" + d.log());
  if (auto s = create_app(d, "cold"); !s.is_ok()) return s;
  if (auto s = create_app(d, "hot", {{"idle_policy", "always_on"}}); !s.is_ok()) return s;
  for (const char* id : {"cold", "hot"})
    if (auto s = await_app(d, id, std::chrono::seconds(40)); !s.is_ok()) return s;
  for (int i = 1; i <= n; ++i) {
    if (auto s = wait_frozen(d, {"cold"}); !s.is_ok()) return s;
    auto frozen = first_byte_ms(d.wake_port(), Daemon::preview_host("cold", 3000));
    if (!frozen) return frozen.error();
    auto running = first_byte_ms(d.wake_port(), Daemon::preview_host("hot", 3000));
    if (!running) return running.error();
    f.frozen.push_back(*frozen);
    f.running.push_back(*running);
    std::printf("  first byte %2d: frozen %7.1f ms   running %7.1f ms\n", i, *frozen, *running);
    std::fflush(stdout);
  }
  if (auto s = purge(d, "cold"); !s.is_ok()) return s;
  if (auto s = purge(d, "hot"); !s.is_ok()) return s;

  std::vector<std::string> ids;
  for (int i = 0; i < fleet; ++i) {
    ids.push_back("f" + std::to_string(i));
    if (auto s = create_app(d, ids.back()); !s.is_ok()) return s;
  }
  for (const auto& id : ids)
    if (auto s = await_app(d, id, std::chrono::seconds(40)); !s.is_ok()) return s;
  std::printf("  fleet: %d sandboxes answer; waiting until all are frozen\n", fleet);
  std::fflush(stdout);
  if (auto s = wait_frozen(d, ids); !s.is_ok()) return s;

  // Raw: each container unpaused by its own `docker unpause`, then asked at its address;
  // all paused again after, so sandboxd's rows (frozen) hold once more.
  std::vector<std::string> names, ips;
  for (const auto& id : ids) {
    names.push_back(d.container(id));
    json c = docker_inspect(names.back());
    if (c.is_null()) return Status(Code::kInternal, "docker inspect " + names.back());
    ips.push_back(c["NetworkSettings"]["Networks"][d.network()].value("IPAddress", ""));
  }
  Status raw = at_once(
      ids.size(),
      [&](std::size_t i) -> Result<double> {
        auto t0 = SteadyClock::now();
        if (auto s = run_ok({"docker", "unpause", names[i]}); !s.is_ok()) return s;
        if (auto r = first_byte_ms(ips[i], 3000, "raw"); !r) return r.error();
        return ms_since(t0);
      },
      f.fleet_raw);
  if (!raw.is_ok()) return raw.with_context("fleet, raw");
  std::vector<std::string> pause = {"docker", "pause"};
  pause.insert(pause.end(), names.begin(), names.end());
  if (auto s = run_ok(pause); !s.is_ok()) return s;
  if (auto s = wait_frozen(d, ids); !s.is_ok()) return s;

  Status edge = at_once(
      ids.size(),
      [&](std::size_t i) {
        return first_byte_ms(d.wake_port(), Daemon::preview_host(ids[i], 3000));
      },
      f.fleet);
  if (!edge.is_ok()) return edge.with_context("fleet, through the edge");
  return Status::ok();
}

// The templates dir (with a built `vite`), building it when missing.
Result<std::string> templates_dir() {
  const char* env = std::getenv("SANDBOXED_TEST_TEMPLATES_DIR");
  const std::string dir =
      env && *env ? std::string(env) : std::string(SANDBOXD_SOURCE_DIR) + "/build/templates";
  if (fs::exists(dir + "/.vite.built")) return dir;
  std::printf("building the templates into %s (scripts/build-templates.sh)\n", dir.c_str());
  std::fflush(stdout);
  if (auto s = run_ok({std::string(SANDBOXD_SOURCE_DIR) + "/scripts/build-templates.sh", dir},
                      std::chrono::minutes(15));
      !s.is_ok())
    return s;
  return dir;
}

// Files and bytes under `paths` (symlinks not followed), as "N files, X MiB".
std::string tree_size(const std::vector<std::string>& paths) {
  std::uintmax_t files = 0, bytes = 0;
  for (const auto& p : paths) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      ++files;
      bytes += it->file_size(ec);
    }
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%ju files, %.1f MiB", files,
                static_cast<double>(bytes) / 1048576);
  return buf;
}

// Parts 4 and 5: fork of a Vite workspace vs cp -a; the vite template to its first 200.
Status bench_vite(int n, Figures& f) {
  auto templates = templates_dir();
  if (!templates) return templates.error();
  // With a warm pool, as the pool part: a create it fits is served by it (and says so).
  Daemon d("ivite", {{"SANDBOXD_TEMPLATES_DIR", *templates},
                     {"SANDBOXD_WARM_POOL", std::to_string(kPool)},
                     {"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "0"},
                     {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "0"}});
  Scratch scratch;
  if (!d.start()) return Status(Code::kInternal, "sandboxd did not start:\n" + d.log());
  if (scratch.dir().empty()) return Status(Code::kInternal, "mkdtemp failed");
  const json vite = {{"snapshot", "vite"}, {"ports", {3000}}};

  for (int i = 1; i <= n; ++i) {
    if (auto s = wait_pool_full(d); !s.is_ok()) return s;
    const double hits_before = metric(d, kPoolHits);
    auto t0 = SteadyClock::now();
    auto created = post(d, "/v1/sandboxes", vite, 201);
    if (!created) return created.error();
    f.vite_create.push_back(ms_since(t0));
    const bool hit = metric(d, kPoolHits) == hits_before + 1;
    f.vite_pool_hits += hit ? 1 : 0;
    const std::string id = created->value("id", "");
    const std::string host = Daemon::preview_host(id, 3000);
    // The edge holds a request until the dev server listens; should anything but a 200
    // come first, the request is repeated (every 20 ms, for up to 60 s).
    auto first = first_byte_ms(d.wake_port(), host);
    while (!first && ms_since(t0) < 60000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      first = first_byte_ms(d.wake_port(), host);
    }
    if (!first) return first.error().with_context(d.log());
    f.vite.push_back(ms_since(t0));
    std::printf("  vite %2d: create answered %7.1f ms (%s), first 200 at %7.1f ms\n", i,
                f.vite_create.back(), hit ? "from the pool" : "cold", f.vite.back());
    std::fflush(stdout);
    if (auto s = purge(d, id); !s.is_ok()) return s;
  }

  // The source: a vite sandbox whose dev server answered (its dependencies optimized).
  json src = vite;
  src["id"] = "src";
  if (auto r = post(d, "/v1/sandboxes", src, 201); !r) return r.error();
  if (auto s = await_app(d, "src", std::chrono::seconds(90)); !s.is_ok()) return s;
  std::vector<std::string> tree;  // what a snapshot copies: the home but for these two
  for (const auto& e : fs::directory_iterator(d.workspace("src")))
    if (e.path().filename() != ".sandboxed" && e.path().filename() != "lost+found")
      tree.push_back(e.path().string());
  f.tree = tree_size(tree);
  for (int i = 1; i <= n; ++i) {
    if (auto s = wait_pool_full(d); !s.is_ok()) return s;
    const std::string dst = scratch.dir() + "/cp" + std::to_string(i);
    fs::create_directory(dst);
    std::vector<std::string> cp = {"cp", "-a"};
    cp.insert(cp.end(), tree.begin(), tree.end());
    cp.push_back(dst);
    auto t0 = SteadyClock::now();
    if (auto s = run_ok(cp); !s.is_ok()) return s;
    f.cp.push_back(ms_since(t0));
    fs::remove_all(dst);

    t0 = SteadyClock::now();
    auto forked = post(d, "/v1/sandboxes/src/fork", json::object(), 201);
    if (!forked) return forked.error();
    f.fork.push_back(ms_since(t0));
    std::printf("  fork %2d: fork %7.1f ms   cp -a %7.1f ms\n", i, f.fork.back(), f.cp.back());
    std::fflush(stdout);
    if (auto s = purge(d, forked->value("id", "")); !s.is_ok()) return s;
  }
  return purge(d, "src");
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  const int fleet = argc > 2 ? std::max(1, std::atoi(argv[2])) : 50;
  std::printf("bench/instant: N=%d rounds per part, fleet of %d, warm pool of %d\n", n, fleet,
              kPool);
  std::fflush(stdout);
  Figures f;
  Status s;
  try {  // caught, so that the parts' destructors remove what they made
    s = bench_pool(n, f);
    if (s.is_ok()) s = bench_thaw(n, fleet, f);
    if (s.is_ok()) s = bench_vite(n, f);
  } catch (const std::exception& e) {
    s = Status(Code::kInternal, e.what());
  }
  if (!s.is_ok()) {
    std::fprintf(stderr, "bench/instant: %s\n", s.message().c_str());
    return 1;
  }

  std::printf(
      "create from the warm pool: %s%s\n", figures(f.pool).c_str(),
      f.pool_misses ? (", " + std::to_string(f.pool_misses) + " not from the pool").c_str() : "");
  std::printf("docker run -d, same flags: %s\n", figures(f.docker_run).c_str());
  std::printf("first byte, frozen:        %s\n", figures(f.frozen).c_str());
  std::printf("first byte, running:       %s\n", figures(f.running).c_str());
  std::printf("fleet of %d thawed at once through the edge: %s\n", fleet, figures(f.fleet).c_str());
  std::printf("fleet of %d by docker unpause + direct request: %s\n", fleet,
              figures(f.fleet_raw).c_str());
  std::printf("fork of the vite workspace (%s): %s\n", f.tree.c_str(), figures(f.fork).c_str());
  std::printf("cp -a of the same tree:    %s\n", figures(f.cp).c_str());
  std::printf("vite template, create answered: %s\n", figures(f.vite_create).c_str());
  std::printf("vite template, first 200:  %s, %d of %zu created from the warm pool\n",
              figures(f.vite).c_str(), f.vite_pool_hits, f.vite.size());

  const double pool = percentile(f.pool, 0.5), frozen = percentile(f.frozen, 0.5);
  const double thaw = percentile(f.fleet, 0.5), vite = percentile(f.vite, 0.5);
  std::printf("ratio pool create / docker run p50: %.2f\n", pool / percentile(f.docker_run, 0.5));
  std::printf("ratio frozen / running first byte p50: %.2f\n", frozen / percentile(f.running, 0.5));
  std::printf("ratio fleet thaw through the edge / docker unpause + request p50: %.2f\n",
              thaw / percentile(f.fleet_raw, 0.5));
  std::printf("ratio fork / cp -a p50: %.2f\n", percentile(f.fork, 0.5) / percentile(f.cp, 0.5));
  std::printf("pool create p50 %.1f ms (target <= 50 ms: %s)\n", pool, verdict(pool <= 50));
  std::printf("frozen first byte p50 %.1f ms (target <= 60 ms: %s)\n", frozen,
              verdict(frozen <= 60));
  std::printf("fleet of %d thaw p50 %.1f ms, max %.1f ms (target p50 <= 200 ms: %s)\n", fleet, thaw,
              percentile(f.fleet, 1.0), verdict(thaw <= 200));
  std::printf("vite create to first 200 p50 %.0f ms (target <= 1500 ms: %s)\n", vite,
              verdict(vite <= 1500));
  return 0;
}
