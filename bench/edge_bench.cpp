// bench/edge: the preview edge against the container itself and against nginx, with
// keep-alive connections, measured side by side in one run.
//
//   throughput: `wrk --latency` at 1, 50 and 500 keep-alive connections against one
//               sandbox's Node app: straight to the container's address; through nginx
//               (Debian's, started here on loopback as a reverse proxy with upstream
//               keep-alive); through sandboxd's edge (the wake listener). req/s, p50 and
//               p99 of each. Per concurrency the three run one after another, each after
//               a 2 s warm-up run that is not counted.
//   memory:     sandboxd's VmRSS before and with N idle keep-alive client connections
//               to the edge, each of which has had one request answered.
// Targets: edge req/s >= nginx's at every concurrency; edge p50 minus direct p50 <= 0.2 ms
// at 1 connection; edge p99 <= nginx's at every concurrency; sandboxd's RSS with 10,000
// idle connections <= 64 MiB (the whole process, stricter than counting only what the
// connections add; the delta is printed too). Printed, never asserted: the exit status
// is 0 unless something failed to run.
//
// It runs its own sandboxd (the integration tests' harness: private instance, network and
// data dir; the idle and pressure reapers off, connection caps raised for 10,000 clients)
// and its own nginx (a temp prefix dir with its config, pid and logs), installs the
// Debian packages nginx and wrk when missing, and removes everything on exit.
// Usage: build/bench_edge [SECONDS] [IDLE]   (defaults 10 and 10000; root, dockerd, the
// image; bench/edge runs it)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
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

extern char** environ;

namespace {

// Node's default keep-alive timeout (5 s) would let the app close idle connections the
// proxies hold in their upstream pools (and wrk's between warm-up and measured run).
// 65 s outlasts the proxies' own idle timeouts (nginx's upstream keepalive_timeout and
// the edge's idle timeout are 60 s), so the proxies, not the app, end idle connections,
// as behind any production load balancer.
constexpr const char* kApp =
    "const s = require('http').createServer((q, r) => r.end('ok')); "
    "s.keepAliveTimeout = 65000; s.listen(process.env.PORT || 3000, process.env.HOST);";
constexpr int kConcurrencies[] = {1, 50, 500};
constexpr int kWarmupSeconds = 2;
constexpr int kIdleBatch = 250;      // idle connections opened at a time
constexpr int kSourceAddresses = 8;  // 127.0.0.2 .. 127.0.0.9

int fail(const std::string& what, const std::string& detail = "") {
  std::fprintf(stderr, "bench/edge: %s\n%s\n", what.c_str(), detail.c_str());
  return 1;
}

// Raises this process's open-file soft limit to its hard limit (sandboxd and nginx,
// started after, inherit it); returns the limit now in force.
rlim_t raise_nofile_limit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

// Installs Debian's `package` (apt-get) unless `binary` exists.
Status ensure_installed(const std::string& binary, const std::string& package) {
  if (::access(binary.c_str(), X_OK) == 0) return Status::ok();
  ProcessSpec spec;
  spec.argv = {"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", package};
  spec.timeout = std::chrono::minutes(10);
  auto out = PosixProcessRunner().run(spec);
  if (!out) return out.error().with_context("apt-get install " + package);
  if (out->exit_code != 0 || ::access(binary.c_str(), X_OK) != 0)
    return Status(Code::kInternal, "apt-get install " + package + " failed: " + out->stderr_data);
  return Status::ok();
}

// True once GET / on 127.0.0.1:port with `Host: host` answers 200 "ok" (deadline 40 s).
bool answers(int port, const std::string& host) {
  httplib::Client c("127.0.0.1", port);
  c.set_default_headers({{"Host", host}});
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(90, 0);
  return eventually([&] {
    auto r = c.Get("/");
    return r && r->status == 200 && r->body == "ok";
  });
}

// nginx as a reverse proxy on 127.0.0.1:port() to one upstream, in the foreground as a
// child of this process, with everything it writes in its own temp prefix dir. The
// destructor stops it and removes the dir.
class Nginx {
 public:
  Nginx() = default;
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;
  ~Nginx() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Starts it proxying to `upstream` (ip:port) and waits until a request with `host`
  // is answered through it.
  Status start(const std::string& upstream, const std::string& host) {
    char tmpl[] = "/tmp/sandboxd-bench-edge-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Status(Code::kInternal, "mkdtemp failed");
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);  // nginx's workers run as nobody
    port_ = free_port();
    const std::string conf = dir_ + "/nginx.conf";
    std::ofstream(conf) << config(upstream);
    std::vector<std::string> args = {"/usr/sbin/nginx", "-p", dir_ + "/", "-c", conf};
    args.insert(args.end(), {"-e", dir_ + "/error.log", "-g", "daemon off;"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out = dir_ + "/nginx.out";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return Status(Code::kInternal, "spawning nginx failed");
    }
    if (!answers(port_, host)) return Status(Code::kUnavailable, "nginx never answered: " + log());
    return Status::ok();
  }

