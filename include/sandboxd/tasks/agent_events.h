// The agents' JSON-lines output, normalised into one event vocabulary (pure; see
// AGENTS.md "Task events"):
//   status   {"phase": "queued"|"starting"|"running"|"agent_started"|..., ...}
//   message  {"role": "assistant", "text"}
//   tool     {"name", "status": "started"|"running"|"completed"|"error", "input"?, "output"?}
//   usage    {"input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
//             "cache_write_tokens", "cost_usd"} (running totals)
//   error    {"message"}
//   done     the task's result (written by TaskService, never parsed from an agent)
// Each event's data is a JSON object; long texts are cut at kMaxEventText bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/domain/domain.h"

namespace sandboxd {

inline constexpr std::size_t kMaxEventText = 16 * 1024;

struct TaskEvent {
  std::string type;
  std::string data_json;  // a JSON object
};

// What a task's events add up to, carried from line to line.
struct AgentTally {
  std::string final_message;  // the agent's last assistant text (or Claude's result)
  std::string first_error;
  int64_t input_tokens = 0, output_tokens = 0, reasoning_tokens = 0;
  int64_t cache_read_tokens = 0, cache_write_tokens = 0;
  double cost_usd = 0;
  bool has_usage = false;
  bool agent_reported_error = false;              // Claude's result.is_error
  std::map<std::string, std::string> tool_names;  // Claude tool_use id -> tool name
  // The usage object of the `usage` event and the task result.
  std::string usage_json() const;
};

// The events one output line of `agent` yields; a line that is not JSON or not
// understood yields none.
std::vector<TaskEvent> normalize_agent_line(Agent agent, std::string_view line, AgentTally& tally);

}  // namespace sandboxd
