#include "sandboxd/api/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>

#include "sandboxd/api/json_codec.h"
#include "sandboxd/api/request_guard.h"
#include "sandboxd/base/ids.h"
#include "sandboxd/base/metrics.h"
#include "sandboxd/base/request_context.h"
#include "sandboxd/base/text.h"

namespace sandboxd {
namespace {

// Every state a sandbox row can be in (list filter, /metrics).
constexpr const char* kAllStatuses[] = {kStatusCreating, kStatusStarting, kStatusRunning,
                                        kStatusStopping, kStatusStopped,  kStatusError,
                                        kStatusDeleting, kStatusPurging};

// Per-request context. Each request is handled start to finish on one worker thread,
// so thread-local storage carries it from the pre-routing handler to the logger. The
// request id itself lives in current_request_id(), which the log pattern prints.
struct RequestContext {
  std::string actor;
  std::chrono::steady_clock::time_point start;
};
thread_local RequestContext t_request;

constexpr const char* kJson = "application/json";
constexpr const char* kOctetStream = "application/octet-stream";
constexpr int kUnpagedLimit = 1'000'000;
constexpr std::size_t kDefaultLogTail = 64 * 1024;
constexpr std::size_t kMaxLogTail = 1 << 20;

void reply_error(httplib::Response& res, const Status& st) {
  res.status = http_status(st.code());
  if (st.code() == Code::kUnavailable) res.set_header("Retry-After", "5");
  if (st.code() == Code::kUnauthorized) res.set_header("WWW-Authenticate", "Bearer");
  if (st.code() == Code::kUnauthorized || st.code() == Code::kForbidden ||
      st.code() == Code::kUnsupportedMediaType) {
    res.set_header("Connection", "close");  // an unread body must not become the next request
  }
  if (st.code() == Code::kInternal) {
    // Internal details (paths, SQLite messages) go to the log, not to the caller.
    spdlog::error("internal error: {}", st.message());
    res.set_content(encode_error(Status(Code::kInternal,
                                        "internal error; see the sandboxd log for this request id"),
                                 current_request_id()),
                    kJson);
    return;
  }
  res.set_content(encode_error(st, current_request_id()), kJson);
}

Code code_for_http(int status) {
  switch (status) {
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthorized;
    case 403: return Code::kForbidden;
    case 404:
    case 405: return Code::kNotFound;
    case 409: return Code::kConflict;
    case 413: return Code::kTooLarge;
    case 415: return Code::kUnsupportedMediaType;
    case 503: return Code::kUnavailable;
    case 504: return Code::kTimeout;
    default: return status >= 500 ? Code::kInternal : Code::kInvalidArgument;
  }
}

}  // namespace

int http_status(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kUnsupportedMediaType: return 415;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kTooLarge: return 413;
    case Code::kUnavailable: return 503;
    case Code::kTimeout: return 504;
    case Code::kInternal: return 500;
  }
  return 500;
}

// Serves each connection on a thread of its own, made on demand, up to `max` at once
// (beyond that, connections wait in order): an open event stream or a long exec holds a
// thread, never a slot others need while threads are available. Idle threads exit.
class ConnectionThreads final : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(std::size_t max) : max_(max) {}
  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    queue_.push_back(std::move(fn));
    if (running_ >= max_) return;
    try {
      std::thread([this] { work(); }).detach();
      ++running_;
      return;
    } catch (const std::system_error& e) {
      spdlog::warn("api: cannot start a connection thread: {}", e.what());
    }
    if (running_ > 0) return;  // a running worker takes it
    // No worker at all: serve it here rather than strand it.
    auto next = std::move(queue_.back());
    queue_.pop_back();
    ++running_;
    lock.unlock();
    next();
    lock.lock();
    if (--running_ == 0) idle_.notify_all();
  }
  // Waits until every queued connection has been served.
  void shutdown() override {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return running_ == 0; });
  }

 private:
  void work() {
    std::unique_lock lock(mu_);
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
    if (--running_ == 0) idle_.notify_all();
  }
  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
};

struct ApiServer::Impl {
  const Config& config;
  SandboxService& sandboxes;
  const Authenticator& auth;
  Clock& clock;
  TaskService* tasks;
  std::atomic<int> open_streams{0};
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
  int port = 0;

  Impl(const Config& c, SandboxService& s, const Authenticator& a, Clock& k, TaskService* t)
      : config(c), sandboxes(s), auth(a), clock(k), tasks(t) {}

