// sandboxd's client commands: create, ls, get, exec, logs, stop, start, rm, purge, task,
// files, snapshot, fork, patch (alias update) and completion. Each talks to the API over
// HTTP (SANDBOXD_URL and SANDBOXD_TOKEN, or SANDBOXED_API_BIND and SANDBOXD_API_TOKENS,
// from the environment, then from a .env file: --env-file, $SANDBOXED_ENV_FILE or
// ./.env), prints a human view or, with --json, the API's JSON as is. Exit codes: 0 on
// success, 1 when the API refuses or cannot be reached (its message, code and request
// id on stderr), 2 for a usage or configuration error; `exec` passes the command's own
// exit code through (124 when it timed out) and `task run --follow` exits 0 when the
// task succeeded, 1 otherwise.
#pragma once

#include <optional>

namespace CLI {
class App;
}

namespace sandboxd {

// Adds the client commands to `app` (the root). When one of them was given, it runs as
// that subcommand's callback during app.parse() and stores its exit code in `exit_code`.
// `app` and `exit_code` must outlive the parse.
void add_client_commands(CLI::App& app, std::optional<int>& exit_code);

}  // namespace sandboxd
