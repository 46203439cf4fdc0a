#include "sandboxd/api/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>
#include <vector>

#include "api/connections.h"
#include "api/console.h"
#include "api/exec_stream.h"
#include "api/http_io.h"
#include "api/middleware.h"
#include "api/process_routes.h"
#include "api/sse.h"
#include "api/terminal.h"
#include "sandboxd/api/json_codec.h"
#include "sandboxd/api/query_params.h"
#include "sandboxd/api/request_guard.h"
#include "sandboxd/base/ids.h"
#include "sandboxd/base/metrics.h"
#include "sandboxd/os/fd.h"
#include "sandboxd/reaper/idle_reaper.h"

namespace sandboxd {
namespace {

constexpr int kUnpagedLimit = 1'000'000;
constexpr int kMaxPageLimit = 1000;
constexpr int64_t kDefaultLogTail = 64 * 1024;
constexpr int64_t kMaxLogTail = 1 << 20;

// The httplib pattern of an OpenAPI path template: each {param} matches one segment.
std::string path_pattern(const std::string& tmpl) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      out += tmpl[i];
      continue;
    }
    out += "([^/]+)";
    i = tmpl.find('}', i);
  }
  return out;
}

// The original's path of a /v1/sandboxes/{id}... route: /sandbox/{id}...
std::string legacy_path(const std::string& v1) {
  const std::string prefix = "/v1/sandboxes/{id}";
  return "/sandbox/{id}" + v1.substr(prefix.size());
}

}  // namespace

struct ApiServer::Impl {
  const Config& config;
  SandboxService& sandboxes;
  const Authenticator& auth;
  Clock& clock;
  Metrics& metrics;
  TaskService* tasks;
  ApiServer::SampleSource samples;
  std::unique_ptr<TaskEventStreams> event_streams;  // null without tasks
  // Readable once the server stops: streams that poll it (exec, process output, the
  // terminal) end then.
  Fd stop_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::unique_ptr<ProcessRoutes> process_routes;  // null without processes
  TerminalTickets terminal_tickets;
  TerminalRoute terminal_route;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
  int port = 0;
  int listen_fd = -1;  // the listening socket, once bound

  // Logs readiness when it changes (probes come every few seconds: no line per probe).
  std::mutex ready_mu;
  std::string last_readiness = "ready";  // guarded by ready_mu

  Impl(const Config& c, SandboxService& s, const Authenticator& a, Clock& k, Metrics& m,
       TaskService* t, ProcessService* p, ApiServer::SampleSource sm)
      : config(c),
        sandboxes(s),
        auth(a),
        clock(k),
        metrics(m),
        tasks(t),
        samples(std::move(sm)),
        terminal_tickets(k),
        terminal_route(s, terminal_tickets, k, stop_fd.get()) {
    // Streams may hold at most all but a few connection threads.
    if (tasks) event_streams = std::make_unique<TaskEventStreams>(*tasks, config.http_threads - 8);
    if (p)
      process_routes =
          std::make_unique<ProcessRoutes>(*p, stop_fd.get(), std::max(1, config.http_threads - 8));
  }

  // A handler gets the request body already read (empty when there is none).
  using Handler = void (Impl::*)(const httplib::Request&, httplib::Response&,
                                 const std::string& body);

  // The largest PUT files body: the file limit, base64-encoded, plus the JSON around it.
  std::size_t files_body_max() const {
    return static_cast<std::size_t>(config.files_max_bytes) / 3 * 4 + 4 + (64 << 10);
  }

  std::vector<ApiRoute> routes;

