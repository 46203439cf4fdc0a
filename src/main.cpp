// sandboxd entry point: parses the command line, loads config, builds the real OS seams
// and services, serves until SIGTERM/SIGINT, then shuts down cleanly; or runs one of the
// operator subcommands (doctor, token) or API client commands (sandboxd/cli/commands.h)
// and exits.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <tuple>

#include "sandboxd/api/server.h"
#include "sandboxd/auth/auth.h"
#include "sandboxd/base/logging.h"
#include "sandboxd/cli/commands.h"
#include "sandboxd/config/config.h"
#include "sandboxd/edge/edge.h"
#include "sandboxd/ops/ops.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/os/memory.h"
#include "sandboxd/os/periodic.h"
#include "sandboxd/os/process_runner.h"
#include "sandboxd/procs/process_service.h"
#include "sandboxd/reaper/idle_reaper.h"
#include "sandboxd/reaper/pressure_reaper.h"
#include "sandboxd/reconcile/event_watcher.h"
#include "sandboxd/reconcile/reconciler.h"
#include "sandboxd/runtime/docker_cli_runtime.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/workspace_disks.h"
#include "sandboxd/sandbox/workspaces.h"
#include "sandboxd/store/store.h"
#include "sandboxd/tasks/task_service.h"

extern char** environ;

namespace sandboxd {
namespace {

Result<Config> config_from_environment(const std::string& env_file, bool explicit_file) {
  // The default ./.env is optional; a file named on the command line must exist, or a
  // typo would silently drop settings such as auth.
  if (explicit_file && ::access(env_file.c_str(), R_OK) != 0) {
    return Status(Code::kInvalidArgument, "--env-file " + env_file + ": cannot read it");
  }
  auto file = read_env_file(env_file);
  if (!file) return file.error();
  std::map<std::string, std::string> env = std::move(*file);
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return load_config(env);
}

// Creates dir (and parents) with `mode`; with `force_mode` an existing one is set to it too.
Status make_dir(const std::string& dir, mode_t mode, bool force_mode) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, "create " + dir + ": " + ec.message());
  if ((created || force_mode) && ::chmod(dir.c_str(), mode) != 0) {
    return Status(Code::kInternal, "chmod " + dir);
  }
  return {};
}

// Holds an exclusive lock on the data dir for the process's life: two daemons sharing
// one data dir would corrupt each other's view. The descriptor is deliberately leaked.
Status lock_data_dir(const std::string& state_dir) {
  std::string path = state_dir + "/sandboxd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status(Code::kInternal, "open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status(Code::kConflict,
                  "another sandboxd is using " + state_dir + " (lock " + path + ")");
  }
  return {};
}

// Every edge connection is a descriptor (two while proxied): the soft open-files limit
// goes up to the hard one, and a limit below what SANDBOXD_WAKE_MAX_CONNECTIONS needs is
// logged.
void raise_open_files_limit(const Config& c) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  auto need = static_cast<rlim_t>(c.wake_max_connections) * 2 + 1024;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need)
    spdlog::warn(
        "startup: the open-files limit is {}, below the {} that SANDBOXD_WAKE_MAX_CONNECTIONS={} "
        "needs; raise it (LimitNOFILE=, ulimit -n) or lower the cap",
        lim.rlim_cur, need, c.wake_max_connections);
}