  int port() const { return port_; }
  std::string log() const {
    std::string text;
    for (const char* name : {"/nginx.out", "/error.log"}) {
      std::ifstream f(dir_ + name);
      text.append(std::istreambuf_iterator<char>(f), {});
    }
    return text;
  }

 private:
  // nginx closes a client or upstream connection after 1,000 requests by default;
  // keepalive_requests is raised so that it keeps them for the whole run (nginx at its best).
  std::string config(const std::string& upstream) const {
    std::ostringstream c;
    c << "worker_processes auto;\n"
      << "pid " << dir_ << "/nginx.pid;\n"
      << "events { worker_connections 20000; }\n"
      << "http {\n"
      << "  access_log off;\n";
    for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      c << "  " << kind << "_temp_path " << dir_ << "/" << kind << "_temp;\n";
    c << "  keepalive_requests 1000000;\n"
      << "  upstream up { server " << upstream << "; keepalive 64; keepalive_requests 1000000; }\n"
      << "  server {\n"
      << "    listen 127.0.0.1:" << port_ << ";\n"
      << "    location / {\n"
      << "      proxy_pass http://up;\n"
      << "      proxy_http_version 1.1;\n"
      << "      proxy_set_header Connection \"\";\n"
      << "      proxy_set_header Host $host;\n"
      << "    }\n"
      << "  }\n"
      << "}\n";
    return c.str();
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// One wrk run's figures.
struct Run {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::string errors;  // wrk's "Socket errors" and "Non-2xx or 3xx" lines, if any
};

// A wrk latency such as "635.00us", "1.23ms" or "2.01s", in ms.
bool parse_latency(const std::string& text, double* ms) {
  static const std::map<std::string, double> kScale = {
      {"us", 0.001}, {"ms", 1.0}, {"s", 1000.0}, {"m", 60000.0}, {"h", 3600000.0}};
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  auto unit = kScale.find(end);
  if (end == text.c_str() || unit == kScale.end()) return false;
  *ms = value * unit->second;
  return true;
}

// Requests/sec, the 50% and 99% lines of the latency distribution and the error lines
// of `wrk --latency`'s output.
Result<Run> parse_wrk(const std::string& text) {
  Run run;
  bool rps = false, p50 = false, p99 = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    words >> key >> value;
    if (key == "Requests/sec:") {
      run.rps = std::strtod(value.c_str(), nullptr);
      rps = true;
    } else if (key == "50%") {
      p50 = parse_latency(value, &run.p50_ms);
    } else if (key == "99%") {
      p99 = parse_latency(value, &run.p99_ms);
    } else if (key == "Socket" || key == "Non-2xx") {
      run.errors += (run.errors.empty() ? "" : "; ") + line.substr(line.find(key));
    }
  }
  if (!rps || !p50 || !p99) return Status(Code::kInternal, "unreadable wrk output:\n" + text);
  return run;
}

// wrk with `conns` keep-alive connections (one thread for one connection, else two) for
// `seconds` against `url`, sending `Host: host` unless it is empty.
Result<Run> wrk(const std::string& url, const std::string& host, int conns, int seconds) {
  ProcessSpec spec;
  spec.argv = {"wrk", "-t" + std::to_string(conns == 1 ? 1 : 2), "-c" + std::to_string(conns),
               "-d" + std::to_string(seconds) + "s", "--latency"};
  if (!host.empty()) spec.argv.insert(spec.argv.end(), {"-H", "Host: " + host});
  spec.argv.push_back(url);
  spec.timeout = std::chrono::seconds(seconds + 60);
  auto out = PosixProcessRunner().run(spec);
  if (!out) return out.error().with_context("wrk");
  if (out->exit_code != 0)
    return Status(Code::kInternal, "wrk exited " + std::to_string(out->exit_code) + ": " +
                                       out->stderr_data + out->stdout_data);
  return parse_wrk(out->stdout_data);
}

enum class Reply {
  kIncomplete,  // still waiting for (the rest of) the response
  kKeptAlive,   // a whole 200 response that leaves the connection open
  kRefused,     // an error, another status, a close, or a response that ends the connection
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// What the bytes received so far on a keep-alive connection amount to.
Reply classify(const std::string& got) {
  std::size_t end = got.find("\r\n\r\n");
  if (end == std::string::npos) return Reply::kIncomplete;
  const std::string head = lower(got.substr(0, end + 2));
  if (head.rfind("http/1.1 200", 0) != 0 || head.find("\r\nconnection: close") != std::string::npos)
    return Reply::kRefused;
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    bool last_chunk = got.size() >= end + 9 && got.compare(got.size() - 5, 5, "0\r\n\r\n") == 0;
    return last_chunk ? Reply::kKeptAlive : Reply::kIncomplete;
  }
  std::size_t cl = head.find("\r\ncontent-length:");
  if (cl == std::string::npos) return Reply::kRefused;  // close-delimited
  std::size_t length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
  return got.size() - end - 4 >= length ? Reply::kKeptAlive : Reply::kIncomplete;
}

// A non-blocking connect to 127.0.0.1:port from one of kSourceAddresses loopback
// addresses (picked by `i`), so that many clients do not run short of source ports;
// -1 when it fails at once.
int start_connect(int port, int i) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + static_cast<uint32_t>(i % kSourceAddresses));
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS)) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