  // Registers `handler` for `path` (an OpenAPI path template) and for `legacy`, the
  // original's alias, when not empty. A POST, PUT or PATCH body must be one of `types`
  // (default JSON) and is read first, up to `max_body` (default SANDBOXD_MAX_BODY_BYTES).
  void route(const std::string& method, const std::string& path, Handler handler,
             const std::string& legacy = "", std::size_t max_body = 0,
             std::vector<std::string> types = {kJson}) {
    routes.push_back({method, path});
    if (max_body == 0) max_body = static_cast<std::size_t>(config.max_body_bytes);
    std::vector<std::string> patterns = {path_pattern(path)};
    if (!legacy.empty()) patterns.push_back(path_pattern(legacy));
    for (const auto& p : patterns) {
      if (method == "POST" || method == "PUT" || method == "PATCH") {
        auto with_body = [this, handler, max_body, types, path](
                             const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& reader) {
          set_request_route(path);
          if (auto s = check_media_type(req, types); !s.is_ok()) return reply_error(res, s);
          std::string body;
          if (auto s = read_body(req, res, reader, body, max_body); !s.is_ok())
            return reply_error(res, s);
          (this->*handler)(req, res, body);
        };
        if (method == "POST")
          server.Post(p, with_body);
        else if (method == "PUT")
          server.Put(p, with_body);
        else
          server.Patch(p, with_body);
        continue;
      }
      auto bodiless = [this, handler, path](const httplib::Request& req, httplib::Response& res) {
        set_request_route(path);
        (this->*handler)(req, res, "");
      };
      if (method == "GET")
        server.Get(p, bodiless);
      else if (method == "DELETE")
        server.Delete(p, bodiless);
    }
  }

  // A /v1/sandboxes/{id}... route that the original also served as /sandbox/{id}...
  void both(const std::string& method, const std::string& v1, Handler handler,
            std::size_t max_body = 0, std::vector<std::string> types = {kJson}) {
    route(method, v1, handler, legacy_path(v1), max_body, std::move(types));
  }

  // httplib matches routes in the order they are registered.
  void install_routes() {
    route("GET", "/healthz", &Impl::healthz);
    route("GET", "/readyz", &Impl::readyz);
    route("GET", "/metrics", &Impl::metrics_text);
    route("GET", "/v1/version", &Impl::version);
    route("GET", "/v1/openapi.json", &Impl::openapi);
    route("POST", "/v1/sandboxes", &Impl::create, "/sandbox");
    route("GET", "/v1/sandboxes", &Impl::list, "/sandboxes");
    both("GET", "/v1/sandboxes/{id}", &Impl::get);
    route("PATCH", "/v1/sandboxes/{id}", &Impl::patch, "", 0,
          {kJson, "application/merge-patch+json"});
    both("POST", "/v1/sandboxes/{id}/exec", &Impl::exec);
    both("POST", "/v1/sandboxes/{id}/keepalive", &Impl::keepalive);
    both("POST", "/v1/sandboxes/{id}/stop", &Impl::stop);
    both("POST", "/v1/sandboxes/{id}/start", &Impl::start);
    both("DELETE", "/v1/sandboxes/{id}", &Impl::destroy);
    both("GET", "/v1/sandboxes/{id}/logs", &Impl::logs);
    both("GET", "/v1/sandboxes/{id}/files", &Impl::get_file);
    both("PUT", "/v1/sandboxes/{id}/files", &Impl::put_file, files_body_max(),
         {kJson, kOctetStream});
    both("DELETE", "/v1/sandboxes/{id}/files", &Impl::delete_file);
    if (tasks) {
      both("POST", "/v1/sandboxes/{id}/tasks", &Impl::create_task);
      both("GET", "/v1/sandboxes/{id}/tasks", &Impl::list_tasks);
      both("GET", "/v1/sandboxes/{id}/tasks/{task_id}", &Impl::get_task);
      both("POST", "/v1/sandboxes/{id}/tasks/{task_id}/cancel", &Impl::cancel_task);
      both("GET", "/v1/sandboxes/{id}/tasks/{task_id}/events", &Impl::task_events);
    }
    if (process_routes) {
      route("GET", "/v1/sandboxes/{id}/processes", &Impl::list_processes);
      route("GET", "/v1/sandboxes/{id}/processes/{pid}", &Impl::get_process);
      route("DELETE", "/v1/sandboxes/{id}/processes/{pid}", &Impl::signal_process);
      route("GET", "/v1/sandboxes/{id}/processes/{pid}/output", &Impl::process_output);
    }
    route("POST", "/v1/sandboxes/{id}/terminal/ticket", &Impl::terminal_ticket);
    route("GET", "/v1/sandboxes/{id}/terminal", &Impl::terminal);
    both("POST", "/v1/sandboxes/{id}/purge", &Impl::purge);
    route("POST", "/v1/sandboxes/{id}/snapshots", &Impl::create_snapshot);
    route("GET", "/v1/sandboxes/{id}/snapshots", &Impl::list_sandbox_snapshots);
    route("POST", "/v1/sandboxes/{id}/fork", &Impl::fork);
    route("POST", "/v1/sandboxes/{id}/restore", &Impl::restore);
    route("GET", "/v1/snapshots", &Impl::list_snapshots);
    route("GET", "/v1/snapshots/{snapshot}", &Impl::get_snapshot);
    route("DELETE", "/v1/snapshots/{snapshot}", &Impl::delete_snapshot);
    route("GET", "/console", &Impl::console_page);
    // An asset's name may hold slashes (vendor/xterm/xterm.mjs): its own pattern.
    routes.push_back({"GET", "/console/{asset}"});
    server.Get(R"(/console/(.+))", [](const httplib::Request& req, httplib::Response& res) {
      set_request_route("/console/{asset}");
      serve_console(req.matches[1], req, res);
    });
  }

