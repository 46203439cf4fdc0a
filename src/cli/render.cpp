#include "render.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

namespace sandboxd::cli {
namespace {

// The text of j[key]: a string as it is, a number or boolean as JSON, else "".
std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return "";
}

// j[key] as an integer, if it is one.
std::optional<int64_t> num(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// The strings (or numbers) of an array, joined.
std::string joined(const json& arr, const char* sep = ",") {
  std::string out;
  if (!arr.is_array()) return out;
  for (const auto& v : arr) {
    if (!out.empty()) out += sep;
    out += v.is_string() ? v.get<std::string>() : compact_json(v);
  }
  return out;
}

// "k=v, k2=v2" of a string map.
std::string pairs(const json& obj, const char* sep = ", ") {
  std::string out;
  if (!obj.is_object()) return out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!out.empty()) out += sep;
    out += it.key() + "=" + (it->is_string() ? it->get<std::string>() : compact_json(*it));
  }
  return out;
}

std::string cut(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  s.resize(max);
  // Not in the middle of a UTF-8 character.
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
  return s + "...";
}

std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string seconds_text(int64_t ms) {
  char buf[32];
  if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm %llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms % 60'000 / 1000));
  }
  return buf;
}

// "2025-01-02 03:04:05 UTC (5m ago)" of an RFC 3339 time, "" for null.
std::string when(const json& t, int64_t now_ms) {
  if (!t.is_string()) return "";
  std::string s = t.get<std::string>();
  std::string shown = s.size() >= 19 ? s.substr(0, 10) + " " + s.substr(11, 8) + " UTC" : s;
  std::string a = age(now_ms, t);
  return a == "-" ? shown : shown + " (" + a + ")";
}

// One line of a tool's input: its command or path when the input is JSON that names one.
std::string tool_input_summary(const json& input) {
  json parsed = input.is_string() ? json::parse(input.get<std::string>(), nullptr, false) : input;
  if (parsed.is_object()) {
    for (const char* key : {"command", "cmd", "file_path", "filePath", "path", "pattern", "url",
                            "query", "description"}) {
      std::string v = str(parsed, key);
      if (!v.empty()) return cut(terminal_safe(v), 160);
    }
  }
  if (input.is_string()) return cut(terminal_safe(input.get<std::string>()), 160);
  return input.is_null() ? "" : cut(terminal_safe(compact_json(input)), 160);
}

}  // namespace

std::string compact_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string terminal_safe(std::string_view s, bool multiline) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u == '\n' || u == '\t') {
      out += multiline ? static_cast<char>(u) : ' ';
    } else if (u < 0x20 || u == 0x7f) {
      out += '?';
    } else if (u == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += '?';  // a C1 control (U+0080..U+009F), e.g. the 8-bit CSI
      ++i;
    } else {
      out += static_cast<char>(u);
    }
  }
  return out;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> safe;
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    std::vector<std::string> cells;
    for (std::size_t c = 0; c < row.size(); ++c) {
      cells.push_back(terminal_safe(row[c]));
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], display_width(cells.back()));
    }
    safe.push_back(std::move(cells));
  }
  std::string out;
  for (const auto& row : safe) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - display_width(row[c]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string format_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t w = 0;
  for (const auto& [k, v] : fields)
    if (!v.empty()) w = std::max(w, k.size());
  std::string out;
  for (const auto& [k, v] : fields) {
    if (v.empty()) continue;
    out += k + ":" + std::string(w - k.size() + 2, ' ') + terminal_safe(v) + "\n";
  }
  return out;
}

std::optional<int64_t> parse_rfc3339_ms(std::string_view text) {
  int y, mo, d, h, mi, s, consumed = 0;
  std::string t(text);
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
          6 ||
      consumed != 19)
    return std::nullopt;
  std::size_t i = 19;
  int64_t ms = 0;
  if (i < t.size() && t[i] == '.') {
    int64_t scale = 100;
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) {
      ms += (t[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i + 1 != t.size() || (t[i] != 'Z' && t[i] != 'z')) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string age(int64_t now_ms, const json& when) {
  if (!when.is_string()) return "-";
  auto then = parse_rfc3339_ms(when.get<std::string>());
  if (!then) return "-";
  int64_t s = (now_ms - *then) / 1000;
  std::string span = s < 0 ? "in " : "";
  s = std::abs(s);
  if (s < 120)
    span += std::to_string(s) + "s";
  else if (s < 7200)
    span += std::to_string(s / 60) + "m";
  else if (s < 172800)
    span += std::to_string(s / 3600) + "h";
  else
    span += std::to_string(s / 86400) + "d";
  return span.rfind("in ", 0) == 0 ? span : span + " ago";
}

std::string format_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0 || v >= 100 || v == static_cast<double>(static_cast<int64_t>(v)))
    std::snprintf(buf, sizeof buf, "%.0f %s", v, kUnits[unit]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string format_sandbox_list(const json& sandboxes, int64_t now_ms) {
  bool any_metadata = false;
  for (const auto& s : sandboxes)
    any_metadata = any_metadata || (member(s, "metadata").is_object() && !s["metadata"].empty());
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "PORTS", "IDLE", "ACTIVE", "LAST STOP"}};
  if (any_metadata) rows[0].push_back("METADATA");
  std::map<std::string, int> by_status;
  std::size_t n = 0;
  for (const auto& s : sandboxes) {
    std::string ports = joined(member(s, "ports"));
    std::string stop = str(s, "stop_reason");
    rows.push_back({str(s, "id"), str(s, "status"), ports.empty() ? "-" : ports,
                    str(s, "idle_policy"), age(now_ms, member(s, "last_active_at")),
                    stop.empty() ? "-" : stop});
    if (any_metadata) rows.back().push_back(cut(pairs(member(s, "metadata"), ","), 60));
    ++by_status[str(s, "status")];
    ++n;
  }
  std::string out = format_table(rows) + std::to_string(n) + " sandbox(es)";
  for (const auto& [status, count] : by_status)
    out += ", " + std::to_string(count) + " " + terminal_safe(status);
  return out + "\n";
}

