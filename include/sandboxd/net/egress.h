// Egress policy: host iptables rules (filter table, IPv4) that keep sandboxes off
// everything private. A sandbox reaches the public internet and its own preview traffic
// (the edge proxies from the host into the container; the replies are ESTABLISHED), and
// nothing else: no address of the host on any port, no other Docker network, no
// RFC 1918 / CGNAT / loopback / link-local (cloud metadata) / multicast / reserved
// range. Sandboxes with egress "none" live on a second bridge that reaches nothing.
//
// Per sandboxd instance there are two chains, both owned here:
//   SANDBOXED-F-<fnv>  jumped to from DOCKER-USER (container -> elsewhere, FORWARD),
//   SANDBOXED-I-<fnv>  jumped to from INPUT (container -> any address of the host).
// dockerd 20.10 never flushes DOCKER-USER or INPUT: it creates DOCKER-USER only when
// missing, appends its `-j RETURN` only when missing, and re-inserts only its own
// `FORWARD -j DOCKER-USER` jump (libnetwork firewall_linux.go arrangeUserFilterRule,
// iptables.go NewChain/AddReturnRule/EnsureJumpRule); at start it flushes and deletes
// DOCKER, DOCKER-ISOLATION-STAGE-1/2 only. So the rules survive a dockerd restart; a
// reboot or a firewalld reload drops them, and sandboxd installs them again at start.
//
// DNS: Docker's embedded resolver (127.0.0.11) listens inside the container's network
// namespace (a NAT redirect there, libnetwork resolver_unix.go), so the container's own
// query never crosses these chains. The resolver's *upstream* query is different
// (libnetwork resolver.go forwardExtDNS): to a loopback nameserver of the host's
// resolv.conf it is dialled from the host's namespace (not filtered here), to any other
// nameserver from inside the container's namespace, i.e. through these chains. A
// private upstream (a VPC resolver in 10/8, 169.254.169.253, a router in 192.168/16)
// must therefore be listed in EgressPlan::dns, or DNS fails; see dns_upstreams(). The
// "none" bridge gets no such exception: its sandboxes resolve only their own network's
// names (through a loopback upstream of the host, Docker's resolver still forwards).
//
// Pure builders plus EgressFirewall, which drives the `iptables` CLI through a
// ProcessRunner. EgressFirewall is stateless and thread-compatible; iptables itself
// serializes through the xtables lock (`-w`). Each iptables command is bounded at 30 s,
// so a method blocks for up to 30 s per command it runs (check: about one per rule).
#pragma once

#include <string>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/os/process_runner.h"