  // A terminal's ticket (?ticket=) for the sandbox of its path: the actor it was issued to.
  std::optional<std::string> ticket_actor(const httplib::Request& req) {
    static const std::regex kTerminal("^/v1/sandboxes/([^/]+)/terminal$");
    std::smatch m;
    if (!req.has_param("ticket") || !std::regex_match(req.path, m, kTerminal)) return std::nullopt;
    auto id = normalize_id(m[1].str());
    if (!id) return std::nullopt;
    auto grant = terminal_tickets.redeem(req.get_param_value("ticket"), *id);
    if (!grant) return std::nullopt;
    return grant->actor;
  }

  std::string sandbox_body(const SandboxRecord& rec) {
    IdleInfo idle = idle_info(rec, config, sandboxes.busy().is_busy(rec.id));
    SandboxUsage usage = sandboxes.usage(rec);
    AppView app = sandboxes.app(rec);
    return encode_sandbox(rec, config, &idle, &usage, &app);
  }

  // Answers a sandbox (200) or the error.
  void reply_sandbox(httplib::Response& res, const Result<SandboxRecord>& rec) {
    if (!rec) return reply_error(res, rec.error());
    res.set_content(sandbox_body(*rec), kJson);
  }

  void version(const httplib::Request&, httplib::Response& res, const std::string&) {
    res.set_content(encode_version(), kJson);
  }

  void openapi(const httplib::Request&, httplib::Response& res, const std::string&) {
    std::string_view spec = openapi_spec();
    res.set_content(spec.data(), spec.size(), kJson);
  }

  void patch(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    auto patch = decode_patch(body);
    if (!patch) return reply_error(res, patch.error());
    reply_sandbox(res, sandboxes.patch(req.matches[1], *patch));
  }

  void healthz(const httplib::Request&, httplib::Response& res, const std::string&) {
    res.set_content("ok\n", "text/plain");
  }

  // Anyone may ask whether sandboxd is ready; only an authenticated caller learns why
  // not (docker's and SQLite's own words name paths and versions), the log says it too.
  void readyz(const httplib::Request&, httplib::Response& res, const std::string&) {
    Status s = sandboxes.readiness();
    log_readiness_change(s);
    if (s.is_ok()) return res.set_content("ready\n", "text/plain");
    bool authenticated = !auth.disabled() && !request_actor().empty();
    reply_error(res,
                Status(Code::kUnavailable,
                       authenticated ? s.message()
                                     : "not ready: the container runtime or the database does not "
                                       "answer (details in the sandboxd log)"));
  }

  void log_readiness_change(const Status& s) {
    std::string now = s.is_ok() ? "ready" : s.message();
    std::lock_guard lock(ready_mu);
    if (now == last_readiness) return;
    last_readiness = now;
    if (s.is_ok())
      spdlog::info("readyz: ready again");
    else
      spdlog::warn("readyz: not ready: {}", now);
  }

