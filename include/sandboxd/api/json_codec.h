// JSON codec for the REST API: strict decoding of request bodies (an unknown field, a
// wrong type or malformed JSON is kInvalidArgument naming the field; nothing is ignored)
// and encoding of responses.
// Keeps nlohmann/json out of every other header. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/api/content_encoding.h"
#include "sandboxd/base/status.h"
#include "sandboxd/config/config.h"
#include "sandboxd/reaper/idle_reaper.h"
#include "sandboxd/runtime/runtime.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/tasks/task_service.h"

namespace sandboxd {

// `wait_for_app` of a create (true, or seconds) and of a start (?wait_for_app=seconds).
inline constexpr int kDefaultWaitForAppSeconds = 30;
inline constexpr int kMaxWaitForAppSeconds = 300;

Result<CreateRequest> decode_create(const std::string& body);
// PATCH /v1/sandboxes/{id}: metadata and env merge (null removes a key); ports replace;
// idle_policy, memory, cpus, pids_limit, nofile set. disk, id, image, egress and runtime
// are fixed at create: naming one is kInvalidArgument.
Result<PatchRequest> decode_patch(const std::string& body);
// The OpenAPI 3.1 spec of this API (api/openapi.json, embedded at build time).
std::string_view openapi_spec();
// GET /v1/version: {"version","api_version"}.
std::string encode_version();
Result<ExecRequest> decode_exec(const std::string& body);
// Keepalive body: empty, {"seconds":N}, or the original's {"until":<unix seconds>}
// (converted with now_ms). Returns the seconds to hold off the idle reaper, if any.
Result<std::optional<int64_t>> decode_keepalive(const std::string& body, int64_t now_ms);

// The public view of a sandbox: never includes env values or host paths. With `idle`,
// an "idle" object explains when and why the idle reaper will (not) stop it; with
// `usage`, a "usage" object has its disk bytes in use, memory and CPU seconds; with `app`,
// an "app" object has the dev server's state, port, restarts, last exit and log tail.
std::string encode_sandbox(const SandboxRecord& rec, const Config& config,
                           const IdleInfo* idle = nullptr, const SandboxUsage* usage = nullptr,
                           const AppView* app = nullptr);
// A page of sandboxes: a bare array (legacy /sandboxes) or {"sandboxes":[...],"next_after"}.
std::string encode_sandbox_list(const ListResult& page, const Config& config, bool wrapped);
std::string encode_exec(const ExecResult& r);
std::string encode_purge(int64_t freed_bytes);
std::string encode_error(const Status& status, const std::string& request_id);

// POST tasks body: {"prompt", "agent": "opencode"|"claude", "model"?, "timeout_s"?, "env"?}.
Result<TaskRequest> decode_task(const std::string& body);
// A task as the API shows it (never env values): with its events URL.
std::string encode_task(const TaskRecord& task);
std::string encode_task_list(const std::vector<TaskRecord>& tasks);
// A background process as the API shows it (never env values), and a sandbox's list.
std::string encode_process(const ProcessRecord& p);
std::string encode_process_list(const std::vector<ProcessRecord>& procs);

// PUT files body: {"path", "content", "append"?, "encoding"?: "utf8" | "base64"}; the
// content comes back decoded.
struct FilePut {
  std::string path;
  std::string content;
  bool append = false;
};
Result<FilePut> decode_file_put(const std::string& body);
// A directory listing, or a file with its content as UTF-8 text when it is valid UTF-8
// (else base64; "encoding" says which).
std::string encode_file_node(const std::string& path, const FileNode& node);
// The answer to a PUT files: {"path","bytes_written","appended"}.
std::string encode_file_written(const std::string& path, std::size_t bytes, bool appended);

// Snapshots: POST .../snapshots {"name"?} (the name, "" for none); POST .../fork {"id"?};
// POST .../restore {"snapshot"} (required).
Result<std::string> decode_snapshot_create(const std::string& body);
Result<std::optional<std::string>> decode_fork(const std::string& body);
Result<std::string> decode_restore(const std::string& body);
// {id, name, sandbox_id, template, created_at, bytes, files}; a list is {"snapshots":[...]}.
std::string encode_snapshot(const SnapshotRecord& snap);
std::string encode_snapshot_list(const std::vector<SnapshotRecord>& snaps);

}  // namespace sandboxd
