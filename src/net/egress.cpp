#include "sandboxd/net/egress.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <sstream>

namespace sandboxd {
namespace {

// Private, reserved and special-purpose IPv4 space a public sandbox must not reach:
// "this network", RFC 1918, CGNAT, loopback, link-local (cloud metadata), IETF
// protocol assignments, the three documentation nets, benchmarking, multicast and
// reserved (which includes 255.255.255.255).
const char* const kBlockedRanges[] = {
    "0.0.0.0/8",       "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",    "169.254.0.0/16",
    "172.16.0.0/12",   "192.0.0.0/24",   "192.0.2.0/24",  "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",   "240.0.0.0/4",
};

const char* const kUserChain = "DOCKER-USER";
const auto kIptablesTimeout = std::chrono::seconds(30);
// More copies of one jump than this means something re-adds it while we delete.
const int kMaxJumpCopies = 64;

// Digits only, no sign, no leading zero (unless the number is 0), at most max_digits.
std::optional<long> parse_number(const std::string& s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<std::uint32_t> parse_ipv4(const std::string& s) {
  std::uint32_t addr = 0;
  std::size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t dot = s.find('.', start);
    if ((i < 3) != (dot != std::string::npos)) return std::nullopt;
    auto octet = parse_number(s.substr(start, dot == std::string::npos ? dot : dot - start), 3);
    if (!octet || *octet > 255) return std::nullopt;
    addr = (addr << 8) | static_cast<std::uint32_t>(*octet);
    start = dot + 1;
  }
  return addr;
}

std::string format_ipv4(std::uint32_t a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  return buf;
}

Status bad_entry(const std::string& entry, const std::string& why) {
  return Status(Code::kInvalidArgument, "egress allow entry \"" + entry + "\": " + why);
}

Result<EgressAllow> parse_entry(const std::string& entry) {
  std::string host = entry;
  EgressAllow out;
  if (auto colon = entry.find(':'); colon != std::string::npos) {
    host = entry.substr(0, colon);
    auto port = parse_number(entry.substr(colon + 1), 5);
    if (!port || *port < 1 || *port > 65535) return bad_entry(entry, "port must be 1-65535");
    out.port = static_cast<int>(*port);
  }
  long prefix = 32;
  if (auto slash = host.find('/'); slash != std::string::npos) {
    auto p = parse_number(host.substr(slash + 1), 2);
    if (!p || *p > 32) return bad_entry(entry, "prefix length must be 0-32");
    prefix = *p;
    host.resize(slash);
  }
  auto addr = parse_ipv4(host);
  if (!addr) return bad_entry(entry, "not an IPv4 address (host names are not accepted)");
  std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  out.cidr = format_ipv4(*addr & mask) + "/" + std::to_string(prefix);
  return out;
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : list) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::uint32_t fnv1a32(const std::string& s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// Names that go into the restore text and argv: no spaces, quotes or newlines can
// smuggle a rule in. Interface names are at most 15 bytes (IFNAMSIZ - 1).
bool valid_token(const std::string& s, std::size_t max_len) {
  if (s.empty() || s.size() > max_len || s[0] == '-') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status validate_instance(const std::string& instance) {
  if (!valid_token(instance, 64))
    return Status(Code::kInvalidArgument, "egress: bad instance name \"" + instance + "\"");
  return Status::ok();
}

Status validate_plan(const EgressPlan& plan) {
  if (auto s = validate_instance(plan.instance); !s.is_ok()) return s;
  for (const auto* b : {&plan.public_bridge, &plan.none_bridge}) {
    if (!b->empty() && !valid_token(*b, 15))
      return Status(Code::kInvalidArgument, "egress: bad bridge name \"" + *b + "\"");
  }
  if (!plan.public_bridge.empty() && plan.public_bridge == plan.none_bridge)
    return Status(Code::kInvalidArgument, "egress: public and none bridge are the same");
  for (const auto& a : plan.allow) {
    auto parsed = parse_entry(a.cidr);
    if (!parsed || parsed->cidr != a.cidr || a.port < 0 || a.port > 65535)
      return Status(Code::kInvalidArgument, "egress: allow entry \"" + a.cidr +
                                                "\" is not a normalized cidr with a valid port");
  }
  for (const auto& d : plan.dns) {
    if (!parse_ipv4(d))
      return Status(Code::kInvalidArgument, "egress: dns upstream \"" + d + "\" is not IPv4");
  }
  return Status::ok();
}

// The exceptions every bridge gets after ESTABLISHED and before its rejects.
// The operator's exceptions; the DNS upstreams only where egress is public (a "none"
// sandbox keeps Docker's resolver for the names of its own network, nothing upstream).
void add_exceptions(const EgressPlan& plan, const std::string& bridge, bool dns,
                    std::vector<std::vector<std::string>>& rules) {
  for (const auto& a : plan.allow) {
    std::vector<std::string> r = {"-i", bridge, "-d", a.cidr};
    if (a.port != 0) r.insert(r.end(), {"-p", "tcp", "--dport", std::to_string(a.port)});
    r.insert(r.end(), {"-j", "RETURN"});
    rules.push_back(std::move(r));
  }
  for (const auto& d : dns ? plan.dns : std::vector<std::string>{}) {
    for (const char* proto : {"udp", "tcp"})
      rules.push_back(
          {"-i", bridge, "-d", d + "/32", "-p", proto, "--dport", "53", "-j", "RETURN"});
  }
}

void add_bridge_rules(const EgressPlan& plan, const std::string& bridge, bool none, char kind,
                      std::vector<std::vector<std::string>>& rules) {
  // Replies first: the edge's own connections into the container (INPUT) and whatever
  // the sandbox was allowed to open (FORWARD).
  rules.push_back(
      {"-i", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"});
  add_exceptions(plan, bridge, /*dns=*/!none, rules);
  if (kind == 'I') {  // any address of the host, any port
    rules.push_back({"-i", bridge, "-j", "REJECT"});
    return;
  }
  rules.push_back({"-i", bridge, "-o", "docker0", "-j", "REJECT"});
  rules.push_back({"-i", bridge, "-o", "br-+", "-j", "REJECT"});  // every other Docker network
  if (none) {
    rules.push_back({"-i", bridge, "-j", "REJECT"});
    return;
  }
  for (const char* range : kBlockedRanges)
    rules.push_back({"-i", bridge, "-d", range, "-j", "REJECT"});
  // Anything else RETURNs to Docker's own FORWARD rules (NAT to the internet).
}

std::vector<std::string> jump_rule(const std::string& instance, char kind) {
  return {
      "-m", "comment", "--comment", "sandboxed " + instance, "-j", egress_chain(instance, kind)};
}

const char* jump_parent(char kind) { return kind == 'F' ? kUserChain : "INPUT"; }

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s.find(' ') == std::string::npos ? s : "\"" + s + "\"";
  }
  return out;
}

// stderr without iptables-nft's "# Warning: iptables-legacy tables present" noise, on
// one line.
std::string clean_stderr(const std::string& err) {
  std::istringstream in(err);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out.empty() ? "(no stderr)" : out;
}

// Runs argv; an error only when it could not run (kUnavailable when the binary is
// missing) or hit the deadline (the xtables lock held by someone else, typically).
Result<ProcessOutput> exec(ProcessRunner& runner, std::vector<std::string> argv,
                           std::string stdin_data) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.stdin_data = std::move(stdin_data);
  spec.timeout = kIptablesTimeout;
  auto out = runner.run(spec);
  if (!out) {
    if (out.error().code() == Code::kUnavailable)
      return Status(Code::kUnavailable,
                    spec.argv[0] + " not found (install iptables): " + out.error().message());
    return out.error().with_context(spec.argv[0]);
  }
  if (out->timed_out)
    return Status(Code::kTimeout, join(spec.argv) + ": timed out (xtables lock held?)");
  return out;
}

Status failed(const std::vector<std::string>& argv, const ProcessOutput& out) {
  std::string msg =
      join(argv) + ": exit " + std::to_string(out.exit_code) + ": " + clean_stderr(out.stderr_data);
  // 4 is iptables' "resource problem": not root, or the lock.
  return Status(out.exit_code == 4 ? Code::kUnavailable : Code::kInternal, msg);
}

std::size_t count_rules(const std::string& listing, const std::string& chain) {
  std::istringstream in(listing);
  std::string line, prefix = "-A " + chain + " ";
  std::size_t n = 0;
  while (std::getline(in, line))
    if (line.compare(0, prefix.size(), prefix) == 0) ++n;
  return n;
}

}  // namespace

Result<std::vector<EgressAllow>> parse_egress_allow(const std::string& list) {
  std::vector<EgressAllow> out;
  for (const auto& entry : split_list(list)) {
    auto a = parse_entry(entry);
    if (!a) return a.error();
    out.push_back(std::move(*a));
  }
  return out;
}

std::vector<std::string> dns_upstreams(const std::string& resolv_conf) {
  std::vector<std::string> out;
  std::istringstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find_first_of("#;"));
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value) || key != "nameserver") continue;
    auto addr = parse_ipv4(value);
    if (!addr || (*addr >> 24) == 127) continue;  // loopback: dialled from the host
    bool seen = false;
    for (const auto& o : out) seen = seen || o == value;
    if (!seen) out.push_back(value);
  }
  return out;
}

