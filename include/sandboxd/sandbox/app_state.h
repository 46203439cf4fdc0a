// AppState: the state of a sandbox's dev server, as sandbox-init publishes it in the
// sandbox's ~/.sandboxed/app.json (src/supervisor/app_status.h writes it). That file
// lies in the tenant's home, so its parser trusts nothing in it. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sandboxd/base/status.h"

namespace sandboxd {

inline constexpr std::size_t kAppStateMaxBytes = 64 * 1024;  // a bigger file is refused
inline constexpr std::size_t kAppStateMaxReason = 1024;      // `reason` is cut to this

// Times are unix milliseconds, 0 for never.
struct AppState {
  std::string state = "none";  // "none", "starting", "listening" or "crashed"
  int port = 0;
  int64_t restarts = 0;
  std::optional<int> exit_code;    // how the app last exited: one of the two, or neither
  std::optional<int> exit_signal;  // before its first exit
  int64_t last_exit_at = 0;
  int64_t started_at = 0;
  std::string reason;  // why nothing runs (state "none"), at most kAppStateMaxReason bytes
  int64_t updated_at = 0;
};

// The text of app.json as an AppState. kInvalidArgument when it is over kAppStateMaxBytes,
// not a JSON object, lacks "state" or names an unknown one, or a known field has the
// wrong type or range: "port" 0..65535, "restarts" and the times >= 0, "last_exit" null or
// exactly one of {"code": 0..255} and {"signal": 1..127}, "reason" a string. Unknown fields
// (such as "pid") are ignored; "reason" is cut to kAppStateMaxReason bytes at a UTF-8
// character boundary. Absent fields keep AppState's defaults.
Result<AppState> parse_app_state(std::string_view json);

}  // namespace sandboxd