  // Prometheus text format. Served only here, on the API listener (loopback by default,
  // behind the same auth): never on the preview edge, which sandboxes and the public
  // reach.
  void metrics_text(const httplib::Request&, httplib::Response& res, const std::string&) {
    auto rows = sandboxes.all();
    if (!rows) return reply_error(res, rows.error());
    std::vector<ScrapeSample> gauges = {
        {"sandboxd_build_info", {{"version", SANDBOXD_VERSION}}, 1}};
    std::map<SandboxStatus, int> by_state;
    for (SandboxStatus s : all_sandbox_statuses()) by_state[s] = 0;
    double memory = 0, cpu = 0, disk_used = 0, disk_limit = 0;
    for (const auto& r : *rows) {
      ++by_state[r.status];
      SandboxUsage u = sandboxes.usage(r);
      memory += static_cast<double>(u.container.memory_bytes.value_or(0));
      cpu += static_cast<double>(u.container.cpu_usec.value_or(0)) / 1e6;
      disk_used += static_cast<double>(u.disk_used_bytes.value_or(0));
      disk_limit += static_cast<double>(r.limits.disk_bytes);
    }
    for (const auto& [state, n] : by_state)
      gauges.push_back(
          {"sandboxd_sandboxes", {{"state", std::string(to_string(state))}}, double(n)});
    gauges.push_back({"sandboxd_sandbox_memory_bytes", {}, memory});
    gauges.push_back({"sandboxd_sandbox_cpu_seconds", {}, cpu});
    gauges.push_back({"sandboxd_sandbox_disk_used_bytes", {}, disk_used});
    gauges.push_back({"sandboxd_sandbox_disk_limit_bytes", {}, disk_limit});
    if (tasks) gauges.push_back({"sandboxd_tasks_running", {}, double(tasks->running_count())});
    gauges.push_back({"sandboxd_warm_pool_ready", {}, double(sandboxes.pool_ready())});
    if (samples)
      for (auto& s : samples()) gauges.push_back(std::move(s));
    res.set_content(metrics.render(gauges), "text/plain; version=0.0.4; charset=utf-8");
  }

  void create(const httplib::Request&, httplib::Response& res, const std::string& body) {
    auto create = decode_create(body);
    if (!create) return reply_error(res, create.error());
    auto rec = sandboxes.create(*create);
    if (!rec) return reply_error(res, rec.error());
    res.status = 201;
    res.set_content(sandbox_body(waited_for_app(*rec, create->wait_for_app_s)), kJson);
  }

  // Query `status`, `after` and `limit`. The original's GET /sandboxes returned every
  // row: it keeps doing so unless paged; /v1 pages by default.
  Result<ListQuery> list_query(const httplib::Request& req, bool v1) {
    QueryParams params(req.params);
    ListQuery q;
    static const std::vector<std::string> statuses = [] {
      std::vector<std::string> names;
      for (SandboxStatus s : all_sandbox_statuses()) names.emplace_back(to_string(s));
      return names;
    }();
    auto status = params.choice("status", statuses, "");
    if (!status) return status.error();
    if (!status->empty()) q.status = parse_sandbox_status(*status);
    if (params.has("after")) {
      auto after = normalize_id(params.text("after"));
      if (!after) return after.error().with_context("after");
      q.after_id = *after;
    }
    // metadata.<key>=<value>: only sandboxes whose metadata has it (all of them, when
    // several are given).
    for (const auto& [name, value] : req.params) {
      if (name.rfind("metadata.", 0) != 0) continue;
      std::string key = name.substr(9);
      if (auto s = validate_metadata({{key, value}}); !s.is_ok()) return s;
      if (q.metadata.count(key) && q.metadata[key] != value)
        return Status(Code::kInvalidArgument, name + ": given twice with different values");
      q.metadata[key] = value;
    }
    auto limit = params.integer("limit", 1, kMaxPageLimit, v1 ? q.limit : kUnpagedLimit);
    if (!limit) return limit.error();
    q.limit = static_cast<int>(*limit);
    return q;
  }