struct Pending {
  int fd;
  bool sent = false;
  std::string got;
};

// Moves one connection on by its poll events: sends `request` once connected, then
// reads the response.
Reply step(Pending& p, short revents, const std::string& request) {
  if (!p.sent) {
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) return Reply::kIncomplete;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || ::send(p.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
                        static_cast<ssize_t>(request.size()))
      return Reply::kRefused;
    p.sent = true;
    return Reply::kIncomplete;
  }
  if ((revents & (POLLIN | POLLERR | POLLHUP)) == 0) return Reply::kIncomplete;
  char buf[4096];
  ssize_t n = ::recv(p.fd, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Reply::kIncomplete;
  if (n <= 0) return Reply::kRefused;
  p.got.append(buf, static_cast<std::size_t>(n));
  return classify(p.got);
}

struct IdleConnections {
  std::vector<int> kept;  // answered and left open; the caller closes them
  std::string refused;    // the first other outcome: a response's head, or what failed
};

// Why a connection ended in Reply::kRefused: the head of what it received, if anything.
std::string refusal(const Pending& p) {
  if (p.got.empty()) return p.sent ? "closed or reset before a response" : "connect failed";
  std::string head = p.got.substr(0, std::min(p.got.find("\r\n\r\n"), std::size_t{400}));
  for (std::size_t at = 0; (at = head.find("\r\n", at)) != std::string::npos;)
    head.replace(at, 2, " | ");
  return head;
}

// Opens `n` connections to the edge on 127.0.0.1:port, kIdleBatch at a time, sends one
// `GET /` with `host` on each and reads its whole response; the connections not kept
// are closed.
IdleConnections open_idle(int port, const std::string& host, int n) {
  const std::string request = "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  IdleConnections out;
  auto refuse = [&](const Pending& p, const std::string& why) {
    if (out.refused.empty()) out.refused = why;
    ::close(p.fd);
  };
  for (int first = 0; first < n; first += kIdleBatch) {
    std::vector<Pending> batch;
    for (int i = first; i < std::min(n, first + kIdleBatch); ++i) {
      if (int fd = start_connect(port, i); fd >= 0)
        batch.push_back({fd, false, {}});
      else if (out.refused.empty())
        out.refused = std::string("connect failed: ") + std::strerror(errno);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!batch.empty() && std::chrono::steady_clock::now() < deadline) {
      std::vector<pollfd> fds;
      for (const auto& p : batch)
        fds.push_back({p.fd, static_cast<short>(p.sent ? POLLIN : POLLOUT), 0});
      if (::poll(fds.data(), fds.size(), 1000) < 0) break;
      std::vector<Pending> waiting;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        switch (step(batch[i], fds[i].revents, request)) {
          case Reply::kIncomplete: waiting.push_back(std::move(batch[i])); break;
          case Reply::kKeptAlive: out.kept.push_back(batch[i].fd); break;
          case Reply::kRefused: refuse(batch[i], refusal(batch[i])); break;
        }
      }
      batch = std::move(waiting);
    }
    for (const auto& p : batch) refuse(p, "no whole response within 30 s");
  }
  return out;
}

// How many of `fds` the peer has neither closed nor written to since.
int still_open(const std::vector<int>& fds) {
  std::vector<pollfd> p;
  for (int fd : fds) p.push_back({fd, POLLIN | POLLRDHUP, 0});
  ::poll(p.data(), p.size(), 0);
  return static_cast<int>(
      std::count_if(p.begin(), p.end(), [](const pollfd& x) { return x.revents == 0; }));
}

// VmRSS of process `pid`, in MiB.
Result<double> rss_mib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024;
  return Status(Code::kNotFound, "no VmRSS for pid " + std::to_string(pid));
}

