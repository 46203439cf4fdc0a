// Config: every knob sandboxd reads, parsed once at startup from the environment and an
// optional .env file (the environment wins). Immutable after load_config returns.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "sandboxd/base/logging.h"
#include "sandboxd/base/status.h"
#include "sandboxd/domain/domain.h"
#include "sandboxd/net/egress.h"

namespace sandboxd {

struct ApiToken {
  std::string name;    // the actor shown in logs
  std::string secret;  // never logged
};

struct Limits {
  int64_t memory_bytes = 0;
  int64_t pids = 0;
  int64_t nofile = 0;
  int64_t disk_bytes = 0;  // the workspace filesystem's size; 0 only on rows from before quotas
  int64_t cpu_millis = 0;  // CPU time per wall second, in thousandths of a CPU (1500: 1.5)
};

// The smallest workspace filesystem and CPU share a sandbox may have.
inline constexpr int64_t kMinDiskBytes = int64_t{16} << 20;
inline constexpr int64_t kMinCpuMillis = 10;

// Every CPU of this host, in thousandths: SANDBOXD_MAX_CPUS's default.
inline int64_t host_cpu_millis() {
  return int64_t{1000} * std::max(1u, std::thread::hardware_concurrency());
}

// Sandbox uids are Config::uid_base-relative slots: uid_base + slot, slot < kUidRange.
inline constexpr int64_t kUidRange = int64_t{1} << 24;

struct Config {
  std::string api_host = "127.0.0.1";
  int api_port = 9090;
  std::string data_dir = "/var/lib/sandboxed";
  std::string image = "sandboxed-sandbox:0.1.0";
  std::string network = "sandboxed";
  std::string instance = "default";
  std::string docker_binary = "docker";
  // Auth is on unless explicitly disabled (and then only on a loopback bind).
  bool auth_disabled = false;
  std::vector<ApiToken> tokens;
  // Browser defences of the API, whatever the auth setting: a request with an Origin
  // header must name one of these (exact scheme://host[:port], lower case), and the Host
  // header must be an IP literal, `localhost` or one of api_hostnames (lower case).
  std::vector<std::string> api_allowed_origins;
  std::vector<std::string> api_hostnames;
  Limits default_limits{2LL << 30, 1024, 8192, 1LL << 30, 1000};
  Limits max_limits{8LL << 30, 8192, 65536, 50LL << 30, host_cpu_millis()};
  // Tenant containment (docs/security.md): each sandbox's processes and files get their
  // own uid (and gid) uid_base + slot, a range no host account may hold (doctor checks).
  int64_t uid_base = 0x70000000;
  Egress egress = Egress::kPublic;         // a sandbox's egress unless it asks for another
  std::vector<EgressAllow> egress_allow;   // exceptions to the egress deny, for every sandbox
  Isolation isolation = Isolation::kRunc;  // a sandbox's runtime unless it asks for another
  int max_sandboxes = 1000;                // rows (any status); creates beyond get 429
  int max_running = 100;  // creating, starting or running; creates and starts beyond get 429
  // Where the host's cgroup hierarchy (v1 or v2) is mounted (usage on GET and /metrics).
  std::string cgroup_root = "/sys/fs/cgroup";
  int64_t tmpfs_bytes = 512LL << 20;
  int stop_timeout_s = 10;
  int docker_timeout_s = 120;
  int exec_default_timeout_s = 300;
  int exec_max_timeout_s = 3600;
  int64_t exec_output_max_bytes = 1 << 20;
  int64_t max_body_bytes = 1 << 20;
  int64_t files_max_bytes = 8 << 20;  // largest file the files API reads or writes
  int http_threads = 256;             // connections served at once (threads made on demand)
  int max_concurrent_execs = 32;      // default: min(32, http_threads - 4)
  int task_max_timeout_s = 3600;      // longest timeout_s a task may ask for (default 600)
  int task_retention_days = 30;       // finished tasks (and events) older than this are pruned
  int task_max_finished = 100;        // finished tasks kept per sandbox (oldest pruned first)
  int keepalive_max_s = 86400;
  int idle_threshold_s = 2100;  // stop a `sleep` sandbox after this long without activity
  int freeze_after_s = 60;      // freeze (pause) it after this long; 0, or >= the threshold: never
  int idle_reap_interval_s = 30;  // idle reaper tick; 0 disables it
  // Snapshots: at most this many per sandbox, and this many bytes of snapshot and
  // template trees together (a snapshot that would pass either is refused).
  int max_snapshots_per_sandbox = 20;
  int64_t snapshots_max_bytes = int64_t{20} << 30;
  // Starter templates (one directory per template, as scripts/build-templates.sh makes
  // them), imported as named snapshots at startup; empty: <data_dir>/templates.
  std::string templates_dir;
  // Started sandboxes kept ready for creates of the default image and limits; 0: none.
  int warm_pool = 0;
  int reconcile_interval_s = 60;  // reconciler tick (it also runs at boot); 0: boot only
  // Host memory bands, as % of MemTotal available: below headroom the pressure reaper
  // stops idle-eligible sandboxes (least recently active first); below refuse, creates
  // and starts get 503; below emergency, busy and always_on sandboxes may be stopped too.
  int mem_headroom_pct = 15;
  int mem_refuse_pct = 10;
  int mem_emergency_pct = 5;
  int pressure_interval_s = 10;  // pressure reaper tick; 0 disables it
  // The preview edge: sandboxd's wake listener, which every preview request goes through
  // (Traefik's preview router forwards to it, or it is the whole edge without Traefik).
  // Loopback by default, which sandboxes cannot reach.
  std::string wake_host = "127.0.0.1";
  int wake_port = 9091;
  int wake_timeout_s = 60;                    // start + dev-server port ready, per request
  int wake_max_connections = 16384;           // open edge client connections; more get 503
  int edge_threads = 0;                       // event-loop threads; 0: one per two CPUs
  int edge_max_connections_per_client = 256;  // per client address (trusted proxies exempt)
  int edge_max_requests_per_sandbox = 512;    // requests and tunnels in flight to one sandbox
  int edge_header_timeout_s = 15;    // a request head, from its first byte (first: from accept)
  int edge_idle_timeout_s = 60;      // keep-alive idle, and a client that stops reading/sending
  int edge_upstream_timeout_s = 60;  // the sandbox's first response byte, and gaps in its answer
  std::string edge_trusted_proxies;  // addresses/CIDRs whose X-Forwarded-* and Forwarded stay
  bool docker_events = true;         // converge on `docker events` as well as on the timer
  std::string preview_domain = "localhost";
  int http_port = 80;
  int https_port = 443;
  bool preview_tls = false;  // preview URLs say https (Traefik terminates TLS)
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;
  // SANDBOXD_*/SANDBOXED_* variables given that no part of sandboxed reads (a typo, or
  // one from another version), each with the closest known name when one is close:
  // logged as warnings at startup.
  std::vector<std::string> unknown_vars;

