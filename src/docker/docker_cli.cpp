#include "sandboxd/docker/docker_cli.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "sandboxd/base/text.h"

namespace sandboxd {
namespace {

using nlohmann::json;

// A KEY=VALUE file with mode 0600 that exists for this object's lifetime. Callers
// validate that keys have no '=' or whitespace and values no newline or NUL.
class EnvFile {
 public:
  static Result<std::unique_ptr<EnvFile>> write(const std::string& dir,
                                                const std::map<std::string, std::string>& env) {
    std::string path = dir + "/env-XXXXXX";
    int fd = ::mkostemp(path.data(), O_CLOEXEC);  // creates with mode 0600
    if (fd < 0)
      return Status(Code::kInternal, "create env file in " + dir + ": " + std::strerror(errno));
    auto file = std::unique_ptr<EnvFile>(new EnvFile(path));
    std::string body;
    for (const auto& [k, v] : env) body += k + "=" + v + "\n";
    std::size_t off = 0;
    while (off < body.size()) {
      ssize_t n = ::write(fd, body.data() + off, body.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return Status(Code::kInternal, std::string("write env file: ") + std::strerror(errno));
      }
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return file;
  }
  ~EnvFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  explicit EnvFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

bool contains(const std::string& hay, const char* needle) {
  return hay.find(needle) != std::string::npos;
}

std::map<std::string, std::string> parse_label_list(const std::string& s) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t comma = s.find(',', start);
    std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

bool is_missing_network(const Status& status) {
  const std::string& m = status.message();
  return status.code() == Code::kNotFound &&
         (contains(m, "No such network") || (contains(m, "network ") && contains(m, " not found") &&
                                             !contains(m, "No such container")));
}

Status classify_docker_error(const std::string& op, const ProcessOutput& out) {
  const std::string& err = out.stderr_data;
  std::string msg =
      op + ": " + (out.timed_out ? "timed out" : first_line(err.empty() ? out.stdout_data : err));
  if (out.timed_out) return Status(Code::kTimeout, msg);
  if (contains(err, "Cannot connect to the Docker daemon") ||
      contains(err, "error during connect") || contains(err, "Is the docker daemon running")) {
    return Status(Code::kUnavailable, op + ": docker daemon unreachable");
  }
  if (contains(err, "Unable to find image") || contains(err, "No such image") ||
      contains(err, "pull access denied")) {
    return Status(Code::kUnavailable, msg);
  }
  if (contains(err, "No such container") || contains(err, "No such object") ||
      contains(err, "No such network") ||
      (contains(err, "network ") && contains(err, " not found"))) {
    return Status(Code::kNotFound, msg);
  }
  if (contains(err, "Conflict") || contains(err, "already in use") ||
      contains(err, "is not running") || contains(err, "already exists")) {
    return Status(Code::kConflict, msg);
  }
  return Status(Code::kInternal, msg);
}

DockerCli::DockerCli(ProcessRunner& runner, std::string docker_binary, std::string secrets_dir,
                     std::chrono::seconds timeout)
    : runner_(runner),
      docker_(std::move(docker_binary)),
      secrets_dir_(std::move(secrets_dir)),
      timeout_(timeout) {}

Result<ProcessOutput> DockerCli::call(std::vector<std::string> args, std::chrono::seconds timeout) {
  ProcessSpec spec;
  spec.argv.reserve(args.size() + 1);
  spec.argv.push_back(docker_);
  for (auto& a : args) spec.argv.push_back(std::move(a));
  spec.timeout = timeout;
  auto out = runner_.run(spec);
  if (!out) return out.error().with_context("run " + docker_);
  // argv holds no secrets (env values travel in env files), so it may be logged.
  spdlog::debug("docker {} exit={} duration_ms={}", spec.argv[1], out->exit_code,
                out->duration.count());
  return out;
}

std::vector<std::string> DockerCli::run_argv(const RunSpec& s, const std::string& env_file) const {
  std::vector<std::string> a = {"run", "-d", "--pull", "never", "--name", s.name};
  if (!s.hostname.empty()) a.insert(a.end(), {"--hostname", s.hostname});
  if (!s.network.empty()) a.insert(a.end(), {"--network", s.network});
  if (!s.user.empty()) a.insert(a.end(), {"--user", s.user});
  if (!s.workdir.empty()) a.insert(a.end(), {"--workdir", s.workdir});
  if (s.init) a.push_back("--init");
  if (s.read_only) a.push_back("--read-only");
  if (s.cap_drop_all) a.insert(a.end(), {"--cap-drop", "ALL"});
  if (s.no_new_privileges) a.insert(a.end(), {"--security-opt", "no-new-privileges"});
  if (s.memory_bytes > 0) {
    a.insert(a.end(), {"--memory", std::to_string(s.memory_bytes), "--memory-swap",
                       std::to_string(s.memory_bytes)});
  }
  if (s.pids_limit > 0) a.insert(a.end(), {"--pids-limit", std::to_string(s.pids_limit)});
  if (s.nofile > 0) {
    a.insert(a.end(),
             {"--ulimit", "nofile=" + std::to_string(s.nofile) + ":" + std::to_string(s.nofile)});
  }
  if (s.tmpfs_bytes > 0) {
    a.insert(a.end(), {"--tmpfs", "/tmp:rw,exec,nosuid,nodev,mode=1777,size=" +
                                      std::to_string(s.tmpfs_bytes)});
  }
  for (const auto& [k, v] : s.labels) a.insert(a.end(), {"--label", k + "=" + v});
  for (const auto& m : s.mounts) {
    // --mount (unlike --volume) fails instead of creating a missing source as root.
    a.insert(a.end(),
             {"--mount", "type=bind,source=" + m.host_path + ",target=" + m.container_path});
  }
  if (s.log_max_bytes > 0) {
    a.insert(a.end(), {"--log-driver", "json-file", "--log-opt",
                       "max-size=" + std::to_string(s.log_max_bytes), "--log-opt", "max-file=1"});
  }
  if (!env_file.empty()) a.insert(a.end(), {"--env-file", env_file});
  a.push_back(s.image);
  a.insert(a.end(), s.command.begin(), s.command.end());
  return a;
}

std::vector<std::string> DockerCli::exec_argv(const ExecSpec& s,
                                              const std::string& env_file) const {
  std::vector<std::string> a = {"exec"};
  if (s.detach) a.push_back("--detach");
  if (!s.user.empty()) a.insert(a.end(), {"--user", s.user});
  if (!s.workdir.empty()) a.insert(a.end(), {"--workdir", s.workdir});
  if (!env_file.empty()) a.insert(a.end(), {"--env-file", env_file});
  a.push_back(s.container);
  // `timeout` inside the container kills the command itself (the docker CLI dying would
  // leave it running); "+" option parsing stops at the duration, so cmd is never parsed.
  if (!s.detach)
    a.insert(a.end(), {"timeout", "--kill-after=5", std::to_string(s.timeout.count())});
  a.insert(a.end(), s.cmd.begin(), s.cmd.end());
  return a;
}

Status DockerCli::ensure_network(const std::string& name,
                                 const std::map<std::string, std::string>& labels) {
  auto out = call({"network", "inspect", "--format",
                   "{{index .Options \"com.docker.network.bridge.enable_icc\"}}", name},
                  timeout_);
  if (!out) return out.error();
  if (out->exit_code == 0) {
    if (out->stdout_data.rfind("false", 0) != 0) {
      spdlog::warn(
          "network {} lets containers reach each other (inter-container traffic is on); "
          "remove it while no sandbox uses it and sandboxd recreates it isolated",
          name);
    }
    return {};
  }
  Status st = classify_docker_error("network inspect " + name, *out);
  if (st.code() != Code::kNotFound) return st;
  // Isolated: containers on it reach neither each other nor anything through it but the
  // host, which still reaches every container (the edge and the wake path run there).
  std::vector<std::string> args = {"network",  "create",
                                   "--driver", "bridge",
                                   "--opt",    "com.docker.network.bridge.enable_icc=false"};
  for (const auto& [k, v] : labels) args.insert(args.end(), {"--label", k + "=" + v});
  args.push_back(name);
  out = call(std::move(args), timeout_);
  if (!out) return out.error();
  if (out->exit_code == 0) return {};
  st = classify_docker_error("network create " + name, *out);
  return st.code() == Code::kConflict ? Status() : st;  // created concurrently
}

Result<std::string> DockerCli::run(const RunSpec& spec) {
  std::unique_ptr<EnvFile> env_file;
  if (!spec.env.empty()) {
    auto f = EnvFile::write(secrets_dir_, spec.env);
    if (!f) return f.error();
    env_file = std::move(*f);
  }
  auto out = call(run_argv(spec, env_file ? env_file->path() : ""), timeout_);
  if (!out) return out.error();
  if (out->exit_code != 0) {
    // `docker run -d` may have created the container before failing to start it.
    return classify_docker_error("docker run " + spec.name, *out);
  }
  std::string id = out->stdout_data;
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  return id.substr(id.rfind('\n') == std::string::npos ? 0 : id.rfind('\n') + 1);
}

Status DockerCli::start(const std::string& name) {
  auto out = call({"start", name}, timeout_);
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker start " + name, *out);
}

Status DockerCli::stop(const std::string& name, int grace_s) {
  auto out = call({"stop", "--time", std::to_string(grace_s), name},
                  timeout_ + std::chrono::seconds(grace_s));
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker stop " + name, *out);
}

Status DockerCli::remove(const std::string& name) {
  auto out = call({"rm", "--force", name}, timeout_);
  if (!out) return out.error();
  if (out->exit_code == 0) return {};
  return classify_docker_error("docker rm " + name, *out);
}

Result<ContainerState> DockerCli::inspect(const std::string& name) {
  auto out = call({"container", "inspect", name}, timeout_);
  if (!out) return out.error();
  if (out->exit_code != 0) return classify_docker_error("docker inspect " + name, *out);
  try {
    json arr = json::parse(out->stdout_data);
    if (!arr.is_array() || arr.empty())
      return Status(Code::kNotFound, "docker inspect " + name + ": empty");
    const json& j = arr[0];
    ContainerState st;
    st.id = j.value("Id", "");
    st.name = j.value("Name", "");
    if (!st.name.empty() && st.name[0] == '/') st.name.erase(0, 1);
    const json& state = j.at("State");
    st.status = state.value("Status", "");
    st.running = state.value("Running", false);
    st.exit_code = state.value("ExitCode", 0);
    if (j.contains("Config") && j["Config"].contains("Labels") &&
        j["Config"]["Labels"].is_object()) {
      st.labels = j["Config"]["Labels"].get<std::map<std::string, std::string>>();
    }
    if (j.contains("NetworkSettings") && j["NetworkSettings"].contains("Networks") &&
        j["NetworkSettings"]["Networks"].is_object()) {
      for (const auto& [net, n] : j["NetworkSettings"]["Networks"].items()) {
        if (n.is_object() && n.contains("IPAddress") && n["IPAddress"].is_string() &&
            !n["IPAddress"].get<std::string>().empty())
          st.ips[net] = n["IPAddress"].get<std::string>();
      }
    }
    return st;
  } catch (const std::exception& e) {
    return Status(Code::kInternal, "docker inspect " + name + ": unexpected output: " + e.what());
  }
}

Result<std::vector<ContainerState>> DockerCli::list(
    const std::map<std::string, std::string>& labels) {
  std::vector<std::string> args = {"ps", "--all", "--no-trunc", "--format", "{{json .}}"};
  for (const auto& [k, v] : labels) args.insert(args.end(), {"--filter", "label=" + k + "=" + v});
  auto out = call(std::move(args), timeout_);
  if (!out) return out.error();
  if (out->exit_code != 0) return classify_docker_error("docker ps", *out);
  std::vector<ContainerState> result;
  std::size_t start = 0;
  const std::string& s = out->stdout_data;
  try {
    while (start < s.size()) {
      std::size_t nl = s.find('\n', start);
      std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      start = nl == std::string::npos ? s.size() : nl + 1;
      if (line.empty()) continue;
      json j = json::parse(line);
      ContainerState st;
      st.id = j.value("ID", "");
      st.name = j.value("Names", "");
      st.status = j.value("State", "");
      st.running = st.status == "running";
      st.labels = parse_label_list(j.value("Labels", ""));
      result.push_back(std::move(st));
    }
  } catch (const std::exception& e) {
    return Status(Code::kInternal, std::string("docker ps: unexpected output: ") + e.what());
  }
  return result;
}

Result<ExecResult> DockerCli::exec(const ExecSpec& spec) {
  std::unique_ptr<EnvFile> env_file;
  if (!spec.env.empty()) {
    auto f = EnvFile::write(secrets_dir_, spec.env);
    if (!f) return f.error();
    env_file = std::move(*f);
  }
  ProcessSpec ps;
  ps.argv.push_back(docker_);
  for (auto& a : exec_argv(spec, env_file ? env_file->path() : "")) ps.argv.push_back(std::move(a));
  ps.timeout = spec.timeout + std::chrono::seconds(15);  // backstop; `timeout` acts first
  ps.max_output_bytes = spec.max_output_bytes;
  auto out = runner_.run(ps);
  if (!out) return out.error().with_context("docker exec " + spec.container);
  // Errors of docker itself (not of the command) come as "Error response from daemon".
  if (out->exit_code != 0 &&
      (out->stderr_data.rfind("Error response from daemon", 0) == 0 ||
       out->stderr_data.find("Cannot connect to the Docker daemon") != std::string::npos)) {
    return classify_docker_error("docker exec " + spec.container, *out);
  }
  ExecResult r;
  r.exit_code = out->exit_code;
  r.stdout_data = std::move(out->stdout_data);
  r.stderr_data = std::move(out->stderr_data);
  r.truncated = out->stdout_truncated || out->stderr_truncated;
  r.duration_ms = out->duration.count();
  r.timed_out = out->timed_out ||
                (out->exit_code == 124 && r.duration_ms >= spec.timeout.count() * 1000 - 50);
  return r;
}

Status DockerCli::ping() {
  auto out = call({"version", "--format", "{{.Server.Version}}"}, std::chrono::seconds(10));
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker version", *out);
}

}  // namespace sandboxd
