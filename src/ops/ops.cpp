#include "sandboxd/ops/ops.h"

#include <grp.h>
#include <httplib.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "sandboxd/base/text.h"
#include "sandboxd/net/egress.h"
#include "sandboxd/runtime/docker_cli_runtime.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {
namespace {

using Level = DoctorCheck::Level;

Result<ProcessOutput> docker(ProcessRunner& runner, const Config& c,
                             std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {c.docker_binary};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = std::chrono::seconds(15);
  spec.max_output_bytes = 64 << 10;
  return runner.run(spec);
}

DoctorCheck check_docker(const Config& c, ProcessRunner& runner) {
  DoctorCheck d{"docker", Level::kOk, "", ""};
  auto out = docker(runner, c, {"version", "--format", "{{.Server.Version}}"});
  if (!out) {
    d.level = Level::kFail;
    d.detail = "cannot run the docker CLI '" + c.docker_binary + "': " + out.error().message();
    d.fix = "install the Docker CLI (Debian: apt-get install docker.io) or set SANDBOXD_DOCKER";
  } else if (out->exit_code != 0 || out->timed_out) {
    d.level = Level::kFail;
    d.detail = "the Docker engine does not answer: " +
               (out->timed_out ? std::string("timed out") : first_line(out->stderr_data));
    d.fix =
        "start dockerd (systemctl start docker) and make sure this user can use "
        "/var/run/docker.sock (root, or the docker group)";
  } else {
    d.detail = "engine " + trim(out->stdout_data) + " answers";
  }
  return d;
}

DoctorCheck check_image(const Config& c, ProcessRunner& runner) {
  DoctorCheck d{"image", Level::kOk, "", ""};
  auto out = docker(runner, c, {"image", "inspect", "--format", "{{.Size}}", c.image});
  if (!out || out->exit_code != 0) {
    d.level = Level::kFail;
    d.detail = "sandbox image " + c.image + " is not on this host";
    d.fix = "build it: ./install.sh (or docker/build-images.sh), or set SANDBOXD_IMAGE";
    return d;
  }
  double mb = std::atof(out->stdout_data.c_str()) / 1e6;
  char buf[64];
  std::snprintf(buf, sizeof buf, " present (%.0f MB)", mb);
  d.detail = c.image + buf;
  return d;
}

DoctorCheck check_network(const Config& c, ProcessRunner& runner) {
  DoctorCheck d{"network", Level::kOk, "", ""};
  auto out = docker(runner, c,
                    {"network", "inspect", "--format",
                     "{{index .Labels \"sandboxed.managed\"}} "
                     "{{index .Options \"com.docker.network.bridge.enable_icc\"}}",
                     c.network});
  if (!out || out->exit_code != 0) {
    d.detail = c.network + " absent; sandboxd creates it (isolated) when it starts";
    return d;
  }
  std::string got = trim(out->stdout_data);
  if (got.rfind("true ", 0) != 0) {
    d.level = Level::kFail;
    d.detail = c.network + " exists but sandboxed did not create it";
    d.fix = "set SANDBOXD_NETWORK to another name, or remove that network if it is unused";
  } else if (got != "true false") {
    d.level = Level::kWarn;
    d.detail = c.network + " lets sandboxes reach each other (ICC is on)";
    d.fix = "stop sandboxd and its sandboxes, docker network rm " + c.network +
            "; sandboxd recreates it isolated";
  } else {
    d.detail = c.network + " is sandboxed's and isolated (no inter-container traffic)";
  }
  return d;
}

DoctorCheck check_data_dir(const Config& c) {
  DoctorCheck d{"data dir", Level::kOk, "", ""};
  struct stat st {};
  if (::stat(c.data_dir.c_str(), &st) != 0) {
    std::string parent = std::filesystem::path(c.data_dir).parent_path().string();
    if (::access(parent.empty() ? "." : parent.c_str(), W_OK) == 0) {
      d.detail = c.data_dir + " absent; sandboxd creates it when it starts";
    } else {
      d.level = Level::kFail;
      d.detail = c.data_dir + " absent and its parent is not writable by this user";
      d.fix = "run sandboxd as root, or set SANDBOXED_DATA_DIR to a writable place";
    }
    return d;
  }
  if (!S_ISDIR(st.st_mode) || ::access(c.data_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    d.level = Level::kFail;
    d.detail = c.data_dir + " is not a directory this user can write";
    d.fix = "chown it to the user sandboxd runs as (root), or set SANDBOXED_DATA_DIR";
    return d;
  }
  struct stat state {};
  if (::stat(c.state_dir().c_str(), &state) == 0) {
    if ((state.st_mode & 077) != 0 || state.st_uid != ::geteuid()) {
      d.level = Level::kFail;
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", state.st_mode & 07777);
      d.detail = c.state_dir() + " (database, secrets) is mode " + mode + " owner uid " +
                 std::to_string(state.st_uid) + ": readable by others";
      d.fix = "chmod 700 " + c.state_dir() + " && chown root " + c.state_dir();
      return d;
    }
  }
  struct stat ws {};
  if (::stat(c.workspaces_dir().c_str(), &ws) == 0 && (ws.st_mode & 002) != 0) {
    d.level = Level::kFail;
    d.detail = c.workspaces_dir() + " is world-writable";
    d.fix = "chmod o-w " + c.workspaces_dir();
    return d;
  }
  d.detail = c.data_dir + " writable; state dir private";
  return d;
}

DoctorCheck check_disk(const Config& c) {
  DoctorCheck d{"disk", Level::kOk, "", ""};
  std::string dir = c.data_dir;
  struct statvfs vfs {};
  while (::statvfs(dir.c_str(), &vfs) != 0) {
    std::string parent = std::filesystem::path(dir).parent_path().string();
    if (parent.empty() || parent == dir) return {"disk", Level::kWarn, "cannot stat " + dir, ""};
    dir = parent;
  }
  double free_gb = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize) / 1e9;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.1f GB free under %s", free_gb, dir.c_str());
  d.detail = buf;
  if (free_gb < 2) {
    d.level = Level::kWarn;
    d.fix = "free disk space: workspaces, images and logs grow there";
  }
  return d;
}

DoctorCheck check_memory(const Config& c, MemoryProbe& memory) {
  DoctorCheck d{"memory", Level::kOk, "", ""};
  auto m = memory.read();
  if (!m) return {"memory", Level::kWarn, "cannot read memory: " + m.error().message(), ""};
  double pct = m->available_pct();
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.1f%% available (%.1f of %.1f GiB)", pct,
                static_cast<double>(m->available_bytes) / (1 << 30),
                static_cast<double>(m->total_bytes) / (1 << 30));
  d.detail = buf;
  if (pct < c.mem_refuse_pct) {
    d.level = Level::kFail;
    d.detail += ", below SANDBOXD_MEM_REFUSE_PCT=" + std::to_string(c.mem_refuse_pct) +
                ": creates and wakes are refused";
    d.fix = "free memory or add RAM; lower SANDBOXD_DEFAULT_MEMORY to pack more sandboxes";
  } else if (pct < c.mem_headroom_pct) {
    d.level = Level::kWarn;
    d.detail += ", below SANDBOXD_MEM_HEADROOM_PCT=" + std::to_string(c.mem_headroom_pct) +
                ": the pressure reaper stops idle sandboxes";
    d.fix = "free memory or add RAM";
  }
  return d;
}