std::string docker_iptables(ProcessRunner& runner) {
  for (const char* cmd : {"iptables", "iptables-legacy"}) {
    ProcessSpec spec;
    spec.argv = {cmd, "-w", "-S", kUserChain};
    spec.timeout = std::chrono::seconds(30);
    auto out = runner.run(spec);
    if (out && out->exit_code == 0) return cmd;
  }
  return "iptables";
}

std::string egress_chain(const std::string& instance, char kind) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", fnv1a32(instance));
  return std::string("SANDBOXED-") + kind + "-" + hex;
}

std::vector<std::vector<std::string>> egress_rules(const EgressPlan& plan, char kind) {
  std::vector<std::vector<std::string>> rules;
  if (!plan.public_bridge.empty()) add_bridge_rules(plan, plan.public_bridge, false, kind, rules);
  if (!plan.none_bridge.empty()) add_bridge_rules(plan, plan.none_bridge, true, kind, rules);
  return rules;
}

std::string egress_restore_input(const EgressPlan& plan) {
  std::string out = "*filter\n";
  for (char kind : {'F', 'I'}) out += ":" + egress_chain(plan.instance, kind) + " - [0:0]\n";
  for (char kind : {'F', 'I'}) {
    const std::string chain = egress_chain(plan.instance, kind);
    for (const auto& rule : egress_rules(plan, kind))
      out += "-A " + chain + " " + join(rule) + "\n";
  }
  out += "COMMIT\n";
  return out;
}