const char* verdict(bool met) { return met ? "met" : "NOT met"; }

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  const int idle = argc > 2 ? std::max(1, std::atoi(argv[2])) : 10000;
  const rlim_t nofile = raise_nofile_limit();
  if (auto s = ensure_installed("/usr/sbin/nginx", "nginx"); !s.is_ok()) return fail(s.message());
  if (auto s = ensure_installed("/usr/bin/wrk", "wrk"); !s.is_ok()) return fail(s.message());

  Daemon d("edge", {{"SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", "0"},
                    {"SANDBOXD_PRESSURE_INTERVAL_SECONDS", "0"},
                    {"SANDBOXD_WAKE_MAX_CONNECTIONS", "20000"},
                    {"SANDBOXD_EDGE_MAX_CONNECTIONS_PER_CLIENT", "20000"},
                    {"SANDBOXD_EDGE_MAX_REQUESTS_PER_SANDBOX", "5000"}});
  if (!d.start()) return fail("sandboxd did not start", d.log());
  auto created = d.http().Post("/v1/sandboxes", json{{"id", "app"}, {"ports", {3000}}}.dump(),
                               "application/json");
  if (!created || created->status != 201)
    return fail("create failed", created ? created->body : d.log());
  if (!d.write_node_app("app", kApp)) return fail("writing the app failed");
  const std::string host = Daemon::preview_host("app", 3000);
  if (!answers(d.wake_port(), host)) return fail("the app never answered", d.log());
  json c = docker_inspect(d.container("app"));
  if (c.is_null()) return fail("docker inspect failed");
  const std::string ip =
      c["NetworkSettings"]["Networks"][d.network()]["IPAddress"].get<std::string>();

  Nginx nginx;
  if (auto s = nginx.start(ip + ":3000", host); !s.is_ok()) return fail(s.message());

  struct Target {
    const char* name;
    std::string url;
    std::string host;
  };
  const Target targets[] = {
      {"direct", "http://" + ip + ":3000/", ""},
      {"nginx", "http://127.0.0.1:" + std::to_string(nginx.port()) + "/", host},
      {"edge", "http://127.0.0.1:" + std::to_string(d.wake_port()) + "/", host}};
  std::printf("bench/edge: wrk %d s per run (after %d s of warm-up), open files limit %llu\n",
              seconds, kWarmupSeconds, static_cast<unsigned long long>(nofile));
  std::printf("%-7s %6s %11s %9s %9s  %s\n", "target", "conns", "req/s", "p50 ms", "p99 ms",
              "errors");
  std::map<std::string, std::map<int, Run>> runs;
  for (int conns : kConcurrencies) {
    for (const auto& t : targets) {
      if (auto warm = wrk(t.url, t.host, conns, kWarmupSeconds); !warm)
        return fail(std::string(t.name) + " warm-up: " + warm.error().message());
      auto run = wrk(t.url, t.host, conns, seconds);
      if (!run) return fail(std::string(t.name) + ": " + run.error().message());
      std::printf("%-7s %6d %11.1f %9.3f %9.3f  %s\n", t.name, conns, run->rps, run->p50_ms,
                  run->p99_ms, run->errors.c_str());
      std::fflush(stdout);
      runs[t.name][conns] = *run;
    }
  }

  auto before = rss_mib(d.pid());
  if (!before) return fail(before.error().message());
  IdleConnections idle_conns = open_idle(d.wake_port(), host, idle);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int held = still_open(idle_conns.kept);
  auto with_idle = rss_mib(d.pid());
  for (int fd : idle_conns.kept) ::close(fd);
  if (!with_idle) return fail(with_idle.error().message());
  std::printf("idle connections: %d tried, %d answered and kept alive, %d still open 1 s later\n",
              idle, static_cast<int>(idle_conns.kept.size()), held);
  if (!idle_conns.refused.empty())
    std::printf("  first one not kept: %s\n", idle_conns.refused.c_str());
  std::printf("sandboxd RSS: %.1f MiB before, %.1f MiB with %d idle connections (%+.1f MiB)\n",
              *before, *with_idle, held, *with_idle - *before);

  for (int conns : kConcurrencies) {
    double ratio = runs["edge"][conns].rps / runs["nginx"][conns].rps;
    std::printf("ratio edge/nginx req/s at %3d conns: %.2f (target >= 1.00: %s)\n", conns, ratio,
                verdict(ratio >= 1.0));
  }
  double added = runs["edge"][1].p50_ms - runs["direct"][1].p50_ms;
  std::printf("edge p50 added over direct at 1 conn: %.3f ms (target <= 0.20 ms: %s)\n", added,
              verdict(added <= 0.2));
  for (int conns : kConcurrencies) {
    double ratio = runs["edge"][conns].p99_ms / runs["nginx"][conns].p99_ms;
    std::printf("ratio edge/nginx p99 at %3d conns: %.2f (target <= 1.00: %s)\n", conns, ratio,
                verdict(ratio <= 1.0));
  }
  std::printf(
      "sandboxd RSS with %d idle connections open: %.1f MiB (target <= 64 MiB with "
      "10000: %s)\n",
      held, *with_idle, verdict(held >= 10000 && *with_idle <= 64.0));
  return 0;
}
