#include "sandboxd/tasks/agent_events.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json_dump.h"

namespace sandboxd {
namespace {

using nlohmann::json;

// A string for any JSON value, cut to kMaxEventText.
std::string text_of(const json& j) {
  std::string s = j.is_string() ? j.get<std::string>() : j.is_null() ? "" : dump_json(j);
  if (s.size() > kMaxEventText) s = s.substr(0, kMaxEventText) + "…";
  return s;
}

// A token count: a non-negative integer, clamped so sums cannot overflow.
int64_t int_at(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  if (it->is_number_unsigned()) return std::min<uint64_t>(it->get<uint64_t>(), 1000000000000ULL);
  return std::clamp<int64_t>(it->get<int64_t>(), 0, 1000000000000LL);
}

constexpr std::size_t kMaxToolNames = 1000;

TaskEvent event(const char* type, const json& data) { return {type, dump_json(data)}; }

void opencode_line(const json& j, AgentTally& t, std::vector<TaskEvent>& out) {
  const std::string type = j.value("type", "");
  const json part = j.contains("part") && j["part"].is_object() ? j["part"] : json::object();
  if (type == "text") {
    std::string text = part.value("text", "");
    if (text.empty()) return;
    t.final_message = text_of(text);
    out.push_back(event("message", {{"role", "assistant"}, {"text", t.final_message}}));
  } else if (type == "tool_use") {
    const json state =
        part.contains("state") && part["state"].is_object() ? part["state"] : json::object();
    json data = {{"name", part.value("tool", "")}, {"status", state.value("status", "")}};
    if (state.contains("input")) data["input"] = text_of(state["input"]);
    if (state.contains("output")) data["output"] = text_of(state["output"]);
    out.push_back(event("tool", data));
  } else if (type == "step_finish") {
    const json tokens =
        part.contains("tokens") && part["tokens"].is_object() ? part["tokens"] : json::object();
    t.input_tokens += int_at(tokens, "input");
    t.output_tokens += int_at(tokens, "output");
    t.reasoning_tokens += int_at(tokens, "reasoning");
    if (tokens.contains("cache") && tokens["cache"].is_object()) {
      t.cache_read_tokens += int_at(tokens["cache"], "read");
      t.cache_write_tokens += int_at(tokens["cache"], "write");
    }
    if (part.contains("cost") && part["cost"].is_number() && part["cost"].get<double>() >= 0 &&
        part["cost"].get<double>() < 1e6)
      t.cost_usd += part["cost"].get<double>();
    t.has_usage = true;
    out.push_back({"usage", t.usage_json()});
  } else if (type == "error") {
    const json err = j.contains("error") ? j["error"] : part;
    std::string msg;
    if (err.is_object() && err.contains("data") && err["data"].is_object())
      msg = text_of(err["data"].value("message", ""));
    if (msg.empty() && err.is_object()) msg = text_of(err.value("message", err.value("name", "")));
    if (msg.empty()) msg = text_of(err);
    if (t.first_error.empty()) t.first_error = msg;
    out.push_back(event("error", {{"message", msg}}));
  }
}

void claude_line(const json& j, AgentTally& t, std::vector<TaskEvent>& out) {
  const std::string type = j.value("type", "");
  if (type == "system" && j.value("subtype", "") == "init") {
    out.push_back(event("status", {{"phase", "agent_started"}, {"model", j.value("model", "")}}));
  } else if (type == "assistant" || type == "user") {
    if (!j.contains("message") || !j["message"].is_object()) return;
    const json& content = j["message"].value("content", json::array());
    if (!content.is_array()) return;
    for (const json& c : content) {
      if (!c.is_object()) continue;
      const std::string kind = c.value("type", "");
      if (type == "assistant" && kind == "text") {
        std::string text = c.value("text", "");
        if (text.empty()) continue;
        t.final_message = text_of(text);
        out.push_back(event("message", {{"role", "assistant"}, {"text", t.final_message}}));
      } else if (type == "assistant" && kind == "tool_use") {
        std::string name = c.value("name", "");
        if (t.tool_names.size() < kMaxToolNames) t.tool_names[c.value("id", "")] = name;
        json data = {{"name", name}, {"status", "started"}};
        if (c.contains("input")) data["input"] = text_of(c["input"]);
        out.push_back(event("tool", data));
      } else if (type == "user" && kind == "tool_result") {
        auto it = t.tool_names.find(c.value("tool_use_id", ""));
        json data = {{"name", it == t.tool_names.end() ? "" : it->second},
                     {"status", c.value("is_error", false) ? "error" : "completed"}};
        if (c.contains("content")) data["output"] = text_of(c["content"]);
        out.push_back(event("tool", data));
      }
    }
  } else if (type == "result") {
    if (j.contains("result") && j["result"].is_string() && !j["result"].get<std::string>().empty())
      t.final_message = text_of(j["result"]);
    if (j.contains("usage") && j["usage"].is_object()) {
      const json& u = j["usage"];
      t.input_tokens = int_at(u, "input_tokens");
      t.output_tokens = int_at(u, "output_tokens");
      t.cache_read_tokens = int_at(u, "cache_read_input_tokens");
      t.cache_write_tokens = int_at(u, "cache_creation_input_tokens");
      t.has_usage = true;
    }
    if (j.contains("total_cost_usd") && j["total_cost_usd"].is_number()) {
      t.cost_usd = j["total_cost_usd"].get<double>();
      t.has_usage = true;
    }
    if (t.has_usage) out.push_back({"usage", t.usage_json()});
    if (j.value("is_error", false)) {
      t.agent_reported_error = true;
      std::string msg = t.final_message.empty() ? j.value("subtype", "error") : t.final_message;
      if (t.first_error.empty()) t.first_error = msg;
      out.push_back(event("error", {{"message", msg}}));
    }
  }
}

}  // namespace

std::string AgentTally::usage_json() const {
  return dump_json({{"input_tokens", input_tokens},
                    {"output_tokens", output_tokens},
                    {"reasoning_tokens", reasoning_tokens},
                    {"cache_read_tokens", cache_read_tokens},
                    {"cache_write_tokens", cache_write_tokens},
                    {"cost_usd", cost_usd}});
}

std::vector<TaskEvent> normalize_agent_line(Agent agent, std::string_view line, AgentTally& tally) {
  std::vector<TaskEvent> out;
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  try {
    switch (agent) {
      case Agent::kOpenCode: opencode_line(j, tally, out); break;
      case Agent::kClaude: claude_line(j, tally, out); break;
    }
  } catch (const json::exception&) {
    // A field of an unexpected type: the line yields what it yielded so far.
  }
  return out;
}

}  // namespace sandboxd