  std::string sandbox_body(const SandboxRecord& rec) {
    IdleInfo idle = sandboxes.idle_info(rec);
    return encode_sandbox(rec, config, &idle);
  }

  // Logs readiness when it changes (probes come every few seconds: no line per probe).
  std::mutex ready_mu;
  std::string last_readiness = "ready";
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

  // Handlers get the request body already read (empty when there is none).
  using Handler =
      std::function<void(const httplib::Request&, httplib::Response&, const std::string& body)>;

  // True when the request says a body follows (Content-Length, even 0, or chunked).
  static bool declares_body(const httplib::Request& req) {
    return req.has_header("Content-Length") ||
           req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  }

  // Reads the body only when the request declares one (Content-Length or chunked): a
  // bodiless POST must not wait for more bytes. Over max_body_bytes is kTooLarge.
  Status read_body(const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader, std::string& body, std::size_t max) {
    if (!declares_body(req)) return {};
    bool too_large = false;
    // Over `max`, the rest is read and dropped (up to the server-wide payload limit), so
    // the client, still sending, gets the 413 instead of a reset.
    bool ok = reader([&](const char* data, std::size_t len) {
      if (too_large || body.size() + len > max) {
        too_large = true;
        body.clear();
        return true;
      }
      body.append(data, len);
      return true;
    });
    if (too_large || res.status == 413) {
      res.set_header("Connection", "close");
      return Status(Code::kTooLarge, "request body larger than " + std::to_string(max) + " bytes");
    }
    if (!ok) return Status(Code::kInvalidArgument, "could not read the request body");
    return {};
  }

  // The largest PUT files body: the file limit, base64-encoded, plus the JSON around it.
  std::size_t files_body_max() const {
    return static_cast<std::size_t>(config.files_max_bytes) / 3 * 4 + 4 + (64 << 10);
  }

  // A POST or PUT that carries a body, or names a Content-Type, must name one of `types`:
  // anything else is what a web page can send without a CORS preflight (text/plain, a
  // form), so it is refused before the body is read.
  static Status check_media_type(const httplib::Request& req,
                                 const std::vector<std::string>& types) {
    const std::string type = req.get_header_value("Content-Type");
    bool body = declares_body(req) && req.get_header_value("Content-Length") != "0";
    if (!body && !req.has_header("Content-Type")) return {};
    for (const auto& t : types)
      if (media_type_is(type, t)) return {};
    std::string want = types[0];
    for (std::size_t i = 1; i < types.size(); ++i) want += " or " + types[i];
    return Status(Code::kUnsupportedMediaType, "Content-Type must be " + want + " (got '" +
                                                   printable(type.substr(0, 100)) + "')");
  }

  // Registers `handler` for each path pattern (the legacy path and its /v1 alias). A
  // POST or PUT body must be one of `types` (default JSON) and is read first, up to
  // `max_body` (default SANDBOXD_MAX_BODY_BYTES).
  void route(const std::string& method, std::initializer_list<const char*> patterns,
             Handler handler, std::size_t max_body = 0, std::vector<std::string> types = {kJson}) {
    if (max_body == 0) max_body = static_cast<std::size_t>(config.max_body_bytes);
    for (const char* p : patterns) {
      if (method == "POST" || method == "PUT") {
        auto with_body = [this, handler, max_body, types](const httplib::Request& req,
                                                          httplib::Response& res,
                                                          const httplib::ContentReader& reader) {
          if (auto s = check_media_type(req, types); !s.is_ok()) return reply_error(res, s);
          std::string body;
          if (auto s = read_body(req, res, reader, body, max_body); !s.is_ok())
            return reply_error(res, s);
          handler(req, res, body);
        };
        if (method == "POST")
          server.Post(p, with_body);
        else
          server.Put(p, with_body);
        continue;
      }
      auto bodiless = [handler](const httplib::Request& req, httplib::Response& res) {
        handler(req, res, "");
      };
      if (method == "GET")
        server.Get(p, bodiless);
      else if (method == "DELETE")
        server.Delete(p, bodiless);
    }
  }

