#include "sandboxd/cli/commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "client.h"
#include "render.h"

namespace sandboxd {
namespace cli {
namespace {

constexpr int kUsage = 2;
constexpr int kFailed = 1;
constexpr int kExecTimedOut = 124;       // as timeout(1)
constexpr int kListPage = 1000;          // the API's largest page
constexpr int kStreamReadTimeoutS = 60;  // the event stream sends a keepalive every 15 s
constexpr int kMaxStreamFailures = 30;   // reconnects in a row without an event

// Every option of every client command; only one command runs per process.
struct Options {
  std::string env_file;
  bool json = false;
  bool quiet = false;
  std::string id, second, third;  // positionals
  std::vector<std::string> ids;
  // create / patch
  std::vector<int> ports;
  bool no_ports = false;
  std::vector<std::string> env, unset_env, metadata, unset_metadata;
  std::string idle_policy, memory, cpus, disk, egress, runtime, snapshot;
  int64_t pids_limit = -1, nofile = -1;
  int wait_for_app = 0;
  // ls
  std::string status;
  int limit = 0;
  // exec
  int timeout_s = 0;
  std::string workdir;
  // logs
  int tail = 0;
  // task
  std::string agent, model, prompt, prompt_file;
  bool checkpoint = false, follow = false;
  // files
  std::string output;
  bool append = false;
  // snapshot
  std::string name;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "sandboxd: %s\n", msg.c_str());
  return kUsage;
}

void write_out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

void write_err(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

// The body as it came, ending with a newline.
void print_raw_json(const std::string& body) {
  write_out(body.empty() || body.back() == '\n' ? body : body + "\n");
}

std::string seg(const std::string& s) { return url_encode(s); }

std::string sandbox_path(const std::string& id) { return "/v1/sandboxes/" + seg(id); }

std::string task_path(const std::string& id, const std::string& task) {
  return sandbox_path(id) + "/tasks/" + seg(task);
}

std::string files_target(const std::string& id, const std::string& path) {
  return sandbox_path(id) + "/files?path=" + seg(path);
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

// KEY=VALUE; with `from_env`, a bare KEY takes this process's value of KEY. Errors name
// the key at most, never a value (values may be secrets).
Result<std::pair<std::string, std::string>> key_value(const std::string& item, bool from_env,
                                                      const char* what) {
  auto eq = item.find('=');
  if (eq == 0)
    return Status(Code::kInvalidArgument, std::string(what) + ": an item has an empty KEY");
  if (eq != std::string::npos) return std::pair{item.substr(0, eq), item.substr(eq + 1)};
  if (!from_env)
    return Status(Code::kInvalidArgument,
                  std::string(what) + ": expected KEY=VALUE, got '" + item + "'");
  const char* v = std::getenv(item.c_str());
  if (v == nullptr)
    return Status(Code::kInvalidArgument,
                  std::string(what) + " " + item + ": not set in this environment (use KEY=VALUE)");
  return std::pair{item, std::string(v)};
}

// Sets body[field] to an object of the KEY=VALUE `items` with null for each `unset` KEY,
// unless that is empty. `option` names the flag in errors; `from_env` as key_value.
Status put_pairs(json& body, const char* field, const std::vector<std::string>& items,
                 const std::vector<std::string>& unset, bool from_env, const char* option) {
  json pairs = json::object();
  for (const auto& item : items) {
    auto kv = key_value(item, from_env, option);
    if (!kv) return kv.error();
    pairs[kv->first] = kv->second;
  }
  for (const auto& key : unset) pairs[key] = nullptr;
  if (!pairs.empty()) body[field] = std::move(pairs);
  return {};
}

// body["env"] from --env and --unset-env.
Status put_env(json& body, const Options& o) {
  return put_pairs(body, "env", o.env, o.unset_env, true, "--env");
}

// body["metadata"] from --metadata and --unset-metadata.
Status put_metadata(json& body, const Options& o) {
  return put_pairs(body, "metadata", o.metadata, o.unset_metadata, false, "--metadata");
}

// The limits create and patch share.
void put_limits(json& body, const Options& o) {
  if (!o.idle_policy.empty()) body["idle_policy"] = o.idle_policy;
  if (!o.memory.empty()) body["memory"] = o.memory;
  if (!o.cpus.empty()) body["cpus"] = o.cpus;
  if (o.pids_limit >= 0) body["pids_limit"] = o.pids_limit;
  if (o.nofile >= 0) body["nofile"] = o.nofile;
}

// Runs `fn` with the API client of this command and returns its exit code; a
// configuration error is printed and is kUsage.
int with_api(const Options& o, const std::function<int(ApiClient&)>& fn) {
  auto config = load_client_config(o.env_file);
  if (!config) return usage_error("configuration: " + config.error().message());
  ApiClient api(std::move(*config));
  return fn(api);
}

void print_call_error(const Status& s) { write_err("sandboxd: " + s.message() + "\n"); }

void print_api_error(const ApiClient& api, const HttpAnswer& a) {
  write_err("sandboxd: " + describe_api_error(a) + "\n");
  if (a.status == 401 && !api.config().note.empty())
    write_err("sandboxd: hint: " + api.config().note + "\n");
}

// Sends `req`; a 2xx answer comes back, anything else is printed and is nullopt.
std::optional<HttpAnswer> call(ApiClient& api, const Request& req) {
  auto a = api.send(req);
  if (!a) {
    print_call_error(a.error());
    return std::nullopt;
  }
  if (!is_2xx(a->status)) {
    print_api_error(api, *a);
    return std::nullopt;
  }
  return std::move(*a);
}

Request json_request(const std::string& method, const std::string& target, const json& body) {
  return Request{method, target, compact_json(body), "application/json"};
}

// The answer's JSON object; anything else is printed and is nullopt.
std::optional<json> parse_body(const HttpAnswer& a) {
  json j = json::parse(a.body, nullptr, false);
  if (!j.is_object()) {
    write_err("sandboxd: the API answered something that is not a JSON object (HTTP " +
              std::to_string(a.status) + ")\n");
    return std::nullopt;
  }
  return j;
}

// What a command prints of an answer's JSON object without --json.
using View = std::function<std::string(const json&)>;

// Prints a 2xx answer: with --json its body as it came, else `view` of its JSON object.
// 0, or kFailed (printed) when the body is not a JSON object.
int print_answer(const HttpAnswer& a, const Options& o, const View& view) {
  if (o.json) {
    print_raw_json(a.body);
    return 0;
  }
  auto j = parse_body(a);
  if (!j) return kFailed;
  write_out(view(*j));
  return 0;
}

// Sends `req` with this command's client and prints the 2xx answer (print_answer): 0, 1
// when the API refuses or cannot be reached, 2 for a configuration error.
int call_and_print(const Options& o, const Request& req, const View& view) {
  return with_api(o, [&](ApiClient& api) {
    auto a = call(api, req);
    return a ? print_answer(*a, o, view) : kFailed;
  });
}

// Sends `req` and writes the 2xx answer's body to stdout as it came; exit codes as
// call_and_print.
int call_and_write_body(const Options& o, const Request& req) {
  return with_api(o, [&](ApiClient& api) {
    auto a = call(api, req);
    if (!a) return kFailed;
    write_out(a->body);
    return 0;
  });
}

std::string id_line(const json& object) { return terminal_safe(object.value("id", "")) + "\n"; }

std::string id_lines(const json& objects) {
  std::string out;
  for (const auto& object : objects) out += id_line(object);
  return out;
}

// A sandbox: its id with --quiet, else its fields.
View sandbox_view(const Options& o) {
  return
      [quiet = o.quiet](const json& s) { return quiet ? id_line(s) : format_sandbox(s, now_ms()); };
}

int run_create(const Options& o) {
  json body = json::object();
  if (!o.id.empty()) body["id"] = o.id;
  if (!o.ports.empty()) body["ports"] = o.ports;
  if (auto s = put_env(body, o); !s.is_ok()) return usage_error(s.message());
  if (auto s = put_metadata(body, o); !s.is_ok()) return usage_error(s.message());
  put_limits(body, o);
  if (!o.disk.empty()) body["disk"] = o.disk;
  if (!o.egress.empty()) body["egress"] = o.egress;
  if (!o.runtime.empty()) body["runtime"] = o.runtime;
  if (!o.snapshot.empty()) body["snapshot"] = o.snapshot;
  if (o.wait_for_app > 0) body["wait_for_app"] = o.wait_for_app;
  return call_and_print(o, json_request("POST", "/v1/sandboxes", body), sandbox_view(o));
}

int run_ls(const Options& o) {
  std::string query;
  if (!o.status.empty()) query += "&status=" + seg(o.status);
  for (const auto& item : o.metadata) {
    auto kv = key_value(item, false, "--metadata");
    if (!kv) return usage_error(kv.error().message());
    query += "&metadata." + seg(kv->first) + "=" + seg(kv->second);
  }
  return with_api(o, [&](ApiClient& api) {
    // Every page, unless --limit asks for one.
    json all = json::array();
    json next = nullptr;
    std::string after;
    for (;;) {
      std::string target =
          "/v1/sandboxes?limit=" + std::to_string(o.limit > 0 ? o.limit : kListPage) + query;
      if (!after.empty()) target += "&after=" + seg(after);
      auto a = call(api, Request{"GET", target});
      if (!a) return kFailed;
      auto page = parse_body(*a);
      if (!page) return kFailed;
      if (page->contains("sandboxes") && (*page)["sandboxes"].is_array())
        for (auto& s : (*page)["sandboxes"]) all.push_back(std::move(s));
      next = page->value("next_after", json(nullptr));
      if (o.limit > 0 || !next.is_string() || next.get<std::string>().empty()) break;
      after = next.get<std::string>();
    }
    if (o.json)
      write_out(
          compact_json({{"sandboxes", all}, {"next_after", o.limit > 0 ? next : json(nullptr)}}) +
          "\n");
    else
      write_out(o.quiet ? id_lines(all) : format_sandbox_list(all, now_ms()));
    return 0;
  });
}

int run_get(const Options& o) {
  return call_and_print(o, Request{"GET", sandbox_path(o.id)}, sandbox_view(o));
}

// The command's output on stdout and stderr (or, with --json, the API's answer), and its
// exit code as ours: kExecTimedOut when it timed out, kFailed when it has none in 0-255.
int run_exec(const Options& o, const std::vector<std::string>& cmd) {
  if (cmd.empty())
    return usage_error("exec: no command given (sandboxd exec ID [--] CMD [ARG...])");
  json body = {{"cmd", cmd}};
  if (o.timeout_s > 0) body["timeout_s"] = o.timeout_s;
  if (!o.workdir.empty()) body["workdir"] = o.workdir;
  if (auto s = put_env(body, o); !s.is_ok()) return usage_error(s.message());
  return with_api(o, [&](ApiClient& api) {
    Request req = json_request("POST", sandbox_path(o.id) + "/exec", body);
    // Its timeout and a margin; without one the server's default applies (300 s unless
    // SANDBOXD_EXEC_DEFAULT_TIMEOUT_SECONDS says otherwise): wait up to an hour for it.
    req.read_timeout_s = (o.timeout_s > 0 ? o.timeout_s : 3600) + 60;
    auto a = call(api, req);
    if (!a) return kFailed;
    auto j = parse_body(*a);
    if (!j) return kFailed;
    if (o.json) {
      print_raw_json(a->body);
    } else {
      write_out(j->value("stdout", ""));
      write_err(j->value("stderr", ""));
      if (j->value("truncated", false))
        write_err("sandboxd: the output was cut (over the API's limit per stream)\n");
    }
    if (j->value("timed_out", false)) {
      if (!o.json) write_err("sandboxd: the command timed out\n");
      return kExecTimedOut;
    }
    int code = j->value("exit_code", -1);
    return code >= 0 && code <= 255 ? code : kFailed;
  });
}

int run_logs(const Options& o) {
  std::string target = sandbox_path(o.id) + "/logs";
  if (o.tail > 0) target += "?tail=" + std::to_string(o.tail);
  return call_and_write_body(o, Request{"GET", target});
}

// GET /readyz: 0 when sandboxd is ready (the Compose healthcheck runs it), else 1 with
// the reason on stderr.
int run_ready(const Options& o) { return call_and_write_body(o, Request{"GET", "/readyz"}); }

// Runs `one` for each id, each even when one before failed; 1 when any failed.
int for_each_id(const Options& o, const std::function<bool(ApiClient&, const std::string&)>& one) {
  return with_api(o, [&](ApiClient& api) {
    int rc = 0;
    for (const auto& id : o.ids)
      if (!one(api, id)) rc = kFailed;
    return rc;
  });
}

// POST .../stop or .../start for each id; prints "ID  STATUS" (or the JSON).
int run_stop_start(const Options& o, const std::string& verb) {
  return for_each_id(o, [&](ApiClient& api, const std::string& id) {
    std::string target = sandbox_path(id) + "/" + verb;
    if (verb == "start" && o.wait_for_app > 0)
      target += "?wait_for_app=" + std::to_string(o.wait_for_app);
    auto a = call(api, Request{"POST", target});
    return a && print_answer(*a, o, [&](const json& s) {
                  return terminal_safe(s.value("id", id)) + "  " +
                         terminal_safe(s.value("status", "")) + "\n";
                }) == 0;
  });
}

int run_rm(const Options& o) {
  return for_each_id(o, [&](ApiClient& api, const std::string& id) {
    if (!call(api, Request{"DELETE", sandbox_path(id)})) return false;
    if (!o.quiet) write_out("removed " + terminal_safe(id) + "\n");
    return true;
  });
}

int run_purge(const Options& o) {
  return for_each_id(o, [&](ApiClient& api, const std::string& id) {
    auto a = call(api, Request{"POST", sandbox_path(id) + "/purge"});
    return a && print_answer(*a, o, [&](const json& p) {
                  return "purged " + terminal_safe(id) + " (freed " +
                         format_bytes(p.value("freed_bytes", int64_t{0})) + ")\n";
                }) == 0;
  });
}

bool is_terminal_task_status(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "cancelled";
}

// An SSE id as an event id, if it is one.
std::optional<int64_t> event_id(const std::string& id) {
  if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(id);
}

// Prints one task event: with `as_json` as a line {"id", "event", "data"}, else readable
// (format_task_event) on stdout and stderr.
void print_event(int64_t id, const std::string& event, const json& data, bool as_json) {
  if (as_json) {
    write_out(compact_json({{"id", id}, {"event", event}, {"data", data}}) + "\n");
    return;
  }
  EventText text = format_task_event(event, data.is_object() ? data : json::object());
  write_out(text.out);
  write_err(text.err);
}

// Streams a task's events until its `done`, printing each (print_event). A stream that
// breaks or ends early is resumed after the last event id seen (Last-Event-ID), so no
// event is printed twice or lost. When a stream ends without `done` and the task is over
// (the stream resumed past its `done`, or its sandbox was purged), the task object is
// printed as the `done` event. 0 when the task succeeded; 1 when it did not, the API
// refused, or kMaxStreamFailures streams in a row brought no event.
int follow_task(ApiClient& api, const std::string& id, const std::string& task, bool as_json) {
  int64_t last = 0;
  int failures = 0;
  for (;;) {
    SseParser parser;
    std::optional<json> done;
    bool got_event = false;
    Request req{"GET", task_path(id, task) + "/events"};
    req.read_timeout_s = kStreamReadTimeoutS;
    req.headers.emplace_back("Accept", "text/event-stream");
    if (last > 0) req.headers.emplace_back("Last-Event-ID", std::to_string(last));
    auto a = api.stream(req, [&](std::string_view bytes) {
      for (auto& e : parser.feed(bytes)) {
        if (auto n = event_id(e.id)) {
          if (*n <= last) continue;  // never twice, whatever the server sends
          last = *n;
        }
        got_event = true;
        json data = json::parse(e.data, nullptr, false);
        if (data.is_discarded()) data = e.data;
        print_event(last, e.event, data, as_json);
        if (e.event == "done") {
          done = std::move(data);
          return false;
        }
      }
      return true;
    });
    if (done) return done->is_object() && done->value("status", "") == "succeeded" ? 0 : kFailed;
    if (a && !is_2xx(a->status) && a->status != 503) {  // 503: too many streams, retried
      print_api_error(api, *a);
      return kFailed;
    }
    failures = got_event ? 0 : failures + 1;
    if (failures > kMaxStreamFailures) {
      if (!a)
        print_call_error(a.error());
      else if (!is_2xx(a->status))
        print_api_error(api, *a);
      else
        write_err("sandboxd: the task's event stream kept ending without events\n");
      return kFailed;
    }
    if (auto t = api.send(Request{"GET", task_path(id, task)}); t && t->status == 200) {
      json tj = json::parse(t->body, nullptr, false);
      std::string status = tj.is_object() ? tj.value("status", "") : "";
      if (is_terminal_task_status(status)) {
        print_event(last, "done", tj, as_json);
        return status == "succeeded" ? 0 : kFailed;
      }
    }
    if (!got_event) std::this_thread::sleep_for(std::chrono::seconds(1));  // backoff
  }
}

Result<std::string> read_all(std::FILE* f, const std::string& name) {
  std::string data;
  char buf[65536];
  for (;;) {
    std::size_t n = std::fread(buf, 1, sizeof buf, f);
    data.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(f)) return Status(Code::kInvalidArgument, "cannot read " + name);
  return data;
}

// The bytes of the local file `path` ("-": stdin).
Result<std::string> read_file(const std::string& path) {
  if (path == "-") return read_all(stdin, "stdin");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status(Code::kInvalidArgument, "cannot open " + path);
  auto data = read_all(f, path);
  std::fclose(f);
  return data;
}

// The prompt: --prompt, else --prompt-file, else stdin when it is not a terminal.
Result<std::string> task_prompt(const Options& o) {
  if (!o.prompt_file.empty()) {
    if (!o.prompt.empty())
      return Status(Code::kInvalidArgument, "task run: give --prompt or --prompt-file, not both");
    return read_file(o.prompt_file);
  }
  if (!o.prompt.empty()) return o.prompt;
  if (::isatty(STDIN_FILENO))
    return Status(Code::kInvalidArgument,
                  "task run: no prompt (--prompt TEXT, --prompt-file FILE, or stdin)");
  return read_all(stdin, "stdin");
}

// Starts a task and prints it; with --follow, then follows it (follow_task's exit code).
int run_task_run(const Options& o) {
  auto prompt = task_prompt(o);
  if (!prompt) return usage_error(prompt.error().message());
  json body = {{"agent", o.agent}, {"prompt", *prompt}};
  if (!o.model.empty()) body["model"] = o.model;
  if (o.timeout_s > 0) body["timeout_s"] = o.timeout_s;
  if (o.checkpoint) body["checkpoint"] = true;
  if (auto s = put_env(body, o); !s.is_ok()) return usage_error(s.message());
  return with_api(o, [&](ApiClient& api) {
    auto a = call(api, json_request("POST", sandbox_path(o.id) + "/tasks", body));
    if (!a) return kFailed;
    auto task = parse_body(*a);
    if (!task) return kFailed;
    const std::string task_id = task->value("id", "");
    if (o.json) {
      print_raw_json(a->body);
    } else if (!o.follow) {
      write_out(format_task(*task));
    } else {
      write_err("sandboxd: task " + terminal_safe(task_id) +
                " started; following its events (Ctrl-C stops following, not the task)\n");
    }
    return o.follow ? follow_task(api, o.id, task_id, o.json) : 0;
  });
}

int run_task_follow(const Options& o) {
  return with_api(o, [&](ApiClient& api) { return follow_task(api, o.id, o.second, o.json); });
}

int run_task_ls(const Options& o) {
  return call_and_print(o, Request{"GET", sandbox_path(o.id) + "/tasks"}, [](const json& j) {
    return format_task_list(j.value("tasks", json::array()), now_ms());
  });
}

int run_task_get(const Options& o) {
  return call_and_print(o, Request{"GET", task_path(o.id, o.second)}, format_task);
}

int run_task_cancel(const Options& o) {
  return call_and_print(o, Request{"POST", task_path(o.id, o.second) + "/cancel"}, format_task);
}

int run_files_get(const Options& o) {
  const Request req{"GET", files_target(o.id, o.second) + "&raw=true"};
  if (o.output.empty() || o.output == "-") return call_and_write_body(o, req);
  return with_api(o, [&](ApiClient& api) {
    auto a = call(api, req);
    if (!a) return kFailed;
    std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
    out.write(a->body.data(), static_cast<std::streamsize>(a->body.size()));
    out.close();
    if (!out) {
      write_err("sandboxd: cannot write " + o.output + "\n");
      return kFailed;
    }
    return 0;
  });
}

int run_files_put(const Options& o) {
  std::string source = o.third.empty() ? "-" : o.third;
  if (source == "-" && ::isatty(STDIN_FILENO))
    return usage_error("files put: give a local FILE, or pipe the content to stdin");
  auto content = read_file(source);
  if (!content) return usage_error(content.error().message());
  std::string target = files_target(o.id, o.second);
  if (o.append) target += "&append=true";
  return call_and_print(o, Request{"PUT", target, *content, "application/octet-stream"},
                        [&](const json& w) {
                          if (o.quiet) return std::string();
                          return (w.value("appended", false) ? "appended " : "wrote ") +
                                 std::to_string(w.value("bytes_written", int64_t{0})) +
                                 " bytes to " + terminal_safe(w.value("path", o.second)) + "\n";
                        });
}

int run_files_ls(const Options& o) {
  const std::string path = o.second.empty() ? "." : o.second;
  return call_and_print(o, Request{"GET", files_target(o.id, path)}, [](const json& node) {
    if (node.value("type", "") == "dir") return format_file_listing(node, now_ms());
    return terminal_safe(node.value("path", "")) + "  " + terminal_safe(node.value("type", "")) +
           "  " + format_bytes(node.value("size", int64_t{0})) + "\n";
  });
}

int run_files_rm(const Options& o) {
  return with_api(o, [&](ApiClient& api) {
    return call(api, Request{"DELETE", files_target(o.id, o.second)}) ? 0 : kFailed;
  });
}

int run_snapshot_create(const Options& o) {
  json body = json::object();
  if (!o.name.empty()) body["name"] = o.name;
  return call_and_print(
      o, json_request("POST", sandbox_path(o.id) + "/snapshots", body), [&](const json& s) {
        return o.quiet ? id_line(s) : format_snapshot_list(json::array({s}), now_ms());
      });
}

int run_snapshot_ls(const Options& o) {
  const std::string target = o.id.empty() ? "/v1/snapshots" : sandbox_path(o.id) + "/snapshots";
  return call_and_print(o, Request{"GET", target}, [&](const json& j) {
    json list = j.value("snapshots", json::array());
    return o.quiet ? id_lines(list) : format_snapshot_list(list, now_ms());
  });
}

int run_snapshot_rm(const Options& o) {
  return for_each_id(o, [&](ApiClient& api, const std::string& snap) {
    if (!call(api, Request{"DELETE", "/v1/snapshots/" + seg(snap)})) return false;
    if (!o.quiet) write_out("removed snapshot " + terminal_safe(snap) + "\n");
    return true;
  });
}

int run_restore(const Options& o) {
  return call_and_print(
      o, json_request("POST", sandbox_path(o.id) + "/restore", json{{"snapshot", o.second}}),
      sandbox_view(o));
}

int run_fork(const Options& o) {
  json body = json::object();
  if (!o.second.empty()) body["id"] = o.second;
  return call_and_print(o, json_request("POST", sandbox_path(o.id) + "/fork", body),
                        sandbox_view(o));
}

int run_patch(const Options& o) {
  if (o.no_ports && !o.ports.empty()) return usage_error("patch: --port and --no-ports conflict");
  json body = json::object();
  if (auto s = put_metadata(body, o); !s.is_ok()) return usage_error(s.message());
  if (auto s = put_env(body, o); !s.is_ok()) return usage_error(s.message());
  if (o.no_ports) body["ports"] = json::array();
  if (!o.ports.empty()) body["ports"] = o.ports;
  put_limits(body, o);
  if (body.empty()) return usage_error("patch: nothing to change (see sandboxd patch --help)");
  return call_and_print(o, json_request("PATCH", sandbox_path(o.id), body), sandbox_view(o));
}

// --- shell completion ----------------------------------------------------------------

// What a command's positionals are, for completion: "id" (a sandbox id), "file" (a local
// file) or "" (anything).
using PositionalKinds = std::map<std::string, std::vector<std::string>>;

// Options whose values come from a fixed set, and those that name a local file.
const std::map<std::string, std::string>& option_choices() {
  static const std::map<std::string, std::string> kChoices = {
      {"--idle-policy", "sleep always_on"},
      {"--egress", "public none"},
      {"--runtime", "runc gvisor"},
      {"--agent", "opencode claude"},
      {"--status", "creating starting running frozen stopping stopped error deleting"}};
  return kChoices;
}
const std::set<std::string>& file_options() {
  static const std::set<std::string> kFiles = {"--env-file", "--prompt-file", "-o", "--output"};
  return kFiles;
}

std::vector<const CLI::App*> children(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

std::string shell_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

void completion_cases(const CLI::App& app, const std::string& path, const PositionalKinds& kinds,
                      std::string& paths, std::string& cases, std::set<std::string>& value_opts) {
  std::vector<std::string> words;
  for (const CLI::App* sub : children(app)) {
    words.push_back(sub->get_name());
    for (const auto& alias : sub->get_aliases()) words.push_back(alias);
  }
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) {
      words.push_back("--" + l);
      if (opt->get_expected_max() != 0) value_opts.insert("--" + l);
    }
    for (const auto& s : opt->get_snames()) {
      words.push_back("-" + s);
      if (opt->get_expected_max() != 0) value_opts.insert("-" + s);
    }
  }
  std::string kind_list;
  if (auto it = kinds.find(path); it != kinds.end()) kind_list = shell_words(it->second);
  cases += "    \"" + path + "\") words=\"" + shell_words(words) + "\"; kinds=\"" + kind_list +
           "\" ;;\n";
  for (const CLI::App* sub : children(app)) {
    std::vector<std::string> names = {sub->get_name()};
    for (const auto& alias : sub->get_aliases()) names.push_back(alias);
    for (const auto& n : names) {
      const std::string sub_path = path + " " + n;
      paths += (paths.empty() ? "" : "|") + std::string("\"") + sub_path + "\"";
      completion_cases(*sub, sub_path, kinds, paths, cases, value_opts);
    }
  }
}

// A bash completion script for every command and flag of `root`.
std::string bash_completion(const CLI::App& root, const PositionalKinds& kinds) {
  std::string paths, cases;
  std::set<std::string> value_opts;
  completion_cases(root, "", kinds, paths, cases, value_opts);
  std::string choices;
  for (const auto& [opt, words] : option_choices())
    choices +=
        "    " + opt + ") COMPREPLY=($(compgen -W \"" + words + "\" -- \"$cur\")); return ;;\n";
  std::string files;
  for (const auto& f : file_options()) files += (files.empty() ? "" : "|") + f;
  std::string values, all_values;  // options with free values; every option with a value
  for (const auto& v : value_opts) {
    all_values += (all_values.empty() ? "" : "|") + v;
    if (!option_choices().count(v) && !file_options().count(v))
      values += (values.empty() ? "" : "|") + v;
  }
  std::string script = R"SH(# bash completion for sandboxd; generated by `sandboxd completion bash`.
# Load it with: source <(sandboxd completion bash)
# or install it: sandboxd completion bash > /etc/bash_completion.d/sandboxd
_sandboxd() {
  local cur prev path i w words kinds n=0
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case "$path $w" in
      @PATHS@) path="$path $w"; n=0 ;;
      -*) ;;
      *) case "${COMP_WORDS[i-1]}" in @ALL_VALUES@) ;; *) n=$((n + 1)) ;; esac ;;
    esac
  done
  case "$prev" in