  std::string state_dir() const { return data_dir + "/state"; }
  std::string workspaces_dir() const { return data_dir + "/workspaces"; }
  // One preallocated ext4 image per workspace, loop-mounted on workspaces_dir()/<id>.
  std::string disks_dir() const { return data_dir + "/disks"; }
  // Each sandbox's generated /etc/passwd and /etc/group (its uid as `sandbox`).
  std::string identity_dir() const { return data_dir + "/identity"; }
  std::string db_path() const { return state_dir() + "/sandboxd.db"; }
  // One directory per snapshot (and imported template): <snapshots_dir>/<snapshot id>.
  std::string snapshots_dir() const { return data_dir + "/snapshots"; }
  std::string templates_path() const {
    return templates_dir.empty() ? data_dir + "/templates" : templates_dir;
  }
};

// Reads `path` as KEY=VALUE lines (# comments, optional single or double quotes,
// optional `export `). A missing file is an empty map; a malformed line is an error.
Result<std::map<std::string, std::string>> read_env_file(const std::string& path);

// Builds the Config from `env` (the process environment merged over the .env file).
// Any bad value is kInvalidArgument naming the variable.
Result<Config> load_config(const std::map<std::string, std::string>& env);

// What `serve` needs beyond a valid Config: a token unless auth is explicitly disabled.
// (Operator commands such as `ls` and `doctor` run without one.)
Status check_serve_auth(const Config& config);

// Parses sizes like "512m", "2g", "1048576", "64k" into bytes.
Result<int64_t> parse_size(const std::string& text);

// Parses a CPU count like "1.5", "2" or "0.25" into thousandths of a CPU (1500, 2000,
// 250); at most three decimals.
Result<int64_t> parse_cpus(const std::string& text);

// True when host is a loopback address or name (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

}  // namespace sandboxd
