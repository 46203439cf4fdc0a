// What the client commands print for people (without --json): tables of sandboxes,
// snapshots, files and tasks, one sandbox's fields, and the task events as readable
// lines. Pure functions over the API's JSON; every text from the API is made safe for a
// terminal (no control characters, so no escape sequences reach it). Thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandboxd::cli {

using nlohmann::json;

// `j` as one line of JSON; invalid UTF-8 in its strings becomes U+FFFD.
std::string compact_json(const json& j);

// `s` without control characters (C0, DEL, C1): each becomes '?'. With `multiline`,
// newlines and tabs stay; without, they become spaces. Other UTF-8 stays as it is.
std::string terminal_safe(std::string_view s, bool multiline = false);

// Rows (the first is the header) as left-aligned columns two spaces apart; the last
// column is not padded. Cells are made terminal_safe; width counts UTF-8 characters.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// "key:  value" lines with the values aligned; pairs with an empty value are skipped.
std::string format_fields(const std::vector<std::pair<std::string, std::string>>& fields);

// Milliseconds since the epoch of an RFC 3339 UTC time as the API writes it
// ("2025-01-02T03:04:05.678Z", fraction optional); nullopt otherwise.
std::optional<int64_t> parse_rfc3339_ms(std::string_view text);

// How long before `now_ms` the RFC 3339 time `when` (a JSON string, or null) was:
// "42s ago", "5m ago", "3h ago", "2d ago"; "-" for null or unparsable.
std::string age(int64_t now_ms, const json& when);

// A byte count for people: "512 B", "1.5 KiB", "2 GiB".
std::string format_bytes(int64_t bytes);

// The sandboxes of GET /v1/sandboxes: ID STATUS PORTS IDLE ACTIVE LAST STOP (and
// METADATA when any has some), then "N sandbox(es), n1 status1, ...".
std::string format_sandbox_list(const json& sandboxes, int64_t now_ms);

// One sandbox object (GET /v1/sandboxes/{id}) as aligned fields.
std::string format_sandbox(const json& sandbox, int64_t now_ms);

// Snapshot objects: ID NAME SANDBOX SIZE FILES CREATED.
std::string format_snapshot_list(const json& snapshots, int64_t now_ms);

// A directory node of GET .../files: NAME TYPE SIZE MODIFIED (directories end in '/').
std::string format_file_listing(const json& node, int64_t now_ms);

// Task objects: ID STATUS AGENT CREATED DURATION.
std::string format_task_list(const json& tasks, int64_t now_ms);

// One task object (or a `done` event's data) as aligned fields.
std::string format_task(const json& task);

// One task event, readable: `out` for stdout (the agent's text, its tool calls, status
// changes, the successful end), `err` for stderr (errors, a failed end). Either may be
// empty (usage events print nothing). `data` is the event's JSON data.
struct EventText {
  std::string out;
  std::string err;
};
EventText format_task_event(const std::string& type, const json& data);

}  // namespace sandboxd::cli