  void list(const httplib::Request& req, httplib::Response& res, const std::string&) {
    bool v1 = req.path.rfind("/v1/", 0) == 0;
    auto q = list_query(req, v1);
    if (!q) return reply_error(res, q.error());
    auto page = sandboxes.list(*q);
    if (!page) return reply_error(res, page.error());
    if (!page->next_after.empty()) res.set_header("X-Next-After", page->next_after);
    res.set_content(encode_sandbox_list(*page, config, v1), kJson);
  }

  void get(const httplib::Request& req, httplib::Response& res, const std::string&) {
    reply_sandbox(res, sandboxes.get(req.matches[1]));
  }

  void exec(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    auto id = normalize_id(req.matches[1].str());
    if (!id) return reply_error(res, id.error());
    auto exec = decode_exec(body);
    if (!exec) return reply_error(res, exec.error());
    if (exec->background) {
      if (!process_routes)
        return reply_error(res, Status(Code::kInvalidArgument, "background: not served here"));
      return process_routes->start(*id, *exec, res);
    }
    if (req.get_header_value("Accept").find("text/event-stream") != std::string::npos) {
      auto stream = sandboxes.exec_stream(*id, *exec);
      if (!stream) return reply_error(res, stream.error());
      return serve_exec_stream(std::move(*stream), stop_fd.get(), res);
    }
    auto out = sandboxes.exec(*id, *exec);
    if (!out) return reply_error(res, out.error());
    res.set_content(encode_exec(*out), kJson);
  }

  void keepalive(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    auto id = normalize_id(req.matches[1].str());
    if (!id) return reply_error(res, id.error());
    auto secs = decode_keepalive(body, clock.now_ms());
    if (!secs) return reply_error(res, secs.error());
    reply_sandbox(res, sandboxes.keepalive(*id, *secs));
  }

  void stop(const httplib::Request& req, httplib::Response& res, const std::string&) {
    reply_sandbox(res, sandboxes.stop(req.matches[1]));
  }

  void start(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto wait = QueryParams(req.params).integer("wait_for_app", 0, kMaxWaitForAppSeconds, 0);
    if (!wait) return reply_error(res, wait.error());
    auto rec = sandboxes.start(req.matches[1], Trigger::kApi);
    if (!rec) return reply_error(res, rec.error());
    res.set_content(sandbox_body(waited_for_app(*rec, static_cast<int>(*wait))), kJson);
  }

  // `rec`, or after waiting up to `seconds` for its app, its row then.
  SandboxRecord waited_for_app(const SandboxRecord& rec, int seconds) {
    if (seconds <= 0) return rec;
    sandboxes.wait_for_app(rec.id, seconds);
    auto now = sandboxes.get(rec.id);
    return now ? *now : rec;
  }

  void destroy(const httplib::Request& req, httplib::Response& res, const std::string&) {
    if (auto s = sandboxes.destroy(req.matches[1]); !s.is_ok()) return reply_error(res, s);
    res.status = 204;
  }

  void purge(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto freed = sandboxes.purge(req.matches[1]);
    if (!freed) return reply_error(res, freed.error());
    res.set_content(encode_purge(*freed), kJson);
  }

  void create_snapshot(const httplib::Request& req, httplib::Response& res,
                       const std::string& body) {
    auto name = decode_snapshot_create(body);
    if (!name) return reply_error(res, name.error());
    auto snap = sandboxes.snapshot(req.matches[1], *name);
    if (!snap) return reply_error(res, snap.error());
    res.status = 201;
    res.set_content(encode_snapshot(*snap), kJson);
  }

  void list_sandbox_snapshots(const httplib::Request& req, httplib::Response& res,
                              const std::string&) {
    auto rec = sandboxes.get(req.matches[1]);
    if (!rec) return reply_error(res, rec.error());
    auto list = sandboxes.snapshots(rec->id);
    if (!list) return reply_error(res, list.error());
    res.set_content(encode_snapshot_list(*list), kJson);
  }

  // Query `sandbox_id`: only that sandbox's snapshots.
  void list_snapshots(const httplib::Request& req, httplib::Response& res, const std::string&) {
    std::optional<std::string> sandbox;
    if (req.has_param("sandbox_id")) sandbox = req.get_param_value("sandbox_id");
    auto list = sandboxes.snapshots(sandbox);
    if (!list) return reply_error(res, list.error());
    res.set_content(encode_snapshot_list(*list), kJson);
  }