EgressFirewall::EgressFirewall(ProcessRunner& runner, std::string iptables)
    : runner_(runner), iptables_(std::move(iptables)) {}

Result<ProcessOutput> EgressFirewall::run_iptables(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {iptables_, "-w"};
  argv.insert(argv.end(), args.begin(), args.end());
  return exec(runner_, std::move(argv), "");
}

Status EgressFirewall::iptables_ok(const std::vector<std::string>& args) {
  auto out = run_iptables(args);
  if (!out) return out.error();
  if (out->exit_code != 0) {
    std::vector<std::string> argv = {iptables_, "-w"};
    argv.insert(argv.end(), args.begin(), args.end());
    return failed(argv, *out);
  }
  return Status::ok();
}

Result<bool> EgressFirewall::list_chain(const std::string& chain, std::string* listing) {
  auto out = run_iptables({"-S", chain});
  if (!out) return out.error();
  // 1: no such chain (iptables-nft words it "... is incompatible, use 'nft' tool").
  if (out->exit_code == 1) return false;
  if (out->exit_code != 0) return failed({iptables_, "-w", "-S", chain}, *out);
  if (listing != nullptr) *listing = std::move(out->stdout_data);
  return true;
}

Result<bool> EgressFirewall::rule_exists(const std::string& chain,
                                         const std::vector<std::string>& rule) {
  std::vector<std::string> args = {"-C", chain};
  args.insert(args.end(), rule.begin(), rule.end());
  auto out = run_iptables(args);
  if (!out) return out.error();
  if (out->exit_code == 0) return true;
  // 1: no such rule or chain. 2 naming the target: the jump's target chain is gone, so
  // no rule can point at it (nft: "Chain 'X' does not exist", legacy: "Couldn't load
  // target `X'").
  if (out->exit_code == 1) return false;
  const std::string& err = out->stderr_data;
  if (out->exit_code == 2 && (err.find("does not exist") != std::string::npos ||
                              err.find("Couldn't load target") != std::string::npos))
    return false;
  args.insert(args.begin(), {iptables_, "-w"});
  return failed(args, *out);
}