int serve(const std::string& env_file, bool explicit_file) {
  auto config = config_from_environment(env_file, explicit_file);
  if (!config) {
    std::fprintf(stderr, "sandboxd: configuration error: %s\n", config.error().message().c_str());
    return 2;
  }
  if (auto s = check_serve_auth(*config); !s.is_ok()) {
    std::fprintf(stderr, "sandboxd: configuration error: %s\n", s.message().c_str());
    return 2;
  }
  const Config& c = *config;
  setup_logging(c.log_level, c.log_format);
  for (const auto& name : c.unknown_vars)
    spdlog::warn("startup: {} is set but no part of sandboxed reads it (see .env.example)", name);

  // Signals are handled by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::string secrets_dir = c.state_dir() + "/run";
  for (auto [dir, mode, force] : {std::tuple{c.data_dir, 0755, false},
                                  {c.state_dir(), 0700, true},
                                  {secrets_dir, 0700, true}}) {
    if (auto s = make_dir(dir, static_cast<mode_t>(mode), force); !s.is_ok()) {
      spdlog::critical("startup: {}", s.message());
      return 1;
    }
  }
  if (auto s = lock_data_dir(c.state_dir()); !s.is_ok()) {
    spdlog::critical("startup: {}", s.message());
    return 1;
  }
  // Env files left by a crash mid-docker-call hold secrets: remove them.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(secrets_dir, ec))
    std::filesystem::remove(e.path(), ec);

  auto store = Store::open(c.db_path());
  if (!store) {
    spdlog::critical("startup: {}", store.error().message());
    return 1;
  }
  SystemClock clock;
  PosixProcessRunner runner;
  DockerCliRuntime docker(runner, c.docker_binary, secrets_dir,
                          std::chrono::seconds(c.docker_timeout_s), c.cgroup_root);
  // The engine's API socket for pause/unpause: DOCKER_HOST's when it is unix://, the
  // default one when DOCKER_HOST is unset (else the CLI, which knows how to reach it).
  if (const char* host = std::getenv("DOCKER_HOST"); host == nullptr || *host == '\0') {
    if (::access("/var/run/docker.sock", W_OK) == 0)
      docker.set_engine_socket("/var/run/docker.sock");
  } else if (std::string h = host; h.rfind("unix://", 0) == 0) {
    docker.set_engine_socket(h.substr(7));
  }
  // Tenants' disks are enforced by the kernel or sandboxd does not serve.
  LoopDisks disks(runner, c.disks_dir());
  if (auto s = disks.init(); !s.is_ok()) {
    spdlog::critical("startup: {} (`sandboxd doctor` checks the host)", s.message());
    return 1;
  }
  Workspaces workspaces(c.workspaces_dir(), disks);
  EgressFirewall firewall(runner, docker_iptables(runner));
  ProcMemoryProbe memory;
  Metrics metrics;
  SandboxService sandboxes(c, **store, docker, clock, workspaces, memory, metrics, &firewall);
  if (auto s = sandboxes.init(); !s.is_ok()) {
    // dockerd may come up later: serve anyway, /readyz reports it, creates retry the network.
    spdlog::error("startup: {} (is dockerd running? /readyz will say when it answers)",
                  s.message());
  }
  if (auto s = sandboxes.init_snapshots(); !s.is_ok())
    spdlog::error("startup: snapshots: {} (snapshots and templates may be missing)", s.message());
  // Converge before serving: a crash or a dockerd restart may have left rows mid-operation.
  Reconciler reconciler(sandboxes);
  if (auto r = reconciler.tick(); !r) spdlog::error("boot reconcile: {}", r.error().message());
  IdleReaper reaper(sandboxes, clock, int64_t{c.idle_threshold_s} * 1000,
                    int64_t{c.freeze_after_s} * 1000, metrics);
  PressureReaper pressure(sandboxes, memory, c, metrics);
  // Declared after everything the timer callbacks use, so they are stopped first.
  std::vector<std::unique_ptr<Periodic>> timers;
  if (c.reconcile_interval_s > 0) {
    timers.push_back(
        std::make_unique<Periodic>("reconciler", std::chrono::seconds(c.reconcile_interval_s), [&] {
          if (auto r = reconciler.tick(); !r) spdlog::warn("{}", r.error().message());
        }));
  }
  if (c.idle_reap_interval_s > 0) {
    timers.push_back(std::make_unique<Periodic>("idle reaper",
                                                std::chrono::seconds(c.idle_reap_interval_s), [&] {
                                                  if (auto r = reaper.tick(); !r)
                                                    spdlog::warn("{}", r.error().message());
                                                }));
  }
  if (c.pressure_interval_s > 0) {
    timers.push_back(std::make_unique<Periodic>("pressure reaper",
                                                std::chrono::seconds(c.pressure_interval_s), [&] {
                                                  if (auto r = pressure.tick(); !r)
                                                    spdlog::warn("{}", r.error().message());
                                                }));
  }
  // The warm pool's upkeep (its first pass also discards what a smaller pool left).
  timers.push_back(std::make_unique<Periodic>("warm pool", std::chrono::seconds(2), [&] {
    if (auto s = sandboxes.fill_pool(); !s.is_ok()) spdlog::warn("{}", s.message());
  }));
  for (auto& t : timers) t->start();
  std::unique_ptr<EventWatcher> events;
  if (c.docker_events) {
    events = std::make_unique<EventWatcher>(
        docker, c.instance,
        [&](const std::string& id) {
          if (auto s = sandboxes.converge(id); !s.is_ok())
            spdlog::warn("converge sandbox {} after a runtime event: {}", id, s.message());
        },
        [&] {
          if (auto r = reconciler.tick(); !r) spdlog::warn("{}", r.error().message());
        });
    events->start();
  }
  raise_open_files_limit(c);
  Edge wake(c, sandboxes, clock);
  if (auto s = wake.start(c.wake_host, c.wake_port); !s.is_ok()) {
    spdlog::critical("startup: {}", s.message());
    return 1;
  }
  // Tasks left running by an earlier sandboxd (their agents kept running) are followed again.
  TaskService tasks(c, **store, sandboxes, clock, workspaces, metrics);
  tasks.start();
  // Task retention: at boot, then hourly, on its own thread so a backlog never delays
  // serving (declared after `tasks`, so stopped before it).
  Periodic retention("task retention", std::chrono::hours(1),
                     [&] { (void)tasks.prune_finished(); });
  retention.start(/*run_first_now=*/true);
  Authenticator auth(c.auth_disabled, c.tokens);
  // Background processes left running by an earlier sandboxd are followed again.
  ProcessService processes(c, **store, sandboxes, workspaces, clock);
  processes.start();
  ApiServer api(c, sandboxes, auth, clock, metrics, &tasks, &processes,
                [&wake] { return wake.samples(); });
  if (auto s = api.start(c.api_host, c.api_port); !s.is_ok()) {
    spdlog::critical("startup: {}", s.message());
    return 1;
  }
  auto version = (*store)->schema_version();
  spdlog::info(
      "sandboxd {} listening on {}:{} (API) and {}:{} (previews, *.preview.{}) instance={} "
      "data_dir={} image={} network={} auth={} schema={}",
      SANDBOXD_VERSION, c.api_host, api.port(), c.wake_host, wake.port(), c.preview_domain,
      c.instance, c.data_dir, c.image, c.network, c.auth_disabled ? "disabled" : "enabled",
      version ? *version : -1);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down: waiting for in-flight requests",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  tasks.stop();  // ends open event streams (clients resume with Last-Event-ID)
  api.stop();
  wake.stop();
  if (events) events->stop();
  for (auto& t : timers) t->stop();
  spdlog::info("sandboxd stopped");
  return 0;
}