std::string format_sandbox(const json& s, int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("id", str(s, "id"));
  std::string status = str(s, "status");
  const json& app = member(s, "app");
  f.emplace_back("status", status);
  f.emplace_back("image", str(s, "image"));
  std::string ports = joined(member(s, "ports"), ", ");
  f.emplace_back("ports", ports.empty() ? "none" : ports);
  std::string previews;
  for (const auto& p : member(s, "previews"))
    previews += (previews.empty() ? "" : ", ") + str(p, "url");
  f.emplace_back("previews", previews);
  f.emplace_back("env keys", joined(member(s, "env_keys"), ", "));
  f.emplace_back("metadata", pairs(member(s, "metadata")));
  std::string idle = str(s, "idle_policy");
  const json& idle_info = member(s, "idle");
  if (std::string stops = str(idle_info, "stops_at"); !stops.empty())
    idle += ", stops " + age(now_ms, idle_info["stops_at"]);
  f.emplace_back("idle policy", idle);
  const json& lim = member(s, "limits");
  if (lim.is_object()) {
    std::string l;
    if (auto m = num(lim, "memory_bytes")) l += "memory " + format_bytes(*m);
    if (member(lim, "cpus").is_number()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", lim["cpus"].get<double>());
      l += std::string(", cpus ") + buf;
    }
    if (auto p = num(lim, "pids")) l += ", pids " + std::to_string(*p);
    if (auto n = num(lim, "nofile")) l += ", nofile " + std::to_string(*n);
    if (auto d = num(lim, "disk_bytes"); d && *d > 0) l += ", disk " + format_bytes(*d);
    f.emplace_back("limits", l);
  }
  if (std::string pending = joined(member(s, "pending_restart"), ", "); !pending.empty())
    f.emplace_back("pending restart", pending + " (applied on the next start: stop, then start)");
  f.emplace_back("egress", str(s, "egress"));
  f.emplace_back("runtime", str(s, "runtime"));
  f.emplace_back("created", when(member(s, "created_at"), now_ms));
  std::string active = age(now_ms, member(s, "last_active_at"));
  if (std::string src = str(s, "last_active_source"); active != "-" && !src.empty())
    active += " (" + src + ")";
  f.emplace_back("last active", active == "-" ? "" : active);
  if (app.is_object()) {
    std::string a = str(app, "state");
    if (std::string port = str(app, "port"); !port.empty()) a += " on port " + port;
    if (auto r = num(app, "restarts"); r && *r > 0) a += ", " + std::to_string(*r) + " restarts";
    if (std::string reason = str(app, "reason"); !reason.empty()) a += " (" + reason + ")";
    f.emplace_back("app", a);
  }
  const json& usage = member(s, "usage");
  if (usage.is_object()) {
    std::string u;
    if (auto m = num(usage, "memory_bytes")) u += "memory " + format_bytes(*m);
    if (std::string c = str(usage, "cpu_seconds"); !c.empty()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", usage["cpu_seconds"].get<double>());
      u += std::string(u.empty() ? "" : ", ") + "cpu " + buf + " s";
    }
    if (auto d = num(usage, "disk_used_bytes"))
      u += std::string(u.empty() ? "" : ", ") + "disk " + format_bytes(*d) + " used";
    f.emplace_back("usage", u);
  }
  f.emplace_back("stop reason", str(s, "stop_reason"));
  f.emplace_back("error", str(s, "error_message"));
  return format_fields(f);
}

std::string format_snapshot_list(const json& snapshots, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "SANDBOX", "SIZE", "FILES", "CREATED"}};
  for (const auto& s : snapshots) {
    std::string name = str(s, "name"), sandbox = str(s, "sandbox_id");
    if (member(s, "template").is_boolean() && s["template"].get<bool>()) sandbox = "(template)";
    rows.push_back({str(s, "id"), name.empty() ? "-" : name, sandbox.empty() ? "-" : sandbox,
                    format_bytes(num(s, "bytes").value_or(0)), str(s, "files"),
                    age(now_ms, member(s, "created_at"))});
  }
  return format_table(rows);
}