namespace sandboxd {

// One operator exception (SANDBOXD_EGRESS_ALLOW). port 0: any protocol and port to cidr;
// otherwise TCP to that port only.
struct EgressAllow {
  std::string cidr;  // normalized: network address and prefix, e.g. "10.0.0.0/8"
  int port = 0;
};

// Parses a comma and/or whitespace separated list of `a.b.c.d`, `a.b.c.d/n`,
// `a.b.c.d:port` and `a.b.c.d/n:port`. IPv4 only and strict: octets 0-255 without
// leading zeros (inet_aton would read "010" as octal), prefix 0-32, port 1-65535, no
// host names. A bare address becomes /32 and a cidr its network address (10.1.2.3/8 ->
// 10.0.0.0/8). Empty list: no entries. kInvalidArgument naming the first bad entry.
Result<std::vector<EgressAllow>> parse_egress_allow(const std::string& list);

// The nameservers of a resolv.conf text whose queries dockerd's embedded DNS sends from
// inside the container's namespace: the IPv4 ones outside 127.0.0.0/8, in file order,
// without duplicates. Feed it the file dockerd reads (its "resolv-conf", normally
// /etc/resolv.conf, or /run/systemd/resolve/resolv.conf behind systemd-resolved), or
// the daemon's "dns" list, which dockerd dials from the container even when loopback.
std::vector<std::string> dns_upstreams(const std::string& resolv_conf);

struct EgressPlan {
  std::string instance;            // SANDBOXD_INSTANCE: names the chains and the jump comments
  std::string public_bridge;       // Linux bridge of the "public" network; empty: skipped
  std::string none_bridge;         // Linux bridge of the "none" network; empty: skipped
  std::vector<EgressAllow> allow;  // exceptions for both bridges, before any REJECT
  // IPv4 addresses of the DNS upstreams (dns_upstreams()): UDP and TCP port 53 to each
  // is let through on the public bridge, before any REJECT. Empty: nothing extra.
  std::vector<std::string> dns;
};

// The iptables command whose tables hold dockerd's DOCKER-USER chain: "iptables" (on
// Debian 12 the nf_tables variant), or "iptables-legacy" when only that one has it (a
// host whose dockerd uses the legacy tables, seen from sandboxd's image). "iptables"
// when neither answers (the install then fails with iptables' own words).
std::string docker_iptables(ProcessRunner& runner);

// "SANDBOXED-F-<8 hex>" (kind 'F', the forward chain) or "SANDBOXED-I-<8 hex>" (kind
// 'I', the input chain); the hex is FNV-1a 32-bit of instance, lower case. 20 chars,
// within iptables' 28. Stable across versions: renaming it strands installed rules.
std::string egress_chain(const std::string& instance, char kind);

// The rules of one chain (kind 'F' or 'I'), each as the iptables argv after
// `-A CHAIN`, in order: per bridge (public, then none) ESTABLISHED first, then the
// allow and dns exceptions, then the rejects. Pure.
std::vector<std::vector<std::string>> egress_rules(const EgressPlan& plan, char kind);

// The input for `iptables-restore --noflush`: (re)defines both chains (a `:CHAIN - [0:0]`
// line creates or flushes just that chain) with egress_rules(), then COMMIT, so a
// reinstall swaps the rules atomically and touches no other chain. Pure.
std::string egress_restore_input(const EgressPlan& plan);

class EgressFirewall {
 public:
  // `iptables` is the binary (on PATH or a path); its restore twin is `<iptables>-restore`.
  // It must be the variant dockerd uses (nft or legacy), normally plain "iptables".
  explicit EgressFirewall(ProcessRunner& runner, std::string iptables = "iptables");

  // Installs or refreshes plan's rules; idempotent. The chains are written atomically
  // with iptables-restore --noflush; each jump (DOCKER-USER and INPUT, position 1, with
  // the comment "sandboxed <instance>") is inserted only when `iptables -C` says it is
  // missing. kInvalidArgument for a malformed plan, kUnavailable when iptables is not
  // installed, kInternal (with iptables' stderr) when a command fails, e.g. DOCKER-USER
  // is missing because dockerd does not manage iptables.
  Status install(const EgressPlan& plan);

  // What differs from plan, one sentence per problem; empty when both chains hold exactly
  // their rules and both jumps exist. Each rule is tested with `iptables -C` (robust to
  // the nft/legacy spelling differences of `-S` output), and one `iptables -S` per chain
  // counts the rules, so extra rules show up too. Also reports a missing
  // `FORWARD -j DOCKER-USER`. An error only when iptables cannot be run or checked
  // (not installed: kUnavailable; not root, lock timeout: kUnavailable / kTimeout).
  Result<std::vector<std::string>> check(const EgressPlan& plan);

  // Deletes every copy of both jumps and both chains of instance. Absent is ok.
  Status remove(const std::string& instance);

 private:
  // Runs `<iptables> -w args...`; an error only when it could not run or timed out.
  Result<ProcessOutput> run_iptables(const std::vector<std::string>& args);
  // Runs it and requires exit 0; the error names the command and carries its stderr.
  Status iptables_ok(const std::vector<std::string>& args);
  // Whether chain exists (`-S chain`); when it does, its listing goes to *listing.
  Result<bool> list_chain(const std::string& chain, std::string* listing);
  // `-C chain rule...`: true present, false absent (or its chain or target is absent).
  Result<bool> rule_exists(const std::string& chain, const std::vector<std::string>& rule);

  ProcessRunner& runner_;
  std::string iptables_;
};

}  // namespace sandboxd