@CHOICES@    @FILES@) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    @VALUES@) return ;;
  esac
  case "$path" in
@CASES@    *) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return
  fi
  local subs="" kind=""
  for w in $words; do [[ $w == -* ]] || subs="$subs $w"; done
  if [ -n "$subs" ] && [ "$n" = 0 ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return
  fi
  set -- $kinds
  if [ "$n" -lt "$#" ]; then shift "$n"; kind=$1; elif [ "$#" -gt 0 ]; then kind=${!#}; fi
  case "$kind" in
    id) COMPREPLY=($(compgen -W "$(command sandboxd ls -q 2>/dev/null)" -- "$cur")) ;;
    file) COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}
complete -F _sandboxd sandboxd
)SH";
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"@PATHS@", paths},
                                                        {"@ALL_VALUES@", all_values},
                                                        {"@CHOICES@", choices},
                                                        {"@FILES@", files},
                                                        {"@VALUES@", values},
                                                        {"@CASES@", cases}})
    script.replace(script.find(key), key.size(), value);
  return script;
}

// --- wiring --------------------------------------------------------------------------

void common(CLI::App* cmd, Options& o, bool with_json = true) {
  cmd->add_option("--env-file", o.env_file,
                  "KEY=VALUE file for SANDBOXD_URL/SANDBOXD_TOKEN (default: $SANDBOXED_ENV_FILE, "
                  "else ./.env when present); the environment overrides it");
  if (with_json) cmd->add_flag("--json", o.json, "print the API's JSON as it is");
}

