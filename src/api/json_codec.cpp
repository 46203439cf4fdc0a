#include "sandboxd/api/json_codec.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/json_dump.h"
#include "sandboxd/base/text.h"
#include "sandboxd/os/clock.h"

namespace sandboxd {
namespace {

using nlohmann::json;

Status invalid(const std::string& msg) { return Status(Code::kInvalidArgument, msg); }

// Parses body as a JSON object (an empty body is {} when allow_empty) whose keys are all
// in `fields`: every body decoder is strict, so a misspelt field is a 400 naming it
// rather than a silently ignored option.
Result<json> parse_object(const std::string& body, bool allow_empty,
                          std::initializer_list<const char*> fields) {
  bool blank = body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) {
    if (allow_empty) return json::object();
    return invalid("request body must be a JSON object");
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid("malformed JSON in request body");
  if (!j.is_object()) return invalid("request body must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    std::string list;
    for (const char* f : fields) {
      known |= it.key() == f;
      list.append(list.empty() ? "" : ", ").append(f);
    }
    if (!known) return invalid(printable(it.key(), 64) + ": unknown field (known: " + list + ")");
  }
  return j;
}

Result<int64_t> get_int(const json& j, const std::string& field) {
  if (!j.is_number_integer()) return invalid(field + ": must be an integer");
  if (j.is_number_unsigned() &&
      j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return invalid(field + ": out of range");
  }
  return j.get<int64_t>();
}

Result<std::string> get_string(const json& j, const std::string& field) {
  if (!j.is_string()) return invalid(field + ": must be a string");
  return j.get<std::string>();
}

// The domain word in j[field] (absent or null: nullopt), kInvalidArgument naming `words`
// for any other value.
template <class E>
Result<std::optional<E>> get_word(const json& j, const std::string& field,
                                  std::optional<E> (*parse)(std::string_view),
                                  const std::string& words) {
  if (!j.contains(field) || j[field].is_null()) return std::optional<E>();
  auto s = get_string(j[field], field);
  if (!s) return s.error();
  auto e = parse(*s);
  if (!e) return invalid(field + ": must be " + words);
  return e;
}

Result<std::map<std::string, std::string>> get_env(const json& j, const std::string& field) {
  if (!j.is_object()) return invalid(field + ": must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return invalid(field + "." + k.substr(0, 64) + ": must be a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

json opt_time(int64_t ms) { return ms > 0 ? json(format_rfc3339(ms)) : json(nullptr); }

std::string preview_url(const Config& c, const std::string& id, int port) {
  // Appended piecewise: GCC 12 at -O3 misreports `"literal" + std::string` chains.
  std::string url = c.preview_tls ? "https://s-" : "http://s-";
  url.append(id).append("-").append(std::to_string(port)).append(".preview.");
  url.append(c.preview_domain);
  int port_used = c.preview_tls ? c.https_port : c.http_port;
  if (port_used != (c.preview_tls ? 443 : 80)) url.append(":").append(std::to_string(port_used));
  url.append("/");
  return url;
}

json usage_json(const SandboxUsage& u) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  return {
      {"disk_used_bytes", opt(u.disk_used_bytes)},
      {"memory_bytes", opt(u.container.memory_bytes)},
      {"cpu_seconds", u.container.cpu_usec ? json(static_cast<double>(*u.container.cpu_usec) / 1e6)
                                           : json(nullptr)}};
}

json sandbox_json(const SandboxRecord& r, const Config& c) {
  json previews = json::array();
  for (int p : r.ports) previews.push_back({{"port", p}, {"url", preview_url(c, r.id, p)}});
  json env_keys = json::array();
  for (const auto& [k, v] : r.env) env_keys.push_back(k);
  json j = {
      {"id", r.id},
      {"status", to_string(r.status)},
      {"image", r.image},
      {"container_name", r.container_name},
      {"container_id", r.container_id.empty() ? json(nullptr) : json(r.container_id)},
      {"ports", r.ports},
      {"previews", previews},
      {"env_keys", env_keys},
      {"idle_policy", to_string(r.idle_policy)},
      {"limits",
       {{"memory_bytes", r.limits.memory_bytes},
        {"pids", r.limits.pids},
        {"nofile", r.limits.nofile},
        {"disk_bytes", r.limits.disk_bytes},
        {"cpus", static_cast<double>(r.limits.cpu_millis) / 1000.0}}},
      {"egress", to_string(r.egress)},
      {"runtime", to_string(r.isolation)},
      {"uid", r.uid},
      {"created_at", opt_time(r.created_at)},
      {"updated_at", opt_time(r.updated_at)},
      {"started_at", opt_time(r.started_at)},
      {"stopped_at", opt_time(r.stopped_at)},
      {"last_active_at", opt_time(r.last_active_at)},
      {"last_active_source",
       r.last_active_source ? json(to_string(*r.last_active_source)) : json(nullptr)},
      {"keepalive_until", opt_time(r.keepalive_until)},
  };
  if (!r.error_message.empty()) j["error_message"] = r.error_message;
  j["stop_reason"] = r.stop_reason.empty() ? json(nullptr) : json(r.stop_reason);
  j["metadata"] = r.metadata;
  j["pending_restart"] = r.pending_restart;
  return j;
}

// true: kDefaultWaitForAppSeconds; false or null: 0 (no wait).
Result<int> decode_wait_for_app(const json& v) {
  if (v.is_null() || (v.is_boolean() && !v.get<bool>())) return 0;
  if (v.is_boolean()) return kDefaultWaitForAppSeconds;
  if (v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= kMaxWaitForAppSeconds)
    return static_cast<int>(v.get<int64_t>());
  return invalid("wait_for_app: must be true, false or a number of seconds in 1.." +
                 std::to_string(kMaxWaitForAppSeconds));
}

// The fields a create and a PATCH share, from `j` into `req`: ports, idle_policy and
// the limits (memory, disk, cpus, pids_limit, nofile). Absent or null: left as they are.
Status decode_settings(const json& j, CreateRequest& req) {
  if (j.contains("ports") && !j["ports"].is_null()) {
    if (!j["ports"].is_array()) return invalid("ports: must be an array of integers");
    for (const auto& p : j["ports"]) {
      auto n = get_int(p, "ports[]");
      if (!n) return n.error();
      if (*n < 1 || *n > 65535)
        return invalid("ports: " + std::to_string(*n) + " is not in 1..65535");
      req.ports.push_back(static_cast<int>(*n));
    }
  }
  auto policy = get_word(j, "idle_policy", parse_idle_policy, "'sleep' or 'always_on'");
  if (!policy) return policy.error();
  req.idle_policy = policy->value_or(req.idle_policy);
  for (const char* field : {"memory", "disk"}) {
    if (!j.contains(field) || j[field].is_null()) continue;
    const json& m = j[field];
    auto& out = std::string(field) == "memory" ? req.memory_bytes : req.disk_bytes;
    if (m.is_string()) {
      auto bytes = parse_size(m.get<std::string>());
      if (!bytes) return invalid(std::string(field) + ": " + bytes.error().message());
      out = *bytes;
    } else {
      auto n = get_int(m, field);
      if (!n)
        return invalid(std::string(field) +
                       ": must be a size string like \"1g\" or a number of bytes");
      out = *n;
    }
  }
  if (j.contains("cpus") && !j["cpus"].is_null()) {
    // A number (1.5) or its text ("1.5"), in thousandths at most; bounds in validation.
    const json& c = j["cpus"];
    if (c.is_string()) {
      auto millis = parse_cpus(c.get<std::string>());
      if (!millis) return invalid("cpus: " + millis.error().message());
      req.cpu_millis = *millis;
    } else {
      double d = c.is_number() ? c.get<double>() : -1;
      if (!(d >= 0 && d < 1e6) || std::abs(d * 1000 - std::round(d * 1000)) > 1e-6)
        return invalid("cpus: must be a number of CPUs like 1.5 (at most three decimals)");
      req.cpu_millis = std::llround(d * 1000);
    }
  }
  for (const char* field : {"pids_limit", "nofile"}) {
    if (!j.contains(field) || j[field].is_null()) continue;
    auto n = get_int(j[field], field);
    if (!n) return n.error();
    (std::string(field) == "nofile" ? req.nofile : req.pids) = *n;
  }
  return {};
}

// A PATCH's merge object: a key with a string sets it, a key with null removes it.
Result<PatchRequest::Merge> get_merge(const json& j, const std::string& field) {
  if (!j.is_object()) return invalid(field + ": must be an object of strings (null removes a key)");
  PatchRequest::Merge out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_null()) {
      out[k] = std::nullopt;
      continue;
    }
    if (!v.is_string())
      return invalid(field + "." + printable(k, 64) + ": must be a string or null");
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

Result<CreateRequest> decode_create(const std::string& body) {
  auto parsed =
      parse_object(body, /*allow_empty=*/true,
                   {"id", "ports", "env", "idle_policy", "memory", "pids_limit", "nofile", "disk",
                    "cpus", "egress", "runtime", "snapshot", "wait_for_app", "metadata"});
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  CreateRequest req;
  if (j.contains("id") && !j["id"].is_null()) {
    auto s = get_string(j["id"], "id");
    if (!s) return s.error();
    req.id = *s;
  }
  if (j.contains("env") && !j["env"].is_null()) {
    auto env = get_env(j["env"], "env");
    if (!env) return env.error();
    req.env = std::move(*env);
  }
  if (j.contains("metadata") && !j["metadata"].is_null()) {
    auto metadata = get_env(j["metadata"], "metadata");
    if (!metadata) return metadata.error();
    req.metadata = std::move(*metadata);
  }
  if (auto s = decode_settings(j, req); !s.is_ok()) return s;
  auto egress = get_word(j, "egress", parse_egress, "'public' or 'none'");
  if (!egress) return egress.error();
  req.egress = *egress;
  auto runtime = get_word(j, "runtime", parse_isolation, "'runc' or 'gvisor'");
  if (!runtime) return runtime.error();
  req.isolation = *runtime;
  if (j.contains("snapshot") && !j["snapshot"].is_null()) {
    auto s = get_string(j["snapshot"], "snapshot");
    if (!s) return s.error();
    req.snapshot = *s;
  }
  auto wait = decode_wait_for_app(j.value("wait_for_app", json(nullptr)));
  if (!wait) return wait.error();
  req.wait_for_app_s = *wait;
  return req;
}

Result<PatchRequest> decode_patch(const std::string& body) {
  auto parsed = parse_object(body, /*allow_empty=*/false,
                             {"metadata", "env", "ports", "idle_policy", "memory", "cpus",
                              "pids_limit", "nofile", "disk", "id", "image", "egress", "runtime"});
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  for (const char* fixed : {"disk", "id", "image", "egress", "runtime"})
    if (j.contains(fixed))
      return invalid(std::string(fixed) +
                     ": cannot be changed after create (fork the sandbox into a new one)");
  CreateRequest settings;
  if (auto s = decode_settings(j, settings); !s.is_ok()) return s;
  PatchRequest req;
  if (j.contains("ports") && !j["ports"].is_null()) req.ports = settings.ports;
  if (j.contains("idle_policy") && !j["idle_policy"].is_null())
    req.idle_policy = settings.idle_policy;
  req.memory_bytes = settings.memory_bytes;
  req.cpu_millis = settings.cpu_millis;
  req.pids = settings.pids;
  req.nofile = settings.nofile;
  for (const char* field : {"metadata", "env"}) {
    if (!j.contains(field) || j[field].is_null()) continue;
    auto merge = get_merge(j[field], field);
    if (!merge) return merge.error();
    (std::string(field) == "env" ? req.env : req.metadata) = std::move(*merge);
  }
  return req;
}

std::string encode_version() {
  return dump_json({{"version", SANDBOXD_VERSION}, {"api_version", "v1"}});
}

Result<ExecRequest> decode_exec(const std::string& body) {
  auto parsed = parse_object(body, /*allow_empty=*/false,
                             {"cmd", "timeout_s", "env", "workdir", "background"});
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  ExecRequest req;
  if (!j.contains("cmd") || !j["cmd"].is_array() || j["cmd"].empty()) {
    return invalid("cmd: must be a non-empty array of strings");
  }
  for (const auto& a : j["cmd"]) {
    if (!a.is_string()) return invalid("cmd: must be a non-empty array of strings");
    req.cmd.push_back(a.get<std::string>());
  }
  if (j.contains("timeout_s") && !j["timeout_s"].is_null()) {
    auto n = get_int(j["timeout_s"], "timeout_s");
    if (!n) return n.error();
    if (*n < 1 || *n > std::numeric_limits<int>::max())
      return invalid("timeout_s: must be a positive integer");
    req.timeout_s = static_cast<int>(*n);
  }
  if (j.contains("env") && !j["env"].is_null()) {
    auto env = get_env(j["env"], "env");
    if (!env) return env.error();
    req.env = std::move(*env);
  }
  if (j.contains("workdir") && !j["workdir"].is_null()) {
    auto s = get_string(j["workdir"], "workdir");
    if (!s) return s.error();
    req.workdir = *s;
  }
  if (j.contains("background") && !j["background"].is_null()) {
    if (!j["background"].is_boolean()) return invalid("background: must be a boolean");
    req.background = j["background"].get<bool>();
  }
  return req;
}

Result<std::optional<int64_t>> decode_keepalive(const std::string& body, int64_t now_ms) {
  auto parsed = parse_object(body, /*allow_empty=*/true, {"seconds", "until"});
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  if (j.contains("seconds") && !j["seconds"].is_null()) {
    auto n = get_int(j["seconds"], "seconds");
    if (!n) return n.error();
    if (*n < 0) return invalid("seconds: must not be negative");
    return std::optional<int64_t>(*n);
  }
  if (j.contains("until") && !j["until"].is_null()) {
    auto n = get_int(j["until"], "until");
    if (!n) return n.error();
    if (*n <= now_ms / 1000) return invalid("until: must be in the future");
    return std::optional<int64_t>(*n - now_ms / 1000);
  }
  return std::optional<int64_t>();
}

json app_json(const AppView& v) {
  const AppState& a = v.state;
  json last_exit = a.exit_code     ? json{{"code", *a.exit_code}}
                   : a.exit_signal ? json{{"signal", *a.exit_signal}}
                                   : json(nullptr);
  return {{"state", a.state},
          {"port", a.port > 0 ? json(a.port) : json(nullptr)},
          {"restarts", a.restarts},
          {"started_at", opt_time(a.started_at)},
          {"last_exit", last_exit},
          {"last_exit_at", opt_time(a.last_exit_at)},
          {"reason", a.reason.empty() ? json(nullptr) : json(a.reason)},
          {"updated_at", opt_time(a.updated_at)},
          {"log_tail", v.log_tail}};
}

std::string encode_sandbox(const SandboxRecord& rec, const Config& config, const IdleInfo* idle,
                           const SandboxUsage* usage, const AppView* app) {
  json j = sandbox_json(rec, config);
  if (app) j["app"] = app_json(*app);
  if (usage) j["usage"] = usage_json(*usage);
  if (idle) {
    j["idle"] = {{"threshold_s", idle->threshold_s},
                 {"freezes_at", opt_time(idle->freezes_at_ms)},
                 {"stops_at", opt_time(idle->stops_at_ms)},
                 {"reason", idle->reason}};
  }
  return dump_json(j);
}

std::string encode_sandbox_list(const ListResult& page, const Config& config, bool wrapped) {
  json arr = json::array();
  for (const auto& r : page.sandboxes) arr.push_back(sandbox_json(r, config));
  if (!wrapped) return dump_json(arr);
  return dump_json(
      {{"sandboxes", arr},
       {"next_after", page.next_after.empty() ? json(nullptr) : json(page.next_after)}});
}

std::string encode_exec(const ExecResult& r) {
  return dump_json({{"stdout", r.stdout_data},
                    {"stderr", r.stderr_data},
                    {"exit_code", r.exit_code},
                    {"duration_ms", r.duration_ms},
                    {"timed_out", r.timed_out},
                    {"truncated", r.truncated}});
}

std::string encode_purge(int64_t freed_bytes) {
  return dump_json({{"purged", true}, {"freed_bytes", freed_bytes}});
}

Result<FilePut> decode_file_put(const std::string& body) {
  auto j = parse_object(body, /*allow_empty=*/false, {"path", "content", "append", "encoding"});
  if (!j) return j.error();
  FilePut put;
  if (!j->contains("path") || !(*j)["path"].is_string()) return invalid("path: must be a string");
  put.path = (*j)["path"].get<std::string>();
  if (!j->contains("content") || !(*j)["content"].is_string())
    return invalid("content: must be a string");
  if (j->contains("append")) {
    if (!(*j)["append"].is_boolean()) return invalid("append: must be true or false");
    put.append = (*j)["append"].get<bool>();
  }
  std::string encoding = "utf8";
  if (j->contains("encoding")) {
    if (!(*j)["encoding"].is_string()) return invalid("encoding: must be \"utf8\" or \"base64\"");
    encoding = (*j)["encoding"].get<std::string>();
  }
  if (encoding == "base64") {
    auto bytes = base64_decode((*j)["content"].get<std::string>());
    if (!bytes) return bytes.error();
    put.content = std::move(*bytes);
  } else if (encoding == "utf8") {
    put.content = (*j)["content"].get<std::string>();
  } else {
    return invalid("encoding: must be \"utf8\" or \"base64\"");
  }
  return put;
}

std::string encode_file_node(const std::string& path, const FileNode& node) {
  json j = {{"path", path}, {"type", node.type}, {"modified_at", opt_time(node.mtime_ms)}};
  if (node.type == "dir") {
    json entries = json::array();
    for (const auto& e : node.entries)
      entries.push_back({{"name", e.name},
                         {"type", e.type},
                         {"size", e.size},
                         {"modified_at", opt_time(e.mtime_ms)}});
    j["entries"] = std::move(entries);
    j["truncated"] = node.truncated;
  } else {
    j["size"] = node.size;
    bool text = is_valid_utf8(node.content);
    j["encoding"] = text ? "utf8" : "base64";
    j["content"] = text ? node.content : base64_encode(node.content);
  }
  return dump_json(j);
}

Result<TaskRequest> decode_task(const std::string& body) {
  auto j = parse_object(body, /*allow_empty=*/false,
                        {"prompt", "agent", "model", "timeout_s", "env", "checkpoint"});
  if (!j) return j.error();
  TaskRequest req;
  for (auto it = j->begin(); it != j->end(); ++it) {
    const std::string& k = it.key();
    if (k == "agent") {
      auto agent = it->is_string() ? parse_agent(it->get<std::string>()) : std::nullopt;
      if (!agent) return invalid("agent: must be \"opencode\" or \"claude\"");
      req.agent = *agent;
    } else if (k == "prompt" || k == "model") {
      if (!it->is_string()) return invalid(k + ": must be a string");
      (k == "prompt" ? req.prompt : req.model) = it->get<std::string>();
    } else if (k == "timeout_s") {
      auto n = get_int(*it, "timeout_s");
      if (!n) return n.error();
      if (*n < 1 || *n > std::numeric_limits<int>::max()) return invalid("timeout_s: out of range");
      req.timeout_s = static_cast<int>(*n);
    } else if (k == "checkpoint") {
      if (!it->is_boolean()) return invalid("checkpoint: must be true or false");
      req.checkpoint = it->get<bool>();
    } else {
      auto env = get_env(*it, "env");
      if (!env) return env.error();
      req.env = std::move(*env);
    }
  }
  if (!j->contains("prompt")) return invalid("prompt: required");
  if (!j->contains("agent")) return invalid("agent: required (\"opencode\" or \"claude\")");
  return req;
}

namespace {
json task_json(const TaskRecord& t) {
  json usage = json::parse(t.usage_json, nullptr, false);
  return {{"id", t.id},
          {"sandbox_id", t.sandbox_id},
          {"agent", to_string(t.agent)},
          {"model", t.model},
          {"status", to_string(t.status)},
          {"failure_reason", t.failure_reason == FailureReason::kNone
                                 ? json(nullptr)
                                 : json(to_string(t.failure_reason))},
          {"error", t.error_message.empty() ? json(nullptr) : json(t.error_message)},
          {"final_message", t.final_message},
          {"files_changed", t.files_changed},
          {"usage", usage.is_discarded() ? json::object() : usage},
          {"exit_code", t.exit_code ? json(*t.exit_code) : json(nullptr)},
          {"env_keys", t.env_keys},
          {"checkpoint_id", t.checkpoint_id.empty() ? json(nullptr) : json(t.checkpoint_id)},
          {"timeout_s", t.timeout_s},
          {"cancel_requested", t.cancel_requested},
          {"created_at", opt_time(t.created_at)},
          {"started_at", opt_time(t.started_at)},
          {"finished_at", opt_time(t.finished_at)},
          {"duration_ms", t.finished_at ? json(t.finished_at - t.started_at) : json(nullptr)},
          {"events_url", "/v1/sandboxes/" + t.sandbox_id + "/tasks/" + t.id + "/events"}};
}
}  // namespace

std::string encode_task(const TaskRecord& task) { return dump_json(task_json(task)); }

namespace {
json process_json(const ProcessRecord& p) {
  return {{"id", p.id},
          {"sandbox_id", p.sandbox_id},
          {"cmd", p.cmd},
          {"workdir", p.workdir},
          {"pid", p.os_pid > 0 ? json(p.os_pid) : json(nullptr)},
          {"state", to_string(p.state)},
          {"exit_code", p.exit_code ? json(*p.exit_code) : json(nullptr)},
          {"signal", p.signal ? json(p.signal) : json(nullptr)},
          {"timed_out", p.timed_out},
          {"timeout_s", p.timeout_s ? json(p.timeout_s) : json(nullptr)},
          {"started_at", opt_time(p.started_at)},
          {"ended_at", opt_time(p.ended_at)},
          {"output_url", "/v1/sandboxes/" + p.sandbox_id + "/processes/" + p.id + "/output"}};
}
}  // namespace

std::string encode_process(const ProcessRecord& p) { return dump_json(process_json(p)); }

std::string encode_process_list(const std::vector<ProcessRecord>& procs) {
  json list = json::array();
  for (const auto& p : procs) list.push_back(process_json(p));
  return dump_json({{"processes", list}});
}

Result<std::string> decode_snapshot_create(const std::string& body) {
  auto j = parse_object(body, /*allow_empty=*/true, {"name"});
  if (!j) return j.error();
  if (!j->contains("name") || (*j)["name"].is_null()) return std::string();
  return get_string((*j)["name"], "name");
}

Result<std::optional<std::string>> decode_fork(const std::string& body) {
  auto j = parse_object(body, /*allow_empty=*/true, {"id"});
  if (!j) return j.error();
  if (!j->contains("id") || (*j)["id"].is_null()) return std::optional<std::string>();
  auto id = get_string((*j)["id"], "id");
  if (!id) return id.error();
  return std::optional<std::string>(*id);
}

Result<std::string> decode_restore(const std::string& body) {
  auto j = parse_object(body, /*allow_empty=*/false, {"snapshot"});
  if (!j) return j.error();
  if (!j->contains("snapshot")) return invalid("snapshot: required (a snapshot's id or name)");
  return get_string((*j)["snapshot"], "snapshot");
}

namespace {
json snapshot_json(const SnapshotRecord& s) {
  return {{"id", s.id},
          {"name", s.name.empty() ? json(nullptr) : json(s.name)},
          {"sandbox_id", s.sandbox_id.empty() ? json(nullptr) : json(s.sandbox_id)},
          {"template", s.is_template()},
          {"created_at", opt_time(s.created_at)},
          {"bytes", s.bytes},
          {"files", s.files}};
}
}  // namespace

std::string encode_snapshot(const SnapshotRecord& snap) { return dump_json(snapshot_json(snap)); }

std::string encode_snapshot_list(const std::vector<SnapshotRecord>& snaps) {
  json arr = json::array();
  for (const auto& s : snaps) arr.push_back(snapshot_json(s));
  return dump_json(json{{"snapshots", arr}});
}

std::string encode_task_list(const std::vector<TaskRecord>& tasks) {
  json arr = json::array();
  for (const auto& t : tasks) arr.push_back(task_json(t));
  return dump_json({{"tasks", arr}});
}

std::string encode_file_written(const std::string& path, std::size_t bytes, bool appended) {
  return dump_json({{"path", path}, {"bytes_written", bytes}, {"appended", appended}});
}

std::string encode_error(const Status& status, const std::string& request_id) {
  return dump_json({{"error",
                     {{"code", code_name(status.code())},
                      {"message", status.message()},
                      {"request_id", request_id}}}});
}

}  // namespace sandboxd