Result<Config> operator_config(const std::string& env_file, bool explicit_file) {
  auto config = config_from_environment(env_file, explicit_file);
  if (!config)
    std::fprintf(stderr, "sandboxd: configuration error: %s\n", config.error().message().c_str());
  return config;
}

int doctor(const std::string& env_file, bool explicit_file) {
  auto config = operator_config(env_file, explicit_file);
  if (!config) return 2;
  PosixProcessRunner runner;
  ProcMemoryProbe memory;
  auto checks = run_doctor(*config, runner, memory, probe_healthz);
  std::cout << format_doctor(checks);
  return doctor_exit_code(checks);
}

// Prints the secret of the token `name` (default: the first configured), so an operator
// can hand it to a client without reading .env. Exit 1 when there is none.
int print_token(const std::string& env_file, bool explicit_file, const std::string& name) {
  auto config = operator_config(env_file, explicit_file);
  if (!config) return 2;
  if (config->auth_disabled) {
    std::fprintf(stderr,
                 "sandboxd: auth is disabled (SANDBOXD_API_AUTH_DISABLED=true): "
                 "the API takes no token\n");
    return 1;
  }
  for (const auto& t : config->tokens) {
    if (name.empty() || t.name == name) {
      std::cout << t.secret << "\n";
      return 0;
    }
  }
  if (config->tokens.empty())
    std::fprintf(stderr, "sandboxd: SANDBOXD_API_TOKENS is empty (./install.sh generates one)\n");
  else
    std::fprintf(stderr, "sandboxd: no token named '%s' in SANDBOXD_API_TOKENS\n", name.c_str());
  return 1;
}

}  // namespace
}  // namespace sandboxd

int main(int argc, char** argv) {
  CLI::App app{"sandboxd: isolated Docker sandboxes for AI app builders"};
  app.require_subcommand(1);
  // The installed wrapper (install.sh) names the install's .env in SANDBOXED_ENV_FILE.
  const char* env_file_var = std::getenv("SANDBOXED_ENV_FILE");
  std::string env_file = env_file_var && *env_file_var ? env_file_var : ".env";
  auto* serve =
      app.add_subcommand("serve", "run the daemon (config from the environment and .env)");
  auto* env_opt = serve->add_option("--env-file", env_file,
                                    "KEY=VALUE file (default $SANDBOXED_ENV_FILE, else ./.env, "
                                    "used when present); the environment overrides it");
  auto* doctor = app.add_subcommand(
      "doctor",
      "check that this host can run sandboxes (docker, image, network, data dir, "
      "disk, memory, API) and say what to fix; exits 1 on any failure");
  std::string token_name;
  auto* token = app.add_subcommand(
      "token", "print the secret of an API token (for `Authorization: Bearer <secret>`)");
  token->add_option("--name", token_name,
                    "the token's name in SANDBOXD_API_TOKENS (default: the first one)");
  for (auto* cmd : {doctor, token})
    cmd->add_option("--env-file", env_file,
                    "KEY=VALUE file (default $SANDBOXED_ENV_FILE, else ./.env, used when present)");
  auto* version = app.add_subcommand("version", "print the version");
  std::optional<int> client_exit;  // set when a client command ran
  sandboxd::add_client_commands(app, client_exit);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; any usage error 2
  }
  if (client_exit) return *client_exit;
  if (*version) {
    std::cout << "sandboxd " << SANDBOXD_VERSION << "\n";
    return 0;
  }
  if (*doctor) return sandboxd::doctor(env_file, doctor->count("--env-file") > 0);
  if (*token) return sandboxd::print_token(env_file, token->count("--env-file") > 0, token_name);
  return sandboxd::serve(env_file, env_opt->count() > 0);
}