Status EgressFirewall::install(const EgressPlan& plan) {
  if (auto s = validate_plan(plan); !s.is_ok()) return s;
  const std::string ctx = "install egress rules of instance " + plan.instance;
  // Chains before jumps: a jump to a chain that does not exist yet is refused.
  std::vector<std::string> restore = {iptables_ + "-restore", "-w", "--noflush"};
  auto out = exec(runner_, restore, egress_restore_input(plan));
  if (!out) return out.error().with_context(ctx);
  if (out->exit_code != 0) return failed(restore, *out).with_context(ctx);
  for (char kind : {'F', 'I'}) {
    const auto jump = jump_rule(plan.instance, kind);
    auto present = rule_exists(jump_parent(kind), jump);
    if (!present) return present.error().with_context(ctx);
    if (*present) continue;
    std::vector<std::string> args = {"-I", jump_parent(kind), "1"};
    args.insert(args.end(), jump.begin(), jump.end());
    if (auto s = iptables_ok(args); !s.is_ok()) {
      if (kind == 'F' && s.message().find("No chain") != std::string::npos)
        return s.with_context(ctx + ": DOCKER-USER missing (dockerd must run with iptables on)");
      return s.with_context(ctx);
    }
  }
  return Status::ok();
}

Result<std::vector<std::string>> EgressFirewall::check(const EgressPlan& plan) {
  if (auto s = validate_plan(plan); !s.is_ok()) return s;
  const std::string ctx = "check egress rules of instance " + plan.instance;
  std::vector<std::string> problems;
  for (char kind : {'F', 'I'}) {
    const std::string chain = egress_chain(plan.instance, kind);
    std::string listing;
    auto exists = list_chain(chain, &listing);
    if (!exists) return exists.error().with_context(ctx);
    if (!*exists) {
      problems.push_back("chain " + chain + " is missing");
      problems.push_back(std::string("no jump from ") + jump_parent(kind) + " to " + chain);
      continue;
    }
    const auto rules = egress_rules(plan, kind);
    std::size_t missing = 0;
    for (const auto& rule : rules) {
      auto present = rule_exists(chain, rule);
      if (!present) return present.error().with_context(ctx);
      if (!*present) {
        ++missing;
        problems.push_back("chain " + chain + " lacks rule: " + join(rule));
      }
    }
    // Every rule present exactly once leaves count == rules.size(); more is foreign.
    std::size_t count = count_rules(listing, chain);
    if (count + missing > rules.size())
      problems.push_back("chain " + chain + " holds " +
                         std::to_string(count + missing - rules.size()) +
                         " rule(s) not in the plan");
    auto jumped = rule_exists(jump_parent(kind), jump_rule(plan.instance, kind));
    if (!jumped) return jumped.error().with_context(ctx);
    if (!*jumped)
      problems.push_back(std::string("no jump from ") + jump_parent(kind) + " to " + chain);
  }
  auto forward = rule_exists("FORWARD", {"-j", kUserChain});
  if (!forward) return forward.error().with_context(ctx);
  if (!*forward)
    problems.push_back("FORWARD does not jump to DOCKER-USER (does dockerd manage iptables?)");
  return problems;
}

Status EgressFirewall::remove(const std::string& instance) {
  if (auto s = validate_instance(instance); !s.is_ok()) return s;
  const std::string ctx = "remove egress rules of instance " + instance;
  for (char kind : {'F', 'I'}) {  // jumps first: a referenced chain cannot be deleted
    const auto jump = jump_rule(instance, kind);
    for (int i = 0; i < kMaxJumpCopies; ++i) {
      auto present = rule_exists(jump_parent(kind), jump);
      if (!present) return present.error().with_context(ctx);
      if (!*present) break;
      std::vector<std::string> args = {"-D", jump_parent(kind)};
      args.insert(args.end(), jump.begin(), jump.end());
      if (auto s = iptables_ok(args); !s.is_ok()) return s.with_context(ctx);
    }
  }
  for (char kind : {'F', 'I'}) {
    const std::string chain = egress_chain(instance, kind);
    auto exists = list_chain(chain, nullptr);
    if (!exists) return exists.error().with_context(ctx);
    if (!*exists) continue;
    if (auto s = iptables_ok({"-F", chain}); !s.is_ok()) return s.with_context(ctx);
    if (auto s = iptables_ok({"-X", chain}); !s.is_ok()) return s.with_context(ctx);
  }
  return Status::ok();
}

}  // namespace sandboxd