std::string format_file_listing(const json& node, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "TYPE", "SIZE", "MODIFIED"}};
  for (const auto& e : member(node, "entries")) {
    std::string type = str(e, "type");
    rows.push_back({str(e, "name") + (type == "dir" ? "/" : ""), type,
                    type == "dir" ? "-" : format_bytes(num(e, "size").value_or(0)),
                    age(now_ms, member(e, "modified_at"))});
  }
  std::string out = format_table(rows);
  if (member(node, "truncated").is_boolean() && node["truncated"].get<bool>())
    out += "(listing truncated)\n";
  return out;
}

std::string format_task_list(const json& tasks, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "AGENT", "CREATED", "DURATION", "REASON"}};
  for (const auto& t : tasks) {
    auto ms = num(t, "duration_ms");
    std::string reason = str(t, "failure_reason");
    rows.push_back({str(t, "id"), str(t, "status"), str(t, "agent"),
                    age(now_ms, member(t, "created_at")), ms ? seconds_text(*ms) : "-",
                    reason.empty() ? "-" : reason});
  }
  return format_table(rows);
}

std::string format_task(const json& t) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("id", str(t, "id"));
  f.emplace_back("sandbox", str(t, "sandbox_id"));
  f.emplace_back("agent", str(t, "agent"));
  f.emplace_back("model", str(t, "model"));
  std::string status = str(t, "status");
  if (std::string reason = str(t, "failure_reason"); !reason.empty()) status += " (" + reason + ")";
  f.emplace_back("status", status);
  f.emplace_back("error", str(t, "error"));
  if (auto ms = num(t, "duration_ms")) f.emplace_back("duration", seconds_text(*ms));
  f.emplace_back("exit code", str(t, "exit_code"));
  const json& files = member(t, "files_changed");
  if (files.is_array() && !files.empty())
    f.emplace_back("files changed",
                   std::to_string(files.size()) + ": " + cut(joined(files, ", "), 300));
  const json& usage = member(t, "usage");
  if (auto in = num(usage, "input_tokens")) {
    f.emplace_back("tokens", std::to_string(*in) + " in, " +
                                 std::to_string(num(usage, "output_tokens").value_or(0)) + " out");
  }
  f.emplace_back("checkpoint", str(t, "checkpoint_id"));
  f.emplace_back("events", str(t, "events_url"));
  std::string out = format_fields(f);
  if (std::string msg = str(t, "final_message"); !msg.empty())
    out += "final message:\n" + terminal_safe(msg, true) + (msg.back() == '\n' ? "" : "\n");
  return out;
}

EventText format_task_event(const std::string& type, const json& data) {
  EventText e;
  if (type == "message") {
    std::string text = terminal_safe(str(data, "text"), true);
    if (!text.empty()) e.out = text + (text.back() == '\n' ? "" : "\n");
  } else if (type == "tool") {
    std::string status = str(data, "status");
    std::string line = "[tool] " + terminal_safe(str(data, "name"));
    if (std::string input = tool_input_summary(member(data, "input")); !input.empty())
      line += ": " + input;
    if (!status.empty() && status != "started") line += " (" + terminal_safe(status) + ")";
    if (status == "error") {
      std::string output = str(data, "output");
      if (!output.empty()) line += ": " + cut(terminal_safe(output.substr(0, 400)), 200);
    }
    e.out = line + "\n";
  } else if (type == "status") {
    std::string line = "[status] " + terminal_safe(str(data, "phase"));
    std::string detail;
    if (std::string agent = str(data, "agent"); !agent.empty()) detail += "agent " + agent;
    if (std::string model = str(data, "model"); !model.empty())
      detail += (detail.empty() ? "" : ", ") + ("model " + model);
    if (!detail.empty()) line += " (" + terminal_safe(detail) + ")";
    e.out = line + "\n";
  } else if (type == "error") {
    e.err = "[error] " + terminal_safe(str(data, "message"), true) + "\n";
  } else if (type == "done") {
    std::string status = str(data, "status");
    std::string line = "[done] " + terminal_safe(status);
    if (std::string reason = str(data, "failure_reason"); !reason.empty())
      line += " (" + terminal_safe(reason) + ")";
    if (auto ms = num(data, "duration_ms")) line += " in " + seconds_text(*ms);
    const json& files = member(data, "files_changed");
    if (files.is_array()) line += "; " + std::to_string(files.size()) + " file(s) changed";
    const json& usage = member(data, "usage");
    if (auto in = num(usage, "input_tokens"))
      line += "; " + std::to_string(*in) + " tokens in, " +
              std::to_string(num(usage, "output_tokens").value_or(0)) + " out";
    if (std::string err = str(data, "error"); !err.empty()) line += ": " + terminal_safe(err, true);
    (status == "succeeded" ? e.out : e.err) = line + "\n";
  } else if (type != "usage") {
    e.out = "[" + terminal_safe(type) + "] " + cut(terminal_safe(compact_json(data)), 300) + "\n";
  }
  return e;
}

}  // namespace sandboxd::cli
