// The requests of the sandbox API and their checks (pure). A request that fails a check
// changes nothing: every service validates before it writes or calls the runtime.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/config/config.h"
#include "sandboxd/domain/domain.h"
#include "sandboxd/store/records.h"

namespace sandboxd {

struct CreateRequest {
  std::optional<std::string> id;  // raw; validated and lower-cased by create()
  std::vector<int> ports;
  std::map<std::string, std::string> env;
  IdlePolicy idle_policy = IdlePolicy::kSleep;
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> pids;
  std::optional<int64_t> nofile;
  std::optional<int64_t> disk_bytes;
  std::optional<int64_t> cpu_millis;
  std::optional<Egress> egress;
  std::optional<Isolation> isolation;
  // A snapshot's id or name: the new workspace is a copy of it.
  std::optional<std::string> snapshot;
  // > 0: the answer waits up to this many seconds for the app (SandboxService::wait_for_app).
  int wait_for_app_s = 0;
  std::map<std::string, std::string> metadata;
};

// PATCH /v1/sandboxes/{id}: only what is set changes. metadata and env merge: a key with
// a value sets it, a key with nullopt removes it.
struct PatchRequest {
  using Merge = std::map<std::string, std::optional<std::string>>;
  std::optional<Merge> metadata;
  std::optional<Merge> env;
  std::optional<std::vector<int>> ports;
  std::optional<IdlePolicy> idle_policy;
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> pids;
  std::optional<int64_t> nofile;
  std::optional<int64_t> cpu_millis;
};

inline constexpr std::size_t kMaxMetadataKeys = 32;
inline constexpr std::size_t kMaxMetadataKey = 63;
inline constexpr std::size_t kMaxMetadataValue = 256;

struct ExecRequest {
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;
  std::optional<int> timeout_s;
  std::string workdir;      // empty: the app directory
  bool background = false;  // a background process (ProcessService), not a waited exec
};

// Checks a create request against the rules and operator maxima.
Status validate_create(const CreateRequest& req, const Config& config);
// Checks an env map: keys [A-Za-z_][A-Za-z0-9_]*, values without NUL/CR/LF.
Status validate_env(const std::map<std::string, std::string>& env, const std::string& field);
// Checks metadata: at most kMaxMetadataKeys keys of 1..63 characters [A-Za-z0-9._-]
// starting with a letter or digit, values of at most 256 bytes without NUL.
Status validate_metadata(const std::map<std::string, std::string>& metadata);
// Checks a PATCH against the rules and operator maxima (as a create would), and what
// it leaves: the merged metadata and env must pass their own checks.
Status validate_patch(const PatchRequest& req, const SandboxRecord& current, const Config& config);
// `base` with `merge` applied (nullopt values remove their key).
std::map<std::string, std::string> merged(std::map<std::string, std::string> base,
                                          const PatchRequest::Merge& merge);
// Checks an exec request; returns its timeout in seconds (the default when unset).
Result<int> validate_exec(const ExecRequest& req, const Config& config);

}  // namespace sandboxd