  void install_routes() {
    route("GET", {"/healthz"},
          [](const httplib::Request&, httplib::Response& res, const std::string&) {
            res.set_content("ok\n", "text/plain");
          });
    // Anyone may ask whether sandboxd is ready; only an authenticated caller learns why
    // not (docker's and SQLite's own words name paths and versions), the log says it too.
    route("GET", {"/readyz"},
          [this](const httplib::Request&, httplib::Response& res, const std::string&) {
            Status s = sandboxes.readiness();
            log_readiness_change(s);
            if (s.is_ok()) return res.set_content("ready\n", "text/plain");
            bool authenticated = !auth.disabled() && !t_request.actor.empty();
            reply_error(res, Status(Code::kUnavailable,
                                    authenticated ? s.message()
                                                  : "not ready: docker or the database does not "
                                                    "answer (details in the sandboxd log)"));
          });
    // Prometheus text format. Served only here, on the API listener (loopback by
    // default, behind the same auth): never on the preview edge, which sandboxes and the
    // public reach.
    route("GET", {"/metrics"},
          [this](const httplib::Request&, httplib::Response& res, const std::string&) {
            auto rows = sandboxes.all();
            if (!rows) return reply_error(res, rows.error());
            std::vector<GaugeSample> gauges = {
                {"sandboxd_build_info", {{"version", SANDBOXD_VERSION}}, 1}};
            std::map<std::string, int> by_state;
            for (const char* s : kAllStatuses) by_state[s] = 0;
            for (const auto& r : *rows) ++by_state[r.status];
            for (const auto& [state, n] : by_state)
              gauges.push_back({"sandboxd_sandboxes", {{"state", state}}, double(n)});
            if (tasks)
              gauges.push_back({"sandboxd_tasks_running", {}, double(tasks->running_count())});
            res.set_content(metrics().render(gauges), "text/plain; version=0.0.4; charset=utf-8");
          });
    route("POST", {"/sandbox", "/v1/sandboxes"},
          [this](const httplib::Request&, httplib::Response& res, const std::string& body) {
            auto create = decode_create(body);
            if (!create) return reply_error(res, create.error());
            auto rec = sandboxes.create(*create);
            if (!rec) return reply_error(res, rec.error());
            res.status = 201;
            res.set_content(sandbox_body(*rec), kJson);
          });
    route("GET", {"/sandboxes", "/v1/sandboxes"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            ListQuery q;
            if (req.has_param("status")) {
              q.status = req.get_param_value("status");
              bool known = false;
              for (const char* s : kAllStatuses) {
                known |= q.status == s;
              }
              if (!known)
                return reply_error(
                    res, Status(Code::kInvalidArgument,
                                "status: unknown status '" + q.status.substr(0, 32) + "'"));
            }
            if (req.has_param("after")) {
              auto after = normalize_id(req.get_param_value("after"));
              if (!after) return reply_error(res, after.error().with_context("after"));
              q.after_id = *after;
            }
            if (req.has_param("limit")) {
              const std::string v = req.get_param_value("limit");
              int n = 0;
              for (char c : v)
                n = (c >= '0' && c <= '9' && n < 100000) ? n * 10 + (c - '0') : -1000000;
              if (v.empty() || n < 1 || n > 1000)
                return reply_error(res, Status(Code::kInvalidArgument, "limit: must be 1..1000"));
              q.limit = n;
            }
            bool v1 = req.path.rfind("/v1/", 0) == 0;
            // The original's GET /sandboxes returned every row: keep that unless paged.
            if (!v1 && !req.has_param("limit")) q.limit = kUnpagedLimit;
            auto page = sandboxes.list(q);
            if (!page) return reply_error(res, page.error());
            if (!page->next_after.empty()) res.set_header("X-Next-After", page->next_after);
            res.set_content(encode_sandbox_list(*page, config, v1), kJson);
          });
    route("GET", {R"(/sandbox/([^/]+))", R"(/v1/sandboxes/([^/]+))"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            auto rec = sandboxes.get(req.matches[1]);
            if (!rec) return reply_error(res, rec.error());
            res.set_content(sandbox_body(*rec), kJson);
          });
    route("POST", {R"(/sandbox/([^/]+)/exec)", R"(/v1/sandboxes/([^/]+)/exec)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string& body) {
            auto id = normalize_id(req.matches[1].str());
            if (!id) return reply_error(res, id.error());
            auto exec = decode_exec(body);
            if (!exec) return reply_error(res, exec.error());
            auto out = sandboxes.exec(*id, *exec);
            if (!out) return reply_error(res, out.error());
            res.set_content(encode_exec(*out), kJson);
          });
    route("POST", {R"(/sandbox/([^/]+)/keepalive)", R"(/v1/sandboxes/([^/]+)/keepalive)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string& body) {
            auto id = normalize_id(req.matches[1].str());
            if (!id) return reply_error(res, id.error());
            auto secs = decode_keepalive(body, clock.now_ms());
            if (!secs) return reply_error(res, secs.error());
            auto rec = sandboxes.keepalive(*id, *secs);
            if (!rec) return reply_error(res, rec.error());
            res.set_content(sandbox_body(*rec), kJson);
          });
    route("POST", {R"(/sandbox/([^/]+)/stop)", R"(/v1/sandboxes/([^/]+)/stop)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            auto rec = sandboxes.stop(req.matches[1]);
            if (!rec) return reply_error(res, rec.error());
            res.set_content(sandbox_body(*rec), kJson);
          });
    route("POST", {R"(/sandbox/([^/]+)/start)", R"(/v1/sandboxes/([^/]+)/start)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            auto rec = sandboxes.start(req.matches[1], "api");
            if (!rec) return reply_error(res, rec.error());
            res.set_content(sandbox_body(*rec), kJson);
          });
    route("DELETE", {R"(/sandbox/([^/]+))", R"(/v1/sandboxes/([^/]+))"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            if (auto s = sandboxes.destroy(req.matches[1]); !s.is_ok()) return reply_error(res, s);
            res.status = 204;
          });
    route("GET", {R"(/sandbox/([^/]+)/logs)", R"(/v1/sandboxes/([^/]+)/logs)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            std::size_t tail = kDefaultLogTail;
            if (req.has_param("tail")) {
              const std::string v = req.get_param_value("tail");
              bool digits = !v.empty() && v.size() <= 8 &&
                            v.find_first_not_of("0123456789") == std::string::npos;
              if (!digits || std::stoul(v) < 1 || std::stoul(v) > kMaxLogTail) {
                return reply_error(
                    res, Status(Code::kInvalidArgument,
                                "tail: must be 1.." + std::to_string(kMaxLogTail) + " bytes"));
              }
              tail = std::stoul(v);
            }
            auto text = sandboxes.logs(req.matches[1], tail);
            if (!text) return reply_error(res, text.error());
            res.set_content(*text, "text/plain; charset=utf-8");
          });
    route("GET", {R"(/sandbox/([^/]+)/files)", R"(/v1/sandboxes/([^/]+)/files)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            const std::string path = req.get_param_value("path");
            const std::string raw = req.get_param_value("raw");
            if (!raw.empty() && raw != "true" && raw != "false" && raw != "1" && raw != "0")
              return reply_error(res, Status(Code::kInvalidArgument, "raw: must be true or false"));
            auto node = sandboxes.get_file(req.matches[1], path);
            if (!node) return reply_error(res, node.error());
            if (raw == "true" || raw == "1") {
              if (node->type != "file")
                return reply_error(
                    res, Status(Code::kInvalidArgument, "raw: only a file can be read raw"));
              return res.set_content(node->content, kOctetStream);
            }
            res.set_content(encode_file_node(path, *node), kJson);
          });
    route("PUT", {R"(/sandbox/([^/]+)/files)", R"(/v1/sandboxes/([^/]+)/files)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string& body) {
            // Raw bytes (application/octet-stream, path and append in the query) skip JSON.
            const bool raw = media_type_is(req.get_header_value("Content-Type"), kOctetStream);
            Result<FilePut> put =
                FilePut{req.get_param_value("path"), body, req.get_param_value("append") == "true"};
            if (!raw) put = decode_file_put(body);
            if (!put) return reply_error(res, put.error());
            if (auto s = sandboxes.put_file(req.matches[1], put->path, put->content, put->append);
                !s.is_ok())
              return reply_error(res, s);
            res.set_content(encode_file_written(put->path, put->content.size(), put->append),
                            kJson);
          },
          files_body_max(), {kJson, kOctetStream});
    route("DELETE", {R"(/sandbox/([^/]+)/files)", R"(/v1/sandboxes/([^/]+)/files)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            if (auto s = sandboxes.delete_file(req.matches[1], req.get_param_value("path"));
                !s.is_ok())
              return reply_error(res, s);
            res.status = 204;
          });
    if (tasks) install_task_routes();
    route("POST", {R"(/sandbox/([^/]+)/purge)", R"(/v1/sandboxes/([^/]+)/purge)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            auto freed = sandboxes.purge(req.matches[1]);
            if (!freed) return reply_error(res, freed.error());
            res.set_content(encode_purge(*freed), kJson);
          });
  }

  void install_task_routes() {
    route("POST", {R"(/sandbox/([^/]+)/tasks)", R"(/v1/sandboxes/([^/]+)/tasks)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string& body) {
            auto task_req = decode_task(body);
            if (!task_req) return reply_error(res, task_req.error());
            auto task = tasks->create(req.matches[1], *task_req);
            if (!task) return reply_error(res, task.error());
            res.status = 202;
            res.set_content(encode_task(*task), kJson);
          });
    route("GET", {R"(/sandbox/([^/]+)/tasks)", R"(/v1/sandboxes/([^/]+)/tasks)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            auto list = tasks->list(req.matches[1]);
            if (!list) return reply_error(res, list.error());
            res.set_content(encode_task_list(*list), kJson);
          });
    route("GET", {R"(/sandbox/([^/]+)/tasks/([^/]+))", R"(/v1/sandboxes/([^/]+)/tasks/([^/]+))"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            auto task = tasks->get(req.matches[1], req.matches[2]);
            if (!task) return reply_error(res, task.error());
            res.set_content(encode_task(*task), kJson);
          });
    route("POST",
          {R"(/sandbox/([^/]+)/tasks/([^/]+)/cancel)",
           R"(/v1/sandboxes/([^/]+)/tasks/([^/]+)/cancel)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            auto task = tasks->cancel(req.matches[1], req.matches[2]);
            if (!task) return reply_error(res, task.error());
            res.set_content(encode_task(*task), kJson);
          });
    route("GET",
          {R"(/sandbox/([^/]+)/tasks/([^/]+)/events)",
           R"(/v1/sandboxes/([^/]+)/tasks/([^/]+)/events)"},
          [this](const httplib::Request& req, httplib::Response& res, const std::string&) {
            serve_events(req, res);
          });
  }

  // Server-sent events of a task: every stored event after Last-Event-ID (or ?since=),
  // then new ones as they are stored, a comment every 15 s while nothing happens, and the
  // end of the stream after `done`.
  void serve_events(const httplib::Request& req, httplib::Response& res) {
    auto task = tasks->get(req.matches[1], req.matches[2]);
    if (!task) return reply_error(res, task.error());
    std::string from = req.get_header_value("Last-Event-ID");
    if (from.empty()) from = req.get_param_value("since");
    int64_t after = 0;
    if (!from.empty()) {
      if (from.size() > 18 || from.find_first_not_of("0123456789") != std::string::npos)
        return reply_error(
            res, Status(Code::kInvalidArgument, "Last-Event-ID / since: must be an event id"));
      after = std::stoll(from);
    }
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    // Streams may hold at most all but a few connection threads.
    if (open_streams.fetch_add(1) >= config.http_threads - 8) {
      --open_streams;
      return reply_error(res, Status(Code::kUnavailable, "too many open event streams"));
    }
    const std::string task_id = task->id;
    TaskService* svc = tasks;
    res.set_chunked_content_provider(
        "text/event-stream",
        [svc, task_id, after, sandbox = task->sandbox_id](std::size_t,
                                                          httplib::DataSink& sink) mutable {
          for (;;) {
            auto events = svc->events(task_id, after, 200);
            if (!events) return false;
            for (const auto& e : *events) {
              std::string frame = "id: " + std::to_string(e.seq) + "\nevent: " + e.type +
                                  "\ndata: " + e.data_json + "\n\n";
              if (!sink.write(frame.data(), frame.size())) return false;
              after = e.seq;
              if (e.type == "done") {
                sink.done();
                return true;
              }
            }
            if (!events->empty()) continue;
            // Resumed at or after the end of a finished task: nothing more will come.
            if (auto t = svc->get(sandbox, task_id); t && t->finished()) {
              sink.done();
              return true;
            }
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
            if (!svc->wait_for_event(task_id, after, deadline)) {
              sink.done();  // shutting down: the client resumes with Last-Event-ID
              return true;
            }
            auto more = svc->events(task_id, after, 1);
            if (more && more->empty()) {
              static constexpr char kKeepalive[] = ": keepalive\n\n";
              if (!sink.write(kKeepalive, sizeof kKeepalive - 1)) return false;
            }
          }
        },
        [this](bool) { --open_streams; });
  }

  // The browser defences, before auth and any work (see request_guard.h): a foreign Host
  // or Origin, or a cross-site fetch without one, is refused; a listed Origin gets CORS
  // headers, and its preflight is answered here. True when the request was answered.
  bool guard(const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](const std::string& why) {
      reply_error(res, Status(Code::kForbidden, why));
      return true;
    };
    const std::string host = req.get_header_value("Host");
    if (!host_allowed(host, config.api_hostnames))
      return refuse("Host '" + printable(host.substr(0, 100)) +
                    "' is not a name of this API: use an IP address or localhost, or list the "
                    "name in SANDBOXD_API_HOSTNAMES");
    if (!req.has_header("Origin")) {
      if (cross_site_fetch(req.get_header_value("Sec-Fetch-Site")))
        return refuse("a request a browser sent for another site is refused");
      return false;
    }
    const std::string origin = req.get_header_value("Origin");
    if (!origin_allowed(origin, config.api_allowed_origins))
      return refuse("Origin '" + printable(origin.substr(0, 100)) +
                    "' may not use this API: list it in SANDBOXD_API_ALLOWED_ORIGINS");
    // Echo the listed spelling, never the client's bytes.
    std::string listed = origin;
    for (const auto& o : config.api_allowed_origins)
      if (origin_allowed(origin, {o})) listed = o;
    res.set_header("Access-Control-Allow-Origin", listed);
    res.set_header("Vary", "Origin");
    res.set_header("Access-Control-Expose-Headers", "X-Request-Id, X-Next-After, Retry-After");
    if (req.method != "OPTIONS") return false;
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE");
    res.set_header("Access-Control-Allow-Headers",
                   "Authorization, Content-Type, Last-Event-ID, X-Request-Id");
    res.set_header("Access-Control-Max-Age", "600");
    return true;
  }

  void install_middleware() {
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      std::string given = req.get_header_value("X-Request-Id");
      bool usable = !given.empty() && given.size() <= 64 &&
                    given.find_first_not_of(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                        std::string::npos;
      current_request_id() = usable ? given : random_hex(8);
      t_request.start = std::chrono::steady_clock::now();
      t_request.actor.clear();
      res.set_header("X-Request-Id", current_request_id());
      if (guard(req, res)) return httplib::Server::HandlerResponse::Handled;
      const bool probe = req.path == "/healthz" || req.path == "/readyz";
      if (auth.disabled()) {
        t_request.actor = "auth-disabled";
        return httplib::Server::HandlerResponse::Unhandled;
      }
      auto actor = auth.authenticate(req.get_header_value("Authorization"));
      if (actor) t_request.actor = *actor;
      if (!actor && !probe) {
        reply_error(res, Status(Code::kUnauthorized, "missing or invalid bearer token"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string msg = res.status == 404 ? "no route for " + req.method + " " + req.path
                        : res.status == 413
                            ? "request body too large"
                            : "request failed with HTTP " + std::to_string(res.status);
      int status = res.status;
      reply_error(res, Status(code_for_http(status), msg));
      res.status = status;
    });
    server.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          spdlog::error("{} {}: unhandled exception: {}", req.method, req.path, what);
          reply_error(res, Status(Code::kInternal, "internal error"));
        });
    server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t_request.start)
                    .count();
      // A request rejected before routing (e.g. a malformed request line) never set the
      // context: log it without actor or duration rather than with the previous one's.
      bool routed = !current_request_id().empty();
      spdlog::info("actor={} remote={} {} {} status={} duration_ms={}",
                   routed && !t_request.actor.empty() ? t_request.actor : "-", req.remote_addr,
                   printable(req.method), printable(req.path), res.status, routed ? ms : -1);
      current_request_id().clear();
      t_request.actor.clear();
    });
  }
};

ApiServer::ApiServer(const Config& config, SandboxService& sandboxes, const Authenticator& auth,
                     Clock& clock, TaskService* tasks)
    : impl_(std::make_unique<Impl>(config, sandboxes, auth, clock, tasks)) {
  auto threads = static_cast<std::size_t>(config.http_threads);
  impl_->server.new_task_queue = [threads] { return new ConnectionThreads(threads); };
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second daemon bind the same
  // port and silently take half the traffic. SO_REUSEADDR alone allows quick restarts
  // while a second bind fails.
  impl_->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl_->server.set_payload_max_length(
      std::max(static_cast<std::size_t>(config.max_body_bytes), impl_->files_body_max()));
  impl_->server.set_read_timeout(30, 0);
  impl_->server.set_write_timeout(30, 0);
  impl_->install_middleware();
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

void ApiServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace sandboxd