// One value per occurrence (-e A=1 -e B=2), so a vector option never eats a positional.
void repeatable(CLI::Option* opt) { opt->allow_extra_args(false); }

// The required ID positional: the sandbox.
void sandbox_arg(CLI::App* cmd, Options& o) {
  cmd->add_option("id", o.id, "the sandbox")->required();
}

void limit_options(CLI::App* cmd, Options& o) {
  cmd->add_option("--idle-policy", o.idle_policy, "sleep (stop when idle) or always_on");
  cmd->add_option("--memory", o.memory, "memory limit, e.g. 512m, 2g");
  cmd->add_option("--cpus", o.cpus, "CPU limit, e.g. 1.5");
  cmd->add_option("--pids-limit", o.pids_limit, "most processes at once")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--nofile", o.nofile, "most open files")->check(CLI::NonNegativeNumber);
}

}  // namespace
}  // namespace cli

void add_client_commands(CLI::App& app, std::optional<int>& exit_code) {
  using namespace cli;
  auto o = std::make_shared<Options>();
  auto kinds = std::make_shared<PositionalKinds>();
  // Registers `cmd` to run `fn` when given, with its positionals' kinds for completion.
  auto on_run = [&exit_code, kinds](CLI::App* cmd, const std::string& path,
                                    std::vector<std::string> positional_kinds,
                                    std::function<int()> fn) {
    (*kinds)[path] = std::move(positional_kinds);
    cmd->callback([&exit_code, fn = std::move(fn)] {
      try {
        exit_code = fn();
      } catch (const json::exception& e) {  // a field of an unexpected type
        write_err(std::string("sandboxd: the API's answer is not what this client expects: ") +
                  e.what() + "\n");
        exit_code = kFailed;
      }
    });
  };

  auto* create = app.add_subcommand("create", "create a sandbox (and start it)");
  create->add_option("id", o->id, "its id (1-32 of [a-z0-9]; default: a generated ULID)");
  repeatable(create->add_option("--port,-p", o->ports, "a port to preview (repeatable)"));
  repeatable(
      create->add_option("--env,-e", o->env,
                         "KEY=VALUE in the sandbox's env (repeatable); a bare KEY takes its value "
                         "from this environment"));
  repeatable(create->add_option("--metadata,-m", o->metadata, "KEY=VALUE metadata (repeatable)"));
  limit_options(create, *o);
  create->add_option("--disk", o->disk, "the workspace's size, e.g. 4g (fixed at create)");
  create->add_option("--egress", o->egress, "public (default) or none");
  create->add_option("--runtime", o->runtime, "runc (default) or gvisor");
  create->add_option("--snapshot", o->snapshot, "start from this snapshot or template");
  create
      ->add_option("--wait-for-app", o->wait_for_app,
                   "wait up to this many seconds (1-300) for its app to listen")
      ->check(CLI::Range(1, 300));
  create->add_flag("--quiet,-q", o->quiet, "print only the id");
  common(create, *o);
  on_run(create, " create", {""}, [o] { return run_create(*o); });

  auto* ls = app.add_subcommand("ls", "list the sandboxes");
  ls->add_option("--status", o->status, "only those in this status");
  repeatable(
      ls->add_option("--metadata,-m", o->metadata, "only those with KEY=VALUE (repeatable)"));
  ls->add_option("--limit", o->limit, "one page of at most this many (default: all)")
      ->check(CLI::PositiveNumber);
  ls->add_flag("--quiet,-q", o->quiet, "print only the ids");
  common(ls, *o);
  on_run(ls, " ls", {}, [o] { return run_ls(*o); });

  auto* get = app.add_subcommand("get", "show a sandbox");
  sandbox_arg(get, *o);
  common(get, *o);
  on_run(get, " get", {"id"}, [o] { return run_get(*o); });

  auto* exec = app.add_subcommand(
      "exec", "run a command in a sandbox; its output is ours and its exit code our exit code");
  exec->add_option("--timeout,-t", o->timeout_s, "seconds before it is killed (default 300)")
      ->check(CLI::PositiveNumber);
  exec->add_option("--workdir,-w", o->workdir, "an absolute directory (default ~/workspace/app)");
  repeatable(exec->add_option("--env,-e", o->env,
                              "KEY=VALUE for this command (repeatable; a bare KEY: ours)"));
  common(exec, *o);
  // ID and the command are taken as they are, options of the command included.
  exec->prefix_command();
  exec->footer(
      "Options go before the ID; everything after it is the command, e.g.\n"
      "  sandboxd exec app1 ls -la\n  sandboxd exec -t 60 app1 -- bash -lc 'npm test'");
  on_run(exec, " exec", {"id"}, [o, exec] {
    std::vector<std::string> args = exec->remaining();
    if (args.empty()) return usage_error("exec: no sandbox id (sandboxd exec ID [--] CMD...)");
    Options with_id = *o;
    with_id.id = args.front();
    args.erase(args.begin());
    if (!args.empty() && args.front() == "--") args.erase(args.begin());
    return run_exec(with_id, args);
  });

  auto* logs = app.add_subcommand("logs", "print the dev server's log");
  sandbox_arg(logs, *o);
  logs->add_option("--tail,-n", o->tail, "the last this many bytes")->check(CLI::PositiveNumber);
  common(logs, *o, false);
  on_run(logs, " logs", {"id"}, [o] { return run_logs(*o); });

  auto* ready = app.add_subcommand(
      "ready", "exit 0 when sandboxd answers GET /readyz with ready (a health check)");
  common(ready, *o, false);
  on_run(ready, " ready", {}, [o] { return run_ready(*o); });

  auto* stop = app.add_subcommand("stop", "stop sandboxes (their files stay)");
  stop->add_option("ids", o->ids, "the sandboxes")->required();
  common(stop, *o);
  on_run(stop, " stop", {"id"}, [o] { return run_stop_start(*o, "stop"); });

  auto* start = app.add_subcommand("start", "start stopped sandboxes");
  start->add_option("ids", o->ids, "the sandboxes")->required();
  start
      ->add_option("--wait-for-app", o->wait_for_app,
                   "wait up to this many seconds (1-300) for the app to listen")
      ->check(CLI::Range(1, 300));
  common(start, *o);
  on_run(start, " start", {"id"}, [o] { return run_stop_start(*o, "start"); });

  auto* rm = app.add_subcommand(
      "rm", "delete sandboxes (the workspace stays until purge; creating the id again reuses it)");
  rm->add_option("ids", o->ids, "the sandboxes")->required();
  rm->add_flag("--quiet,-q", o->quiet, "print nothing");
  common(rm, *o, false);
  on_run(rm, " rm", {"id"}, [o] { return run_rm(*o); });

  auto* purge = app.add_subcommand("purge", "delete sandboxes with their workspaces and snapshots");
  purge->add_option("ids", o->ids, "the sandboxes")->required();
  common(purge, *o);
  on_run(purge, " purge", {"id"}, [o] { return run_purge(*o); });

  auto* task = app.add_subcommand("task", "run and follow agent tasks");
  task->require_subcommand(1);
  auto* task_run = task->add_subcommand("run", "start an agent task in a sandbox");
  sandbox_arg(task_run, *o);
  task_run->add_option("--agent,-a", o->agent, "opencode or claude")->required();
  task_run->add_option("--model", o->model, "the agent's model");
  task_run->add_option("--prompt,-p", o->prompt, "the prompt (else --prompt-file, else stdin)");
  task_run->add_option("--prompt-file", o->prompt_file, "read the prompt from FILE (- : stdin)");
  repeatable(task_run->add_option(
      "--env,-e", o->env,
      "KEY=VALUE for the agent, e.g. a model key (repeatable; a bare KEY: ours)"));
  task_run->add_option("--timeout,-t", o->timeout_s, "seconds before the task is stopped")
      ->check(CLI::PositiveNumber);
  task_run->add_flag("--checkpoint", o->checkpoint, "snapshot the workspace first");
  task_run->add_flag("--follow,-f", o->follow,
                     "stream its events until it ends; exit 0 when it succeeded, 1 otherwise");
  common(task_run, *o);
  on_run(task_run, " task run", {"id"}, [o] { return run_task_run(*o); });
  auto* task_ls = task->add_subcommand("ls", "list a sandbox's tasks, newest first");
  sandbox_arg(task_ls, *o);
  common(task_ls, *o);
  on_run(task_ls, " task ls", {"id"}, [o] { return run_task_ls(*o); });
  // The subcommands on ID TASK.
  using Run = int (*)(const Options&);
  for (auto [name, help, run] : std::vector<std::tuple<std::string, std::string, Run>>{
           {"follow", "stream a task's events until it ends", run_task_follow},
           {"get", "show a task", run_task_get},
           {"cancel", "cancel a running task", run_task_cancel}}) {
    auto* cmd = task->add_subcommand(name, help);
    sandbox_arg(cmd, *o);
    cmd->add_option("task", o->second, "the task")->required();
    common(cmd, *o);
    on_run(cmd, " task " + name, {"id", ""}, [o, run = run] { return run(*o); });
  }

  auto* files = app.add_subcommand("files",
                                   "read and write a sandbox's files (paths are relative "
                                   "to /home/sandbox)");
  files->require_subcommand(1);
  auto* files_get = files->add_subcommand("get", "write a file's bytes to stdout or -o FILE");
  sandbox_arg(files_get, *o);
  files_get->add_option("path", o->second, "e.g. workspace/app/server.js")->required();
  files_get->add_option("--output,-o", o->output, "write to this local file instead");
  common(files_get, *o, false);
  on_run(files_get, " files get", {"id", ""}, [o] { return run_files_get(*o); });
  auto* files_put = files->add_subcommand("put", "write a file from a local FILE or stdin");
  sandbox_arg(files_put, *o);
  files_put->add_option("path", o->second, "e.g. workspace/app/server.js")->required();
  files_put->add_option("file", o->third, "the local file (default, or -: stdin)");
  files_put->add_flag("--append", o->append, "append instead of replacing");
  files_put->add_flag("--quiet,-q", o->quiet, "print nothing");
  common(files_put, *o);
  on_run(files_put, " files put", {"id", "", "file"}, [o] { return run_files_put(*o); });
  auto* files_ls = files->add_subcommand("ls", "list a directory");
  sandbox_arg(files_ls, *o);
  files_ls->add_option("path", o->second, "the directory (default: the home)");
  common(files_ls, *o);
  on_run(files_ls, " files ls", {"id", ""}, [o] { return run_files_ls(*o); });
  auto* files_rm = files->add_subcommand("rm", "delete a file or an empty directory");
  sandbox_arg(files_rm, *o);
  files_rm->add_option("path", o->second, "the file")->required();
  common(files_rm, *o, false);
  on_run(files_rm, " files rm", {"id", ""}, [o] { return run_files_rm(*o); });

  auto* snapshot = app.add_subcommand("snapshot", "snapshots of workspaces");
  snapshot->require_subcommand(1);
  auto* snap_create = snapshot->add_subcommand("create", "snapshot a sandbox's workspace");
  sandbox_arg(snap_create, *o);
  snap_create->add_option("--name", o->name, "a name to find it by");
  snap_create->add_flag("--quiet,-q", o->quiet, "print only the snapshot's id");
  common(snap_create, *o);
  on_run(snap_create, " snapshot create", {"id"}, [o] { return run_snapshot_create(*o); });
  auto* snap_ls = snapshot->add_subcommand("ls", "list snapshots and templates (or a sandbox's)");
  snap_ls->add_option("id", o->id, "only this sandbox's");
  snap_ls->add_flag("--quiet,-q", o->quiet, "print only the ids");
  common(snap_ls, *o);
  on_run(snap_ls, " snapshot ls", {"id"}, [o] { return run_snapshot_ls(*o); });
  auto* snap_rm = snapshot->add_subcommand("rm", "delete snapshots");
  snap_rm->add_option("snapshots", o->ids, "snapshot ids or names")->required();
  snap_rm->add_flag("--quiet,-q", o->quiet, "print nothing");
  common(snap_rm, *o, false);
  on_run(snap_rm, " snapshot rm", {""}, [o] { return run_snapshot_rm(*o); });
  auto* snap_restore =
      snapshot->add_subcommand("restore", "replace a sandbox's workspace with a snapshot");
  sandbox_arg(snap_restore, *o);
  snap_restore->add_option("snapshot", o->second, "a snapshot's id or name")->required();
  common(snap_restore, *o);
  on_run(snap_restore, " snapshot restore", {"id", ""}, [o] { return run_restore(*o); });

  auto* fork = app.add_subcommand("fork", "create a sandbox from a copy of another's workspace");
  fork->add_option("id", o->id, "the sandbox to copy")->required();
  fork->add_option("new_id", o->second, "the new sandbox's id (default: generated)");
  fork->add_flag("--quiet,-q", o->quiet, "print only the new id");
  common(fork, *o);
  on_run(fork, " fork", {"id", ""}, [o] { return run_fork(*o); });

  auto* patch = app.add_subcommand(
      "patch", "change a sandbox's metadata, env, ports or limits (limits: on its next start)");
  patch->alias("update");
  sandbox_arg(patch, *o);
  repeatable(patch->add_option("--metadata,-m", o->metadata, "set KEY=VALUE (repeatable)"));
  repeatable(patch->add_option("--unset-metadata", o->unset_metadata, "remove KEY (repeatable)"));
  repeatable(patch->add_option("--env,-e", o->env, "set KEY=VALUE (repeatable; a bare KEY: ours)"));
  repeatable(patch->add_option("--unset-env", o->unset_env, "remove KEY (repeatable)"));
  repeatable(patch->add_option("--port,-p", o->ports,
                               "the ports to preview, replacing them (repeatable)"));
  patch->add_flag("--no-ports", o->no_ports, "preview no port");
  limit_options(patch, *o);
  common(patch, *o);
  on_run(patch, " patch", {"id"}, [o] { return run_patch(*o); });
  (*kinds)[" update"] = {"id"};

  auto* completion = app.add_subcommand("completion", "print a shell completion script");
  auto shell = std::make_shared<std::string>();
  completion->add_option("shell", *shell, "bash")->required();
  completion->callback([&exit_code, &app, shell, kinds] {
    if (*shell != "bash") {
      exit_code = usage_error("completion: only bash is supported");
      return;
    }
    write_out(bash_completion(app, *kinds));
    exit_code = 0;
  });
}

}  // namespace sandboxd