// No host account or group may hold a uid or gid that sandboxes use: its holder could
// read every workspace and signal every sandbox process.
DoctorCheck check_uids(const Config& c) {
  DoctorCheck d{"uids", Level::kOk, "", ""};
  const int64_t lo = c.uid_base, hi = c.uid_base + kUidRange;
  std::vector<std::string> clashes;
  ::setpwent();
  while (struct passwd* pw = ::getpwent())
    if (pw->pw_uid >= lo && pw->pw_uid < hi)
      clashes.push_back("user " + std::string(pw->pw_name) + " (" + std::to_string(pw->pw_uid) +
                        ")");
  ::endpwent();
  ::setgrent();
  while (struct group* gr = ::getgrent())
    if (gr->gr_gid >= lo && gr->gr_gid < hi)
      clashes.push_back("group " + std::string(gr->gr_name) + " (" + std::to_string(gr->gr_gid) +
                        ")");
  ::endgrent();
  const std::string range = std::to_string(lo) + "-" + std::to_string(hi - 1);
  if (clashes.empty()) {
    d.detail = "sandboxes use uids " + range + ", which no host account holds";
    return d;
  }
  d.level = Level::kFail;
  d.detail = "host accounts hold sandbox uids (" + range + "): " + clashes.front() +
             (clashes.size() > 1 ? " and " + std::to_string(clashes.size() - 1) + " more" : "");
  d.fix = "set SANDBOXD_UID_BASE to a range no account uses, or renumber those accounts";
  return d;
}

// Workspace disks: loop-mounted ext4 images (workspace_disks.h).
DoctorCheck check_quota(ProcessRunner& runner) {
  DoctorCheck d{"disks", Level::kOk, "", ""};
  for (const char* tool : {"mkfs.ext4", "mount"}) {
    ProcessSpec spec;
    spec.argv = {tool, "-V"};
    spec.timeout = std::chrono::seconds(10);
    auto out = runner.run(spec);
    if (!out || out->exit_code != 0) {
      d.level = Level::kFail;
      d.detail = std::string(tool) + " does not run: per-sandbox disk quotas need it";
      d.fix = "apt-get install e2fsprogs mount";
      return d;
    }
  }
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
    d.level = Level::kFail;
    d.detail = "no loop devices (/dev/loop-control): per-sandbox disk quotas need them";
    d.fix =
        "modprobe loop; in a container give sandboxd the host's /dev, SYS_ADMIN and the "
        "loop devices (docker-compose.yml does)";
    return d;
  }
  d.detail = "each workspace is its own preallocated ext4 image, loop-mounted";
  return d;
}

