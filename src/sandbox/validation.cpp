#include "sandboxd/sandbox/validation.h"

#include <cctype>
#include <set>

#include "sandboxd/base/ids.h"

namespace sandboxd {
namespace {

constexpr int kMaxPorts = 16;
constexpr std::size_t kMaxEnvVars = 256;
constexpr std::size_t kMaxEnvKey = 256;
constexpr std::size_t kMaxEnvValue = 32 * 1024;
constexpr std::size_t kMaxExecArgs = 4096;

bool valid_env_key(const std::string& k) {
  if (k.empty() || k.size() > kMaxEnvKey) return false;
  if (!(std::isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_')) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

Status invalid(const std::string& msg) { return Status(Code::kInvalidArgument, msg); }

}  // namespace

Status validate_env(const std::map<std::string, std::string>& env, const std::string& field) {
  if (env.size() > kMaxEnvVars)
    return invalid(field + ": at most " + std::to_string(kMaxEnvVars) + " variables");
  for (const auto& [k, v] : env) {
    if (!valid_env_key(k)) {
      // The key is not secret, but may be garbage: show a bounded, printable form.
      std::string shown;
      for (char c : k.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      return invalid(field + ": key '" + shown + "' must match [A-Za-z_][A-Za-z0-9_]*");
    }
    if (v.size() > kMaxEnvValue) return invalid(field + "." + k + ": value longer than 32 KiB");
    if (v.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return invalid(field + "." + k + ": value must not contain newlines or NUL");
    }
  }
  return {};
}

Status validate_metadata(const std::map<std::string, std::string>& metadata) {
  if (metadata.size() > kMaxMetadataKeys)
    return invalid("metadata: at most " + std::to_string(kMaxMetadataKeys) + " keys");
  for (const auto& [k, v] : metadata) {
    bool ok =
        !k.empty() && k.size() <= kMaxMetadataKey && std::isalnum(static_cast<unsigned char>(k[0]));
    for (char c : k)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    if (!ok) {
      std::string shown;
      for (char c : k.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      return invalid("metadata: key '" + shown +
                     "' must be 1..63 characters of [A-Za-z0-9._-], starting with a letter or "
                     "digit");
    }
    if (v.size() > kMaxMetadataValue)
      return invalid("metadata." + k + ": value longer than " + std::to_string(kMaxMetadataValue) +
                     " bytes");
    if (v.find('\0') != std::string::npos)
      return invalid("metadata." + k + ": value must not contain NUL");
  }
  return {};
}

std::map<std::string, std::string> merged(std::map<std::string, std::string> base,
                                          const PatchRequest::Merge& merge) {
  for (const auto& [k, v] : merge) {
    if (v)
      base[k] = *v;
    else
      base.erase(k);
  }
  return base;
}

Status validate_patch(const PatchRequest& req, const SandboxRecord& current, const Config& config) {
  // The limits and ports are checked as a create's; the merged maps as they will be.
  CreateRequest as_create;
  as_create.ports = req.ports.value_or(std::vector<int>{});
  as_create.memory_bytes = req.memory_bytes;
  as_create.pids = req.pids;
  as_create.nofile = req.nofile;
  as_create.cpu_millis = req.cpu_millis;
  if (req.env) as_create.env = merged(current.env, *req.env);
  if (req.metadata) as_create.metadata = merged(current.metadata, *req.metadata);
  return validate_create(as_create, config);
}

Status validate_create(const CreateRequest& req, const Config& config) {
  if (req.id) {
    if (auto id = normalize_id(*req.id); !id) return id.error();
  }
  if (req.ports.size() > static_cast<std::size_t>(kMaxPorts)) {
    return invalid("ports: at most " + std::to_string(kMaxPorts) + " ports");
  }
  std::set<int> seen;
  for (int p : req.ports) {
    if (p < 1 || p > 65535) return invalid("ports: " + std::to_string(p) + " is not in 1..65535");
    if (!seen.insert(p).second) return invalid("ports: " + std::to_string(p) + " is listed twice");
  }
  if (auto s = validate_env(req.env, "env"); !s.is_ok()) return s;
  if (auto s = validate_metadata(req.metadata); !s.is_ok()) return s;
  const Limits& max = config.max_limits;
  if (req.memory_bytes &&
      (*req.memory_bytes < (6LL << 20) || *req.memory_bytes > max.memory_bytes)) {
    return invalid("memory: must be between 6m and the operator maximum of " +
                   std::to_string(max.memory_bytes) + " bytes");
  }
  if (req.pids && (*req.pids < 16 || *req.pids > max.pids)) {
    return invalid("pids_limit: must be between 16 and " + std::to_string(max.pids));
  }
  if (req.nofile && (*req.nofile < 64 || *req.nofile > max.nofile)) {
    return invalid("nofile: must be between 64 and " + std::to_string(max.nofile));
  }
  if (req.disk_bytes && (*req.disk_bytes < kMinDiskBytes || *req.disk_bytes > max.disk_bytes)) {
    return invalid("disk: must be between 16m and the operator maximum of " +
                   std::to_string(max.disk_bytes) + " bytes");
  }
  if (req.cpu_millis && (*req.cpu_millis < kMinCpuMillis || *req.cpu_millis > max.cpu_millis)) {
    return invalid("cpus: must be between 0.01 and the operator maximum of " +
                   std::to_string(max.cpu_millis / 1000) + "." +
                   std::to_string(1000 + max.cpu_millis % 1000).substr(1));
  }
  return {};
}

Result<int> validate_exec(const ExecRequest& req, const Config& config) {
  if (req.cmd.empty()) return invalid("cmd: must be a non-empty array of strings");
  if (req.cmd.size() > kMaxExecArgs) return invalid("cmd: too many arguments");
  for (const auto& a : req.cmd)
    if (a.find('\0') != std::string::npos) return invalid("cmd: arguments must not contain NUL");
  if (req.cmd[0].empty()) return invalid("cmd[0]: must not be empty");
  if (auto s = validate_env(req.env, "env"); !s.is_ok()) return s;
  if (!req.workdir.empty() &&
      (req.workdir[0] != '/' || req.workdir.find('\0') != std::string::npos)) {
    return invalid("workdir: must be an absolute path");
  }
  int timeout = req.timeout_s.value_or(config.exec_default_timeout_s);
  if (timeout < 1 || timeout > config.exec_max_timeout_s) {
    return invalid("timeout_s: must be between 1 and " + std::to_string(config.exec_max_timeout_s));
  }
  return timeout;
}

}  // namespace sandboxd
