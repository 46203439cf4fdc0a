#include "sandboxd/runtime/docker_cli_runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/engine_socket.h"
#include "sandboxd/base/text.h"
#include "sandboxd/os/fd.h"
#include "sandboxd/os/spawn.h"

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
    Fd owned(fd);
    if (!write_all(fd, body))
      return Status(Code::kInternal, std::string("write env file: ") + std::strerror(errno));
    return file;
  }
  ~EnvFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  explicit EnvFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

constexpr const char* kMissingProgram = "no such program in the container";

bool contains(const std::string& hay, const char* needle) {
  return hay.find(needle) != std::string::npos;
}

std::map<std::string, std::string> parse_label_list(const std::string& s) {
  std::map<std::string, std::string> out;
  for (const std::string& item : split(s, ',')) {
    auto eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

}  // namespace

bool is_missing_program(const Status& status) {
  return status.code() == Code::kConflict && contains(status.message(), kMissingProgram);
}

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

DockerCliRuntime::DockerCliRuntime(ProcessRunner& runner, std::string docker_binary,
                                   std::string secrets_dir, std::chrono::seconds timeout,
                                   std::string cgroup_root)
    : runner_(runner),
      docker_(std::move(docker_binary)),
      secrets_dir_(std::move(secrets_dir)),
      timeout_(timeout),
      cgroup_root_(std::move(cgroup_root)) {}

Result<ProcessOutput> DockerCliRuntime::call(std::vector<std::string> args,
                                             std::chrono::seconds timeout) {
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

std::vector<std::string> DockerCliRuntime::run_argv(const RunSpec& s,
                                                    const std::string& env_file) const {
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
  if (s.cpu_millis > 0) {
    std::string frac = std::to_string(1000 + s.cpu_millis % 1000).substr(1);
    a.insert(a.end(), {"--cpus", std::to_string(s.cpu_millis / 1000) + "." + frac});
  }
  if (!s.oci_runtime.empty()) a.insert(a.end(), {"--runtime", s.oci_runtime});
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
    a.insert(a.end(), {"--mount", "type=bind,source=" + m.host_path + ",target=" +
                                      m.container_path + (m.read_only ? ",readonly" : "")});
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

std::vector<std::string> DockerCliRuntime::exec_argv(const ExecSpec& s, const std::string& env_file,
                                                     bool session) const {
  std::vector<std::string> a = {"exec"};
  if (s.detach) a.push_back("--detach");
  if (session) a.push_back("--interactive");
  if (!s.user.empty()) a.insert(a.end(), {"--user", s.user});
  if (!s.workdir.empty()) a.insert(a.end(), {"--workdir", s.workdir});
  if (!env_file.empty()) a.insert(a.end(), {"--env-file", env_file});
  a.push_back(s.container);
  // `timeout` inside the container kills the command itself (the docker CLI dying would
  // leave it running); "+" option parsing stops at the duration, so cmd is never parsed.
  if (!s.detach && !session)
    a.insert(a.end(), {"timeout", "--kill-after=5", std::to_string(s.timeout.count())});
  a.insert(a.end(), s.cmd.begin(), s.cmd.end());
  return a;
}

Status DockerCliRuntime::ensure_network(const std::string& name,
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

Result<std::string> DockerCliRuntime::network_interface(const std::string& network) {
  auto out = call({"network", "inspect", "--format",
                   "{{.Id}} {{index .Options \"com.docker.network.bridge.name\"}}", network},
                  timeout_);
  if (!out) return out.error();
  if (out->exit_code != 0) return classify_docker_error("network inspect " + network, *out);
  std::string line = trim(out->stdout_data);
  const auto space = line.find(' ');
  std::string id = line.substr(0, space);
  std::string name = space == std::string::npos ? "" : trim(line.substr(space + 1));
  if (!name.empty() && name != "<no value>") return name;
  if (id.size() < 12) return Status(Code::kInternal, "network " + network + " has no id");
  return "br-" + id.substr(0, 12);  // Docker's name for a user-defined bridge
}

ContainerUsage DockerCliRuntime::usage(const std::string& container_id) {
  ContainerUsage u;
  if (container_id.empty() || container_id.find('/') != std::string::npos) return u;
  auto read = [](const std::string& path, const std::string& key) -> std::optional<int64_t> {
    std::ifstream in(path);
    std::string k;
    int64_t v = 0;
    if (key.empty()) return in >> v ? std::optional<int64_t>(v) : std::nullopt;
    while (in >> k >> v)
      if (k == key) return v;
    return std::nullopt;
  };
  // cgroup v2: systemd's driver, then cgroupfs.
  for (const std::string& dir : {cgroup_root_ + "/system.slice/docker-" + container_id + ".scope",
                                 cgroup_root_ + "/docker/" + container_id}) {
    if (auto mem = read(dir + "/memory.current", "")) {
      u.memory_bytes = mem;
      u.cpu_usec = read(dir + "/cpu.stat", "usage_usec");
      return u;
    }
  }
  // cgroup v1 (one hierarchy per controller), either driver.
  for (const std::string& leaf :
       {"/system.slice/docker-" + container_id + ".scope", "/docker/" + container_id}) {
    if (auto mem = read(cgroup_root_ + "/memory" + leaf + "/memory.usage_in_bytes", "")) {
      u.memory_bytes = mem;
      if (auto ns = read(cgroup_root_ + "/cpuacct" + leaf + "/cpuacct.usage", ""))
        u.cpu_usec = *ns / 1000;
      return u;
    }
  }
  return u;
}

Result<bool> DockerCliRuntime::has_oci_runtime(const std::string& oci_runtime) {
  auto out = call({"info", "--format", "{{json .Runtimes}}"}, timeout_);
  if (!out) return out.error();
  if (out->exit_code != 0) return classify_docker_error("info", *out);
  return out->stdout_data.find("\"" + oci_runtime + "\"") != std::string::npos;
}

Result<std::string> DockerCliRuntime::create(const RunSpec& spec) {
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

Status DockerCliRuntime::start(const std::string& name) {
  auto out = call({"start", name}, timeout_);
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker start " + name, *out);
}

Status DockerCliRuntime::pause(const std::string& name) {
  if (!engine_socket_.empty())
    return engine_post(engine_socket_, "/containers/" + name + "/pause", timeout_,
                       "docker pause " + name);
  auto out = call({"pause", name}, timeout_);
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker pause " + name, *out);
}

Status DockerCliRuntime::signal(const std::string& name, const std::string& signal) {
  auto out = call({"kill", "--signal", signal, name}, timeout_);
  if (!out) return out.error();
  return out->exit_code == 0
             ? Status()
             : classify_docker_error("docker kill --signal " + signal + " " + name, *out);
}

Status DockerCliRuntime::unpause(const std::string& name) {
  if (!engine_socket_.empty())
    return engine_post(engine_socket_, "/containers/" + name + "/unpause", timeout_,
                       "docker unpause " + name);
  auto out = call({"unpause", name}, timeout_);
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker unpause " + name, *out);
}

Status DockerCliRuntime::stop(const std::string& name, int grace_s) {
  auto out = call({"stop", "--time", std::to_string(grace_s), name},
                  timeout_ + std::chrono::seconds(grace_s));
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker stop " + name, *out);
}

Status DockerCliRuntime::remove(const std::string& name) {
  auto out = call({"rm", "--force", name}, timeout_);
  if (!out) return out.error();
  if (out->exit_code == 0) return {};
  return classify_docker_error("docker rm " + name, *out);
}

Result<ContainerState> DockerCliRuntime::inspect(const std::string& name) {
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
    st.paused = state.value("Paused", false);
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

Result<std::vector<ContainerState>> DockerCliRuntime::list(
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
      st.paused = st.status == "paused";
      st.running = st.status == "running";
      st.labels = parse_label_list(j.value("Labels", ""));
      result.push_back(std::move(st));
    }
  } catch (const std::exception& e) {
    return Status(Code::kInternal, std::string("docker ps: unexpected output: ") + e.what());
  }
  return result;
}

Result<ExecResult> DockerCliRuntime::exec(const ExecSpec& spec) {
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

namespace {

constexpr auto kSessionReadyWithin = std::chrono::seconds(30);
constexpr std::size_t kSessionErrorKeep = 4096;  // stderr kept to classify an engine error

// A `docker exec -i` whose stdin is our pipe. Keeps the env file until it ends: the CLI
// reads it at startup, and removing it earlier races with that.
class DockerExecSession final : public ExecSession {
 public:
  DockerExecSession(std::unique_ptr<PipedProcess> proc, std::unique_ptr<EnvFile> env,
                    std::string container, std::string program)
      : proc_(std::move(proc)),
        env_(std::move(env)),
        container_(std::move(container)),
        program_(std::move(program)) {}

  std::vector<int> fds() const override {
    std::vector<int> out;
    if (!out_done_) out.push_back(proc_->stdout_fd());
    if (!err_done_) out.push_back(proc_->stderr_fd());
    return out;
  }

  std::vector<Output> read() override {
    std::vector<Output> got;
    drain(proc_->stdout_fd(), out_done_, Stream::kStdout, got);
    drain(proc_->stderr_fd(), err_done_, Stream::kStderr, got);
    return got;
  }

  Result<std::optional<int>> exit_code() override {
    if (!out_done_ || !err_done_) return std::optional<int>();
    auto code = proc_->wait(std::chrono::seconds(5));
    if (!code) return std::optional<int>();
    if (*code != 0 && engine_error()) return error(*code);
    return code;
  }

  int stdin_fd() const override { return proc_->stdin_fd(); }
  std::optional<std::size_t> write(std::string_view data) override {
    return proc_->write_stdin(data);
  }

  // Waits for `ready` on stdout; what came before it (nothing, normally) is dropped and
  // what came after it is kept for read(). An end before it is the engine's error.
  Status await_ready(char ready) {
    auto deadline = std::chrono::steady_clock::now() + kSessionReadyWithin;
    bool seen = false;
    std::vector<Output> after;
    while (!seen) {
      for (auto& o : read()) {
        if (seen) {
          after.push_back(std::move(o));
        } else if (o.stream == Stream::kStderr) {
          after.push_back(std::move(o));
        } else if (auto at = o.data.find(ready); at != std::string::npos) {
          seen = true;
          o.data.erase(0, at + 1);
          if (!o.data.empty()) after.push_back(std::move(o));
        }
      }
      if (seen) break;
      if (out_done_ && err_done_) {
        int code = proc_->wait(std::chrono::seconds(5)).value_or(-1);
        if (auto r = error(code); !r) return r.error();
        return Status(Code::kInternal, "docker exec " + container_ + ": ended (" +
                                           std::to_string(code) +
                                           ") before it started: " + first_line(err_tail_));
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return Status(Code::kTimeout, "docker exec " + container_ + ": no answer in 30 s");
      std::vector<pollfd> p;
      for (int fd : fds()) p.push_back({fd, POLLIN, 0});
      ::poll(p.data(), p.size(), 100);
    }
    pending_ = std::move(after);
    // From here stderr is the command's: only what came before can be the engine's.
    err_tail_.clear();
    classify_ = false;
    return {};
  }

 private:
  void drain(int fd, bool& done, Stream stream, std::vector<Output>& got) {
    if (!pending_.empty()) {
      for (auto& o : pending_) got.push_back(std::move(o));
      pending_.clear();
    }
    if (done) return;
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        if (classify_ && stream == Stream::kStderr && err_tail_.size() < kSessionErrorKeep)
          err_tail_.append(buf, std::min<std::size_t>(n, kSessionErrorKeep - err_tail_.size()));
        if (!got.empty() && got.back().stream == stream)
          got.back().data.append(buf, static_cast<std::size_t>(n));
        else
          got.push_back({stream, std::string(buf, static_cast<std::size_t>(n))});
        if (got.back().data.size() >= (1 << 16)) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (n < 0 && errno != EAGAIN)) done = true;
      return;
    }
  }

  bool engine_error() const {
    return err_tail_.rfind("Error response from daemon", 0) == 0 ||
           contains(err_tail_, "Cannot connect to the Docker daemon") ||
           contains(err_tail_, "OCI runtime exec failed");
  }

  Result<std::optional<int>> error(int code) const {
    ProcessOutput out;
    out.exit_code = code;
    out.stderr_data = err_tail_;
    if (contains(err_tail_, program_.c_str()) &&
        (contains(err_tail_, "executable file not found") ||
         contains(err_tail_, "no such file or directory"))) {
      return Status(Code::kConflict, "docker exec " + container_ + ": " + kMissingProgram + ": " +
                                         first_line(err_tail_));
    }
    Status st = classify_docker_error("docker exec " + container_, out);
    if (st.code() == Code::kInternal && !engine_error() && code >= 0)
      return std::optional<int>(code);
    return st;
  }

  std::unique_ptr<PipedProcess> proc_;
  std::unique_ptr<EnvFile> env_;
  std::string container_;
  std::string program_;   // cmd[0]: its absence is is_missing_program()
  bool classify_ = true;  // stderr may still be the engine's (before the ready byte)
  bool out_done_ = false, err_done_ = false;
  std::string err_tail_;         // the first bytes of stderr, to classify an engine error
  std::vector<Output> pending_;  // read before the ready byte was seen, for the next read()
};

}  // namespace

Result<std::unique_ptr<ExecSession>> DockerCliRuntime::exec_session(const ExecSpec& spec) {
  std::unique_ptr<EnvFile> env_file;
  if (!spec.env.empty()) {
    auto f = EnvFile::write(secrets_dir_, spec.env);
    if (!f) return f.error();
    env_file = std::move(*f);
  }
  std::vector<std::string> argv = {docker_};
  for (auto& a : exec_argv(spec, env_file ? env_file->path() : "", /*session=*/true))
    argv.push_back(std::move(a));
  // The grace lets the command end by itself once its stdin closes (sandbox-run's
  // hangup grace is 2 s) before the CLI is killed.
  auto proc = PipedProcess::spawn(argv, std::chrono::seconds(3));
  if (!proc) return proc.error().with_context("docker exec " + spec.container);
  auto session = std::make_unique<DockerExecSession>(std::move(*proc), std::move(env_file),
                                                     spec.container, spec.cmd.at(0));
  if (spec.ready_byte) {
    if (auto s = session->await_ready(*spec.ready_byte); !s.is_ok()) return s;
  }
  return std::unique_ptr<ExecSession>(std::move(session));
}

namespace {

// `docker events` for one instance, read line by line.
class DockerEventStream final : public EventStream {
 public:
  DockerEventStream(std::unique_ptr<LineProcess> proc, std::string instance)
      : proc_(std::move(proc)), instance_(std::move(instance)) {}
  Result<std::optional<std::string>> next(std::chrono::milliseconds timeout) override {
    auto line = proc_->next_line(timeout);
    if (!line) return line.error();
    if (!*line) return std::optional<std::string>();
    return docker_event_sandbox_id(**line, instance_);
  }

 private:
  std::unique_ptr<LineProcess> proc_;
  std::string instance_;
};

}  // namespace

std::optional<std::string> docker_event_sandbox_id(std::string_view line,
                                                   const std::string& instance) {
  auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("Type", "") != "container") return std::nullopt;
  auto actor = j.find("Actor");
  if (actor == j.end() || !actor->is_object()) return std::nullopt;
  auto attrs = actor->find("Attributes");
  if (attrs == actor->end() || !attrs->is_object()) return std::nullopt;
  auto text = [&](const char* key) {
    auto it = attrs->find(key);
    return it != attrs->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (text("sandboxed.managed") != "true" || text("sandboxed.instance") != instance)
    return std::nullopt;
  std::string id = text("sandboxed.id");
  if (id.empty()) return std::nullopt;
  return id;
}

Result<std::unique_ptr<EventStream>> DockerCliRuntime::events(const std::string& instance) {
  auto proc = LineProcess::spawn(
      {docker_, "events", "--format", "{{json .}}", "--filter", "type=container", "--filter",
       "label=sandboxed.instance=" + instance, "--filter", "event=start", "--filter", "event=die",
       "--filter", "event=destroy", "--filter", "event=oom"});
  if (!proc) return proc.error().with_context("docker events");
  return std::unique_ptr<EventStream>(
      std::make_unique<DockerEventStream>(std::move(*proc), instance));
}

Status DockerCliRuntime::ping() {
  auto out = call({"version", "--format", "{{.Server.Version}}"}, std::chrono::seconds(10));
  if (!out) return out.error();
  return out->exit_code == 0 ? Status() : classify_docker_error("docker version", *out);
}

}  // namespace sandboxd
