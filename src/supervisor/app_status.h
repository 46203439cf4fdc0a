// The pure parts of sandbox-init's app watch: the state it publishes in
// ~/.sandboxed/app.json (read back by sandboxd: sandboxd/sandbox/app_state.h), whether a
// port listens (from the text of /proc/net/tcp or /proc/net/tcp6), and the extra env it
// gives the app (the env file). Pure functions, unit-tested on the host.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sandboxd {

enum class AppPhase {
  kNone,       // no app to run (`reason` says why, or "" when there is none yet)
  kStarting,   // spawned, its port not listening yet
  kListening,  // its port listens
  kCrashed,    // it exited on its own and waits for its backoff restart
};

// What app.json says. Times are unix milliseconds, 0 for never.
struct AppStatus {
  AppPhase phase = AppPhase::kNone;
  int port = 0;                    // the port the app should listen on; 0 while there is no app
  int64_t restarts = 0;            // starts since the supervisor started, after the first one
  int pid = 0;                     // the running app's pid; 0 when none runs
  int64_t started_at = 0;          // when the running app started; 0 when none runs
  std::optional<int> exit_code;    // how the app last exited on its own: one of the two,
  std::optional<int> exit_signal;  // or neither before its first exit
  int64_t last_exit_at = 0;
  std::string reason;  // why nothing runs (kNone); "" otherwise
  int64_t updated_at = 0;
};

// "none", "starting", "listening" or "crashed".
const char* phase_name(AppPhase phase);

// `s` as one line of JSON, app.json's format:
// {"state":"listening","port":3000,"restarts":2,"pid":123,"started_at":1700000000000,
//  "last_exit":{"code":1},"last_exit_at":1699999999000,"reason":"","updated_at":...}
// with "last_exit" {"signal":9} for a signal, or null before the first exit. Bytes of
// `reason` that are not UTF-8 become U+FFFD.
std::string render_app_status(const AppStatus& s);

// Whether `proc_net_tcp_text` (the text of /proc/net/tcp or /proc/net/tcp6) has a socket
// in LISTEN state (st 0A) on local port `port`, at any local address.
bool port_listens(std::string_view proc_net_tcp_text, int port);

// The records of an env file: a sequence of "KEY=VALUE\0" (as /proc/<pid>/environ; values
// may hold newlines). Records without '=', with an empty key, or not NUL-terminated (a cut
// file's last) are skipped; of a repeated key, the last wins.
std::map<std::string, std::string> parse_env_records(std::string_view text);

}  // namespace sandboxd