  void get_snapshot(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto snap = sandboxes.get_snapshot(req.matches[1]);
    if (!snap) return reply_error(res, snap.error());
    res.set_content(encode_snapshot(*snap), kJson);
  }

  void delete_snapshot(const httplib::Request& req, httplib::Response& res, const std::string&) {
    if (auto s = sandboxes.delete_snapshot(req.matches[1]); !s.is_ok()) return reply_error(res, s);
    res.status = 204;
  }

  void fork(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    auto id = decode_fork(body);
    if (!id) return reply_error(res, id.error());
    auto rec = sandboxes.fork(req.matches[1], *id);
    if (!rec) return reply_error(res, rec.error());
    res.status = 201;
    res.set_content(sandbox_body(*rec), kJson);
  }

  void restore(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    auto snapshot = decode_restore(body);
    if (!snapshot) return reply_error(res, snapshot.error());
    reply_sandbox(res, sandboxes.restore(req.matches[1], *snapshot));
  }

  void logs(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto tail = QueryParams(req.params).integer("tail", 1, kMaxLogTail, kDefaultLogTail);
    if (!tail) return reply_error(res, tail.error());
    auto text = sandboxes.logs(req.matches[1], static_cast<std::size_t>(*tail));
    if (!text) return reply_error(res, text.error());
    res.set_content(*text, "text/plain; charset=utf-8");
  }

  void get_file(const httplib::Request& req, httplib::Response& res, const std::string&) {
    QueryParams params(req.params);
    const std::string path = params.text("path");
    auto raw = params.boolean("raw", false);
    if (!raw) return reply_error(res, raw.error());
    auto node = sandboxes.get_file(req.matches[1], path);
    if (!node) return reply_error(res, node.error());
    if (!*raw) return res.set_content(encode_file_node(path, *node), kJson);
    if (node->type != "file")
      return reply_error(res, Status(Code::kInvalidArgument, "raw: only a file can be read raw"));
    res.set_content(node->content, kOctetStream);
  }

  // Raw bytes (application/octet-stream) carry path and append in the query, not JSON.
  static Result<FilePut> raw_file_put(const httplib::Request& req, const std::string& body) {
    QueryParams params(req.params);
    auto append = params.boolean("append", false);
    if (!append) return append.error();
    return FilePut{params.text("path"), body, *append};
  }

  void put_file(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    const bool raw = media_type_is(req.get_header_value("Content-Type"), kOctetStream);
    auto put = raw ? raw_file_put(req, body) : decode_file_put(body);
    if (!put) return reply_error(res, put.error());
    if (auto s = sandboxes.put_file(req.matches[1], put->path, put->content, put->append);
        !s.is_ok())
      return reply_error(res, s);
    res.set_content(encode_file_written(put->path, put->content.size(), put->append), kJson);
  }

  void delete_file(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto path = QueryParams(req.params).text("path");
    if (auto s = sandboxes.delete_file(req.matches[1], path); !s.is_ok())
      return reply_error(res, s);
    res.status = 204;
  }

  void create_task(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    auto task_req = decode_task(body);
    if (!task_req) return reply_error(res, task_req.error());
    auto task = tasks->create(req.matches[1], *task_req);
    if (!task) return reply_error(res, task.error());
    res.status = 202;
    res.set_content(encode_task(*task), kJson);
  }

  void list_tasks(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto list = tasks->list(req.matches[1]);
    if (!list) return reply_error(res, list.error());
    res.set_content(encode_task_list(*list), kJson);
  }

  // Answers a task (200) or the error.
  static void reply_task(httplib::Response& res, const Result<TaskRecord>& task) {
    if (!task) return reply_error(res, task.error());
    res.set_content(encode_task(*task), kJson);
  }

  void get_task(const httplib::Request& req, httplib::Response& res, const std::string&) {
    reply_task(res, tasks->get(req.matches[1], req.matches[2]));
  }