DoctorCheck check_egress(const Config& c, ProcessRunner& runner) {
  DoctorCheck d{"egress", Level::kOk, "", ""};
  DockerCliRuntime docker(runner, c.docker_binary, "/nonexistent", std::chrono::seconds(15));
  auto plan = egress_plan(c, docker);
  if (!plan) {
    d.level = Level::kWarn;
    d.detail = "sandbox networks absent: sandboxd creates them, and their egress rules, at start";
    return d;
  }
  auto problems = EgressFirewall(runner, docker_iptables(runner)).check(*plan);
  if (!problems) {
    d.level = Level::kFail;
    d.detail = "cannot read the firewall: " + problems.error().message();
    d.fix = "run doctor as root, with iptables installed";
  } else if (!problems->empty()) {
    d.level = Level::kFail;
    d.detail = "egress rules incomplete (" + problems->front() + "): sandboxes may reach the " +
               "host and private networks";
    d.fix = "start sandboxd (it installs them at start and on every reconcile)";
  } else {
    d.detail = "rules in place: sandboxes reach no host, private or metadata address (" +
               std::string(to_string(c.egress)) + " by default)";
  }
  return d;
}

DoctorCheck check_gvisor(const Config& c, ProcessRunner& runner) {
  DockerCliRuntime docker(runner, c.docker_binary, "/nonexistent", std::chrono::seconds(15));
  auto has = docker.has_oci_runtime(oci_runtime(Isolation::kGvisor));
  if (has && *has) return {"gvisor", Level::kOk, "available (runsc registered with dockerd)", ""};
  DoctorCheck d{"gvisor", Level::kOk,
                "not available: sandboxes asking for \"runtime\":\"gvisor\" are refused", ""};
  d.fix = "optional: scripts/gvisor.sh (or SANDBOXED_RUNTIME=gvisor ./install.sh)";
  if (c.isolation == Isolation::kGvisor) {
    d.level = Level::kFail;
    d.detail = "SANDBOXD_RUNTIME=gvisor but runsc is not registered with dockerd";
  }
  return d;
}

DoctorCheck check_api(const Config& c, HealthProbe healthz) {
  std::string host = c.api_host == "0.0.0.0" ? "127.0.0.1" : c.api_host;
  std::string where = host + ":" + std::to_string(c.api_port);
  if (healthz(host, c.api_port)) return {"api", Level::kOk, "sandboxd answers on " + where, ""};
  return {"api", Level::kWarn, "nothing answers GET /healthz on " + where,
          "start it (./install.sh, or sandboxd serve) if it should be running"};
}

}  // namespace

bool probe_healthz(const std::string& host, int port) {
  httplib::Client client(host, port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(2, 0);
  client.set_write_timeout(2, 0);
  auto res = client.Get("/healthz");
  return res && res->status == 200;
}

std::vector<DoctorCheck> run_doctor(const Config& config, ProcessRunner& runner,
                                    MemoryProbe& memory, HealthProbe healthz) {
  std::vector<DoctorCheck> checks = {check_docker(config, runner)};
  if (checks.back().level == Level::kFail) {
    for (const char* name : {"image", "network", "egress", "gvisor"})
      checks.push_back({name, Level::kWarn, "not checked: the Docker engine does not answer", ""});
  } else {
    checks.push_back(check_image(config, runner));
    checks.push_back(check_network(config, runner));
    checks.push_back(check_egress(config, runner));
    checks.push_back(check_gvisor(config, runner));
  }
  checks.push_back(check_uids(config));
  checks.push_back(check_quota(runner));
  checks.push_back(check_data_dir(config));
  checks.push_back(check_disk(config));
  checks.push_back(check_memory(config, memory));
  checks.push_back(check_api(config, healthz));
  return checks;
}

std::string format_doctor(const std::vector<DoctorCheck>& checks) {
  std::string out;
  for (const auto& c : checks) {
    const char* tag = c.level == Level::kOk ? "ok  " : c.level == Level::kWarn ? "WARN" : "FAIL";
    char name[16];
    std::snprintf(name, sizeof name, "%-9s", c.name.c_str());
    out += std::string("[") + tag + "] " + name + c.detail + "\n";
    if (!c.fix.empty()) out += "           fix: " + c.fix + "\n";
  }
  int fails = 0, warns = 0;
  for (const auto& c : checks) (c.level == Level::kFail ? fails : warns) += c.level != Level::kOk;
  out += fails   ? std::to_string(fails) + " problem(s) to fix before sandboxd can serve\n"
         : warns ? "ready, with " + std::to_string(warns) + " warning(s)\n"
                 : "ready\n";
  return out;
}

int doctor_exit_code(const std::vector<DoctorCheck>& checks) {
  for (const auto& c : checks)
    if (c.level == Level::kFail) return 1;
  return 0;
}

}  // namespace sandboxd
