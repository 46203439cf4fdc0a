#include "sandboxd/config/config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <limits>
#include <set>

#include "sandboxd/base/text.h"
#include "sandboxd/edge/edge_limits.h"

namespace sandboxd {
namespace {

Status bad(const std::string& var, const std::string& why) {
  return Status(Code::kInvalidArgument, var + ": " + why);
}

class Reader {
 public:
  explicit Reader(const std::map<std::string, std::string>& env) : env_(env) {}

  const std::string* raw(const std::string& key) const {
    asked_.insert(key);
    auto it = env_.find(key);
    return it == env_.end() ? nullptr : &it->second;
  }

  Status str(const std::string& key, std::string& out) const {
    if (const auto* v = raw(key); v && !v->empty()) out = *v;
    return {};
  }

  Status boolean(const std::string& key, bool& out) const {
    const auto* v = raw(key);
    if (!v || v->empty()) return {};
    const std::string s = to_lower(*v);
    if (s == "1" || s == "true" || s == "yes" || s == "on")
      out = true;
    else if (s == "0" || s == "false" || s == "no" || s == "off")
      out = false;
    else
      return bad(key, "expected true or false, got '" + *v + "'");
    return {};
  }

  template <class Int>
  Status integer(const std::string& key, Int& out, int64_t min, int64_t max) const {
    const auto* v = raw(key);
    if (!v || v->empty()) return {};
    std::size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(*v, &used, 10);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != v->size()) return bad(key, "expected an integer, got '" + *v + "'");
    if (n < min || n > max) {
      return bad(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    out = static_cast<Int>(n);
    return {};
  }

  Status cpus(const std::string& key, int64_t& out) const {
    const auto* v = raw(key);
    if (!v || v->empty()) return {};
    auto r = parse_cpus(*v);
    if (!r) return bad(key, r.error().message());
    if (*r < kMinCpuMillis) return bad(key, "must be at least 0.01");
    out = *r;
    return {};
  }

  template <class E>
  Status choice(const std::string& key, E& out, std::optional<E> (*parse)(std::string_view),
                const char* expected) const {
    const auto* v = raw(key);
    if (!v || v->empty()) return {};
    auto e = parse(to_lower(*v));
    if (!e) return bad(key, std::string("expected ") + expected + ", got '" + *v + "'");
    out = *e;
    return {};
  }

  Status size(const std::string& key, int64_t& out, int64_t min) const {
    const auto* v = raw(key);
    if (!v || v->empty()) return {};
    auto r = parse_size(*v);
    if (!r) return bad(key, r.error().message());
    if (*r < min) return bad(key, "must be at least " + std::to_string(min) + " bytes");
    out = *r;
    return {};
  }

  // Every key any reader method looked up.
  const std::set<std::string>& asked() const { return asked_; }

 private:
  const std::map<std::string, std::string>& env_;
  mutable std::set<std::string> asked_;
};

bool valid_instance(const std::string& s) {
  if (s.empty() || s.size() > 24 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      return false;
  return true;
}

bool valid_docker_name(const std::string& s) {
  if (s.empty() || s.size() > 128 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

Status parse_bind(const std::string& key, const std::string& v, std::string& host, int& port) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return bad(key, "expected HOST:PORT, got '" + v + "'");
  std::string h = v.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string p = v.substr(colon + 1);
  std::size_t used = 0;
  int n = -1;
  try {
    n = std::stoi(p, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != p.size() || n < 0 || n > 65535) {
    return bad(key, "port must be 0..65535, got '" + p + "'");
  }
  host = h;
  port = n;
  return {};
}

Status parse_tokens(const std::string& key, const std::string& v, std::vector<ApiToken>& out) {
  for (const std::string& item : split_list(v)) {
    // name:secret (documented) or name=secret (the original's parser): first separator wins.
    std::size_t sep = item.find_first_of(":=");
    if (sep == std::string::npos || sep == 0 || sep + 1 == item.size()) {
      return bad(key,
                 "each entry must be name:secret (entry " + std::to_string(out.size() + 1) + ")");
    }
    ApiToken t{item.substr(0, sep), item.substr(sep + 1)};
    for (char c : t.name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
        return bad(key, "token name '" + t.name + "' may use only letters, digits, - _ .");
    if (t.secret.size() < 16)
      return bad(key, "the secret of token '" + t.name + "' is shorter than 16 characters");
    out.push_back(std::move(t));
  }
  return {};
}

bool host_chars(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  return true;
}

// Origins as browsers send them: http(s)://host[:port], nothing after; the host a name
// or an IPv6 literal in brackets. A default port (:80, :443) is dropped, as browsers do.
Status parse_origins(const std::string& key, const std::string& v, std::vector<std::string>& out) {
  for (std::string item : split_list(v)) {
    item = to_lower(item);
    const bool https = item.rfind("https://", 0) == 0;
    const std::size_t rest = https ? 8 : item.rfind("http://", 0) == 0 ? 7 : 0;
    const std::string hostport = rest ? item.substr(rest) : "";
    const bool v6 = !hostport.empty() && hostport[0] == '[';
    const std::size_t host_end = v6 ? hostport.find(']') + 1 : hostport.find(':');
    const std::string host = hostport.substr(0, host_end);
    const std::string tail =
        host_end == 0 || host_end > hostport.size() ? "" : hostport.substr(host_end);
    const std::string port = tail.empty() ? "" : tail.substr(1);
    bool host_ok = v6 ? host.size() > 2 && host.back() == ']' &&
                            host.find_first_not_of("0123456789abcdef:.", 1) == host.size() - 1
                      : host_chars(host);
    bool port_ok = tail.empty() || (tail[0] == ':' && !port.empty() && port.size() <= 5 &&
                                    port.find_first_not_of("0123456789") == std::string::npos);
    if (!rest || (v6 && host_end == 0) || !host_ok || !port_ok)
      return bad(key, "'" + item + "' is not an origin like https://app.example.com[:port]");
    const bool default_port = port == (https ? "443" : "80");
    out.push_back(item.substr(0, rest) + host + (tail.empty() || default_port ? "" : tail));
  }
  return {};
}

Status parse_hostnames(const std::string& key, const std::string& v,
                       std::vector<std::string>& out) {
  for (std::string item : split_list(v)) {
    item = to_lower(item);
    if (!host_chars(item)) return bad(key, "'" + item + "' is not a host name");
    out.push_back(item);
  }
  return {};
}

}  // namespace

Result<int64_t> parse_size(const std::string& text) {
  std::string s = trim(text);
  if (s.empty()) return Status(Code::kInvalidArgument, "empty size");
  int64_t mult = 1;
  char last = static_cast<char>(std::tolower(static_cast<unsigned char>(s.back())));
  if (last == 'b' && s.size() > 1 && std::isalpha(static_cast<unsigned char>(s[s.size() - 2]))) {
    s.pop_back();
    last = static_cast<char>(std::tolower(static_cast<unsigned char>(s.back())));
  }
  if (last == 'k')
    mult = 1LL << 10;
  else if (last == 'm')
    mult = 1LL << 20;
  else if (last == 'g')
    mult = 1LL << 30;
  else if (last == 't')
    mult = 1LL << 40;
  if (mult != 1) s.pop_back();
  if (s.empty() || s.size() > 15) return Status(Code::kInvalidArgument, "bad size '" + text + "'");
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return Status(Code::kInvalidArgument, "bad size '" + text + "' (use e.g. 512m or 2g)");
  int64_t n = std::stoll(s);
  if (n > std::numeric_limits<int64_t>::max() / mult)
    return Status(Code::kInvalidArgument, "size too large");
  return n * mult;
}

Result<int64_t> parse_cpus(const std::string& text) {
  std::string s = trim(text);
  auto dot = s.find('.');
  std::string whole = s.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto digits = [](const std::string& d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || whole.size() > 6 || frac.size() > 3 || !digits(whole) || !digits(frac) ||
      (dot != std::string::npos && frac.empty())) {
    return Status(Code::kInvalidArgument, "bad CPU count '" + text + "' (use e.g. 1 or 1.5)");
  }
  frac.resize(3, '0');
  return std::stoll(whole) * 1000 + std::stoll(frac);
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<std::map<std::string, std::string>> read_env_file(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  if (!in) return out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = trim(t.substr(7));
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status(Code::kInvalidArgument,
                    path + ":" + std::to_string(lineno) + ": expected KEY=VALUE");
    }
    std::string key = trim(t.substr(0, eq));
    std::string val = trim(t.substr(eq + 1));
    if (!val.empty() && (val.front() == '"' || val.front() == '\'')) {
      // A quoted value ends at its closing quote; only a comment may follow it.
      auto close = val.find(val.front(), 1);
      std::string rest = close == std::string::npos ? "x" : trim(val.substr(close + 1));
      if (!rest.empty() && rest[0] != '#') {
        return Status(Code::kInvalidArgument,
                      path + ":" + std::to_string(lineno) +
                          ": unterminated quote or text after the quoted value");
      }
      val = val.substr(1, close - 1);
    } else if (auto hash = val.find(" #"); hash != std::string::npos) {
      val = trim(val.substr(0, hash));
    }
    out[key] = val;
  }
  return out;
}

Status check_serve_auth(const Config& c) {
  if (!c.auth_disabled && c.tokens.empty()) {
    return bad("SANDBOXD_API_TOKENS",
               "auth is on by default but no token is configured: set "
               "SANDBOXD_API_TOKENS=name:secret (./install.sh generates one), or, on a loopback "
               "bind only, SANDBOXD_API_AUTH_DISABLED=true");
  }
  return {};
}

namespace {

// Read by other parts of sandboxed, not the daemon: install.sh and Compose (.env), the
// image build, the `sandboxd` client commands and the test harness.
constexpr std::array kOtherTools = {"SANDBOXED_IMAGE_SOURCE",
                                    "SANDBOXED_EDGE",
                                    "SANDBOXED_CONTROL_IMAGE",
                                    "SANDBOXED_TRAEFIK_IMAGE",
                                    "SANDBOXED_EXTRA_CA_CERT",
                                    "SANDBOXED_NO_APT",
                                    "SANDBOXED_RUNTIME",
                                    "SANDBOXED_ENV_FILE",
                                    "SANDBOXD_URL",
                                    "SANDBOXD_TOKEN",
                                    "SANDBOXED_TEST_TEMPLATES_DIR"};

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::vector<std::string> unknown_vars(const std::map<std::string, std::string>& env,
                                      const std::set<std::string>& asked) {
  std::set<std::string> known(asked);
  known.insert(kOtherTools.begin(), kOtherTools.end());
  std::vector<std::string> out;
  for (const auto& [key, value] : env) {
    if (key.rfind("SANDBOXD_", 0) != 0 && key.rfind("SANDBOXED_", 0) != 0) continue;
    if (known.count(key)) continue;
    std::string best;
    std::size_t best_d = 4;  // closer than this reads as a typo
    for (const auto& k : known)
      if (std::size_t d = edit_distance(key, k); d < best_d) best = k, best_d = d;
    out.push_back(best.empty() ? key : key + " (did you mean " + best + "?)");
  }
  return out;
}

}  // namespace

Result<Config> load_config(const std::map<std::string, std::string>& env) {
  Config c;
  Reader r(env);
  std::string bind;
  if (const auto* v = r.raw("SANDBOXED_API_BIND"); v && !v->empty()) {
    if (auto s = parse_bind("SANDBOXED_API_BIND", *v, c.api_host, c.api_port); !s.is_ok()) return s;
  }
  if (const auto* v = r.raw("SANDBOXD_WAKE_BIND"); v && !v->empty()) {
    if (auto s = parse_bind("SANDBOXD_WAKE_BIND", *v, c.wake_host, c.wake_port); !s.is_ok())
      return s;
  }
  // SANDBOXD_DATA_DIR is the original's name; SANDBOXED_DATA_DIR wins when both are set.
  if (auto s = r.str("SANDBOXD_DATA_DIR", c.data_dir); !s.is_ok()) return s;
  if (auto s = r.str("SANDBOXED_DATA_DIR", c.data_dir); !s.is_ok()) return s;
  if (c.data_dir.empty() || c.data_dir[0] != '/')
    return bad("SANDBOXED_DATA_DIR", "must be an absolute path");
  while (c.data_dir.size() > 1 && c.data_dir.back() == '/') c.data_dir.pop_back();
  if (auto s = r.str("SANDBOXD_TEMPLATES_DIR", c.templates_dir); !s.is_ok()) return s;
  if (!c.templates_dir.empty() && c.templates_dir[0] != '/')
    return bad("SANDBOXD_TEMPLATES_DIR", "must be an absolute path");

  Status st;
  auto check = [&](Status s) {
    if (st.is_ok() && !s.is_ok()) st = std::move(s);
  };
  check(r.str("SANDBOXD_IMAGE", c.image));
  check(r.str("SANDBOXD_NETWORK", c.network));
  check(r.str("SANDBOXD_INSTANCE", c.instance));
  check(r.str("SANDBOXD_DOCKER", c.docker_binary));
  check(r.boolean("SANDBOXD_API_AUTH_DISABLED", c.auth_disabled));
  if (const auto* v = r.raw("SANDBOXD_API_TOKENS"); v)
    check(parse_tokens("SANDBOXD_API_TOKENS", *v, c.tokens));
  if (const auto* v = r.raw("SANDBOXD_API_ALLOWED_ORIGINS"); v)
    check(parse_origins("SANDBOXD_API_ALLOWED_ORIGINS", *v, c.api_allowed_origins));
  if (const auto* v = r.raw("SANDBOXD_API_HOSTNAMES"); v)
    check(parse_hostnames("SANDBOXD_API_HOSTNAMES", *v, c.api_hostnames));
  check(r.size("SANDBOXD_DEFAULT_MEMORY", c.default_limits.memory_bytes, 6LL << 20));
  check(r.size("SANDBOXD_MAX_MEMORY", c.max_limits.memory_bytes, 6LL << 20));
  check(r.integer("SANDBOXD_DEFAULT_PIDS", c.default_limits.pids, 16, 1 << 22));
  check(r.integer("SANDBOXD_MAX_PIDS", c.max_limits.pids, 16, 1 << 22));
  check(r.integer("SANDBOXD_DEFAULT_NOFILE", c.default_limits.nofile, 64, 1 << 20));
  check(r.integer("SANDBOXD_MAX_NOFILE", c.max_limits.nofile, 64, 1 << 20));
  check(r.size("SANDBOXD_TMPFS_SIZE", c.tmpfs_bytes, 1LL << 20));
  check(r.size("SANDBOXD_DEFAULT_DISK", c.default_limits.disk_bytes, kMinDiskBytes));
  check(r.size("SANDBOXD_MAX_DISK", c.max_limits.disk_bytes, kMinDiskBytes));
  check(r.cpus("SANDBOXD_DEFAULT_CPUS", c.default_limits.cpu_millis));
  check(r.cpus("SANDBOXD_MAX_CPUS", c.max_limits.cpu_millis));
  check(r.integer("SANDBOXD_UID_BASE", c.uid_base, 65536, (int64_t{1} << 31) - 1 - kUidRange));
  check(r.choice("SANDBOXD_EGRESS", c.egress, parse_egress, "public or none"));
  if (const auto* v = r.raw("SANDBOXD_EGRESS_ALLOW"); v && !v->empty()) {
    if (auto allow = parse_egress_allow(*v); allow)
      c.egress_allow = *allow;
    else
      check(bad("SANDBOXD_EGRESS_ALLOW", allow.error().message()));
  }
  check(r.choice("SANDBOXD_RUNTIME", c.isolation, parse_isolation, "runc or gvisor"));
  check(r.integer("SANDBOXD_MAX_SANDBOXES", c.max_sandboxes, 1, 1000000));
  check(r.integer("SANDBOXD_MAX_RUNNING", c.max_running, 1, 1000000));
  check(r.str("SANDBOXD_CGROUP_ROOT", c.cgroup_root));
  check(r.integer("SANDBOXD_STOP_TIMEOUT_SECONDS", c.stop_timeout_s, 0, 600));
  check(r.integer("SANDBOXD_DOCKER_TIMEOUT_SECONDS", c.docker_timeout_s, 5, 3600));
  check(r.integer("SANDBOXD_EXEC_DEFAULT_TIMEOUT_SECONDS", c.exec_default_timeout_s, 1, 86400));
  check(r.integer("SANDBOXD_EXEC_MAX_TIMEOUT_SECONDS", c.exec_max_timeout_s, 1, 86400));
  check(r.size("SANDBOXD_EXEC_OUTPUT_MAX_BYTES", c.exec_output_max_bytes, 1024));
  check(r.size("SANDBOXD_MAX_BODY_BYTES", c.max_body_bytes, 1024));
  check(r.size("SANDBOXD_FILES_MAX_BYTES", c.files_max_bytes, 1024));
  check(r.integer("SANDBOXD_HTTP_THREADS", c.http_threads, 8, 1024));
  check(r.integer("SANDBOXD_MAX_CONCURRENT_EXECS", c.max_concurrent_execs, 1, 1024));
  check(r.integer("SANDBOXD_TASK_MAX_TIMEOUT_SECONDS", c.task_max_timeout_s, 1, 7 * 86400));
  check(r.integer("SANDBOXD_TASK_RETENTION_DAYS", c.task_retention_days, 1, 3650));
  check(r.integer("SANDBOXD_TASK_MAX_FINISHED_PER_SANDBOX", c.task_max_finished, 1, 100000));
  check(r.integer("SANDBOXD_KEEPALIVE_MAX_SECONDS", c.keepalive_max_s, 60, 30 * 86400));
  check(r.integer("SANDBOXD_IDLE_THRESHOLD_SECONDS", c.idle_threshold_s, 1, 365 * 86400));
  check(r.integer("SANDBOXD_FREEZE_AFTER_SECONDS", c.freeze_after_s, 0, 365 * 86400));
  check(r.integer("SANDBOXD_IDLE_REAP_INTERVAL_SECONDS", c.idle_reap_interval_s, 0, 86400));
  check(r.integer("SANDBOXD_MAX_SNAPSHOTS_PER_SANDBOX", c.max_snapshots_per_sandbox, 0, 10000));
  check(r.size("SANDBOXD_SNAPSHOTS_MAX_BYTES", c.snapshots_max_bytes, 0));
  check(r.integer("SANDBOXD_WARM_POOL", c.warm_pool, 0, 64));
  check(r.integer("SANDBOXD_RECONCILE_INTERVAL_SECONDS", c.reconcile_interval_s, 0, 86400));
  check(r.integer("SANDBOXD_MEM_HEADROOM_PCT", c.mem_headroom_pct, 0, 100));
  check(r.integer("SANDBOXD_MEM_REFUSE_PCT", c.mem_refuse_pct, 0, 100));
  check(r.integer("SANDBOXD_MEM_EMERGENCY_PCT", c.mem_emergency_pct, 0, 100));
  check(r.integer("SANDBOXD_PRESSURE_INTERVAL_SECONDS", c.pressure_interval_s, 0, 86400));
  check(r.integer("SANDBOXD_WAKE_TIMEOUT_SECONDS", c.wake_timeout_s, 1, 3600));
  check(r.integer("SANDBOXD_WAKE_MAX_CONNECTIONS", c.wake_max_connections, 16, 1 << 20));
  check(r.integer("SANDBOXD_EDGE_THREADS", c.edge_threads, 0, 64));
  check(r.integer("SANDBOXD_EDGE_MAX_CONNECTIONS_PER_CLIENT", c.edge_max_connections_per_client, 1,
                  1 << 20));
  check(r.integer("SANDBOXD_EDGE_MAX_REQUESTS_PER_SANDBOX", c.edge_max_requests_per_sandbox, 1,
                  1 << 20));
  check(r.integer("SANDBOXD_EDGE_HEADER_TIMEOUT_SECONDS", c.edge_header_timeout_s, 1, 3600));
  check(r.integer("SANDBOXD_EDGE_IDLE_TIMEOUT_SECONDS", c.edge_idle_timeout_s, 1, 86400));
  check(r.integer("SANDBOXD_EDGE_UPSTREAM_TIMEOUT_SECONDS", c.edge_upstream_timeout_s, 1, 86400));
  check(r.str("SANDBOXD_EDGE_TRUSTED_PROXIES", c.edge_trusted_proxies));
  if (auto trusted = TrustedProxies::parse(c.edge_trusted_proxies); !trusted)
    check(bad("SANDBOXD_EDGE_TRUSTED_PROXIES", trusted.error().message()));
  check(r.boolean("SANDBOXD_DOCKER_EVENTS", c.docker_events));
  check(r.str("PREVIEW_DOMAIN", c.preview_domain));
  check(r.integer("HTTP_PORT", c.http_port, 1, 65535));
  check(r.integer("HTTPS_PORT", c.https_port, 1, 65535));
  check(r.boolean("PREVIEW_TLS", c.preview_tls));
  check(r.str("SANDBOXD_LOG_LEVEL", c.log_level));
  check(r.choice("SANDBOXD_LOG_FORMAT", c.log_format, parse_log_format, "text or json"));
  if (!st.is_ok()) return st;

  if (c.mem_emergency_pct > c.mem_refuse_pct || c.mem_refuse_pct > c.mem_headroom_pct) {
    return bad("SANDBOXD_MEM_REFUSE_PCT",
               "must lie between SANDBOXD_MEM_EMERGENCY_PCT and SANDBOXD_MEM_HEADROOM_PCT");
  }
  // Keep /healthz, /readyz and ordinary calls served while execs hold workers.
  if (const auto* v = r.raw("SANDBOXD_MAX_CONCURRENT_EXECS"); !v || v->empty()) {
    c.max_concurrent_execs = std::min(32, c.http_threads - 4);
  }
  if (c.max_concurrent_execs > c.http_threads - 4) {
    return bad("SANDBOXD_MAX_CONCURRENT_EXECS",
               "must leave at least 4 of SANDBOXD_HTTP_THREADS free");
  }
  if (c.data_dir.find_first_of(",:\n") != std::string::npos) {
    return bad("SANDBOXED_DATA_DIR",
               "must not contain ',', ':' or newlines (it is used in docker mount specs)");
  }
  if (!valid_instance(c.instance)) {
    return bad("SANDBOXD_INSTANCE",
               "must be 1-24 characters of [a-z0-9-], starting with a letter or digit");
  }
  if (!valid_docker_name(c.network))
    return bad("SANDBOXD_NETWORK", "not a valid docker network name");
  if (c.image.empty() || c.image.find_first_of(" \t\n") != std::string::npos || c.image[0] == '-') {
    return bad("SANDBOXD_IMAGE", "not a valid image reference");
  }
  if (c.default_limits.memory_bytes > c.max_limits.memory_bytes)
    return bad("SANDBOXD_DEFAULT_MEMORY", "exceeds SANDBOXD_MAX_MEMORY");
  if (c.default_limits.pids > c.max_limits.pids)
    return bad("SANDBOXD_DEFAULT_PIDS", "exceeds SANDBOXD_MAX_PIDS");
  if (c.default_limits.nofile > c.max_limits.nofile)
    return bad("SANDBOXD_DEFAULT_NOFILE", "exceeds SANDBOXD_MAX_NOFILE");
  if (c.default_limits.disk_bytes > c.max_limits.disk_bytes)
    return bad("SANDBOXD_DEFAULT_DISK", "exceeds SANDBOXD_MAX_DISK");
  if (c.default_limits.cpu_millis > c.max_limits.cpu_millis)
    return bad("SANDBOXD_DEFAULT_CPUS", "exceeds SANDBOXD_MAX_CPUS");
  if (c.max_running > c.max_sandboxes)
    return bad("SANDBOXD_MAX_RUNNING", "exceeds SANDBOXD_MAX_SANDBOXES");
  if (c.exec_default_timeout_s > c.exec_max_timeout_s)
    return bad("SANDBOXD_EXEC_DEFAULT_TIMEOUT_SECONDS",
               "exceeds SANDBOXD_EXEC_MAX_TIMEOUT_SECONDS");
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok |= c.log_level == l;
  if (!level_ok) {
    return bad("SANDBOXD_LOG_LEVEL",
               "expected one of trace, debug, info, warn, error, critical, off");
  }
  for (char ch : c.preview_domain)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.'))
      return bad("PREVIEW_DOMAIN", "not a valid domain name");
  if (c.wake_host == c.api_host && c.wake_port == c.api_port && c.api_port != 0)
    return bad("SANDBOXD_WAKE_BIND", "must differ from SANDBOXED_API_BIND");
  if (c.auth_disabled && !is_loopback_host(c.api_host)) {
    return bad("SANDBOXD_API_AUTH_DISABLED",
               "auth may be disabled only on a loopback bind, and SANDBOXED_API_BIND binds " +
                   c.api_host + ": keep auth on (SANDBOXD_API_TOKENS) or bind 127.0.0.1");
  }
  // The old escape hatch for a public unauthenticated API is gone: say so, not ignore it.
  if (const auto* v = r.raw("SANDBOXD_ALLOW_PUBLIC_UNAUTHENTICATED"); v && !v->empty()) {
    bool on = false;
    if (auto s = r.boolean("SANDBOXD_ALLOW_PUBLIC_UNAUTHENTICATED", on); !s.is_ok()) return s;
    if (on)
      return bad("SANDBOXD_ALLOW_PUBLIC_UNAUTHENTICATED",
                 "no longer supported: an API off loopback always needs a token");
  }
  c.unknown_vars = unknown_vars(env, r.asked());
  return c;
}

}  // namespace sandboxd