  void cancel_task(const httplib::Request& req, httplib::Response& res, const std::string&) {
    reply_task(res, tasks->cancel(req.matches[1], req.matches[2]));
  }

  void task_events(const httplib::Request& req, httplib::Response& res, const std::string&) {
    event_streams->serve(req, res);
  }

  void terminal_ticket(const httplib::Request& req, httplib::Response& res, const std::string&) {
    terminal_route.ticket(req, res);
  }
  void terminal(const httplib::Request& req, httplib::Response& res, const std::string&) {
    terminal_route.open(req, res);
  }
  void console_page(const httplib::Request& req, httplib::Response& res, const std::string&) {
    serve_console("", req, res);
  }

  void list_processes(const httplib::Request& req, httplib::Response& res, const std::string&) {
    process_routes->list(req, res);
  }
  void get_process(const httplib::Request& req, httplib::Response& res, const std::string&) {
    process_routes->get(req, res);
  }
  void signal_process(const httplib::Request& req, httplib::Response& res, const std::string&) {
    process_routes->signal(req, res);
  }
  void process_output(const httplib::Request& req, httplib::Response& res, const std::string&) {
    process_routes->output(req, res);
  }
};

ApiServer::ApiServer(const Config& config, SandboxService& sandboxes, const Authenticator& auth,
                     Clock& clock, Metrics& metrics, TaskService* tasks, ProcessService* processes,
                     SampleSource samples)
    : impl_(std::make_unique<Impl>(config, sandboxes, auth, clock, metrics, tasks, processes,
                                   std::move(samples))) {
  auto threads = static_cast<std::size_t>(config.http_threads);
  impl_->server.new_task_queue = [threads] { return new ConnectionThreads(threads); };
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second daemon bind the same
  // port and silently take half the traffic. SO_REUSEADDR alone allows quick restarts
  // while a second bind fails.
  impl_->server.set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl_->listen_fd = sock;
  });
  impl_->server.set_payload_max_length(
      std::max(static_cast<std::size_t>(config.max_body_bytes), impl_->files_body_max()));
  // Small answers go out at once: without TCP_NODELAY a keep-alive client's next request
  // waits on Nagle and the peer's delayed ACK (~40 ms a request).
  impl_->server.set_tcp_nodelay(true);
  // cpp-httplib's default closes a keep-alive connection after 5 requests: a client
  // pool would reconnect every fifth call.
  impl_->server.set_keep_alive_max_count(1000);
  impl_->server.set_read_timeout(30, 0);
  impl_->server.set_write_timeout(30, 0);
  install_middleware(
      impl_->server, config, auth, metrics,
      [impl = impl_.get()](const httplib::Request& req) { return impl->ticket_actor(req); });
  impl_->install_routes();
}
ApiServer::~ApiServer() { stop(); }

Status ApiServer::start(const std::string& host, int port) {
  if (port == 0) {
    impl_->port = impl_->server.bind_to_any_port(host);
    if (impl_->port <= 0) return Status(Code::kUnavailable, "cannot bind " + host + ":0");
  } else {
    if (!impl_->server.bind_to_port(host, port)) {
      return Status(Code::kUnavailable,
                    "cannot bind " + host + ":" + std::to_string(port) + " (in use?)");
    }
    impl_->port = port;
  }
  // Debian's libcpp-httplib listens with a backlog of 5, which drops the SYNs of a burst
  // of new connections (a second's retransmit each): listen() again on the same socket
  // raises it (Linux updates the backlog of a listening socket).
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  impl_->listen_returned = false;
  impl_->thread = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->listen_returned = true;
  });
  // httplib's stop() is a no-op until the accept loop runs: wait for it, so a stop()
  // right after start() cannot be lost (and leave join() waiting forever).
  while (!impl_->server.is_running() && !impl_->listen_returned) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

int ApiServer::port() const { return impl_->port; }

const std::vector<ApiRoute>& ApiServer::routes() const { return impl_->routes; }

void ApiServer::stop() {
  if (!impl_->thread.joinable()) return;
  uint64_t one = 1;
  (void)!::write(impl_->stop_fd.get(), &one, sizeof one);
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace sandboxd
