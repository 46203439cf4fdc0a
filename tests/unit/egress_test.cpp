#include "sandboxd/net/egress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "fakes/fake_process_runner.h"

namespace sandboxd {
namespace {

const char* const kBlocked[] = {
    "0.0.0.0/8",       "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",    "169.254.0.0/16",
    "172.16.0.0/12",   "192.0.0.0/24",   "192.0.2.0/24",  "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",   "240.0.0.0/4",
};

using Rule = std::vector<std::string>;

EgressPlan plan() {
  EgressPlan p;
  p.instance = "default";
  p.public_bridge = "br-pub";
  p.none_bridge = "br-none";
  p.allow = {{"10.0.0.5/32", 443}, {"192.168.7.0/24", 0}};
  p.dns = {"10.255.255.53"};
  return p;
}

std::string join(const Rule& r) {
  std::string out;
  for (const auto& s : r) out += (out.empty() ? "" : " ") + s;
  return out;
}

// The rules of one bridge, in chain order.
std::vector<Rule> bridge_rules(const EgressPlan& p, char kind, const std::string& bridge) {
  std::vector<Rule> out;
  for (auto& r : egress_rules(p, kind))
    if (r.size() > 1 && r[1] == bridge) out.push_back(r);
  return out;
}

std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

bool has_rule(const std::vector<Rule>& rules, const Rule& want) {
  return std::find(rules.begin(), rules.end(), want) != rules.end();
}

// ---- parse_egress_allow ------------------------------------------------------------

TEST(ParseEgressAllowTest, AcceptsAndNormalizes) {
  struct Case {
    const char* name;
    const char* input;
    std::vector<std::pair<std::string, int>> want;
  };
  const Case cases[] = {
      {"empty list", "", {}},
      {"only separators", " ,\t, \n", {}},
      {"bare address becomes /32", "10.0.0.5", {{"10.0.0.5/32", 0}}},
      {"address with port", "10.0.0.5:443", {{"10.0.0.5/32", 443}}},
      {"cidr", "192.168.1.0/24", {{"192.168.1.0/24", 0}}},
      {"cidr with port", "192.168.1.0/24:8080", {{"192.168.1.0/24", 8080}}},
      {"host bits cleared", "10.1.2.3/8", {{"10.0.0.0/8", 0}}},
      {"host bits cleared /20", "172.16.255.9/20:22", {{"172.16.240.0/20", 22}}},
      {"prefix 0", "1.2.3.4/0", {{"0.0.0.0/0", 0}}},
      {"extremes", "255.255.255.255/32:65535", {{"255.255.255.255/32", 65535}}},
      {"zero octets", "0.0.0.0", {{"0.0.0.0/32", 0}}},
      {"port 1", "8.8.8.8:1", {{"8.8.8.8/32", 1}}},
      {"comma and space separated",
       "1.2.3.4, 5.6.7.8/16:22 \t9.9.9.9,10.0.0.1",
       {{"1.2.3.4/32", 0}, {"5.6.0.0/16", 22}, {"9.9.9.9/32", 0}, {"10.0.0.1/32", 0}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = parse_egress_allow(c.input);
    ASSERT_TRUE(got.has_value()) << got.error().message();
    ASSERT_EQ(got->size(), c.want.size());
    for (std::size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ((*got)[i].cidr, c.want[i].first);
      EXPECT_EQ((*got)[i].port, c.want[i].second);
    }
  }
}

TEST(ParseEgressAllowTest, RejectsAndNamesTheEntry) {
  struct Case {
    const char* name;
    const char* input;
    const char* bad;  // the entry the message must name
  };
  const Case cases[] = {
      {"octet over 255", "256.1.1.1", "256.1.1.1"},
      {"three octets", "1.2.3", "1.2.3"},
      {"five octets", "1.2.3.4.5", "1.2.3.4.5"},
      {"empty octet", "1..3.4", "1..3.4"},
      {"trailing dot", "1.2.3.4.", "1.2.3.4."},
      {"leading zero octet (octal to inet_aton)", "10.010.0.1", "10.010.0.1"},
      {"four digit octet", "1.2.3.0004", "1.2.3.0004"},
      {"hex octet", "0x7f.0.0.1", "0x7f.0.0.1"},
      {"signed octet", "+1.2.3.4", "+1.2.3.4"},
      {"host name", "example.com", "example.com"},
      {"host name with port", "proxy.internal:443", "proxy.internal:443"},
      {"localhost", "localhost", "localhost"},
      {"prefix 33", "10.0.0.0/33", "10.0.0.0/33"},
      {"empty prefix", "10.0.0.0/", "10.0.0.0/"},
      {"prefix leading zero", "10.0.0.0/08", "10.0.0.0/08"},
      {"negative prefix", "10.0.0.0/-1", "10.0.0.0/-1"},
      {"netmask prefix", "10.0.0.0/255.0.0.0", "10.0.0.0/255.0.0.0"},
      {"port 0", "10.0.0.5:0", "10.0.0.5:0"},
      {"port 65536", "10.0.0.5:65536", "10.0.0.5:65536"},
      {"empty port", "10.0.0.5:", "10.0.0.5:"},
      {"named port", "10.0.0.5:https", "10.0.0.5:https"},
      {"port leading zero", "10.0.0.5:0443", "10.0.0.5:0443"},
      {"two ports", "10.0.0.5:1:2", "10.0.0.5:1:2"},
      {"port range", "10.0.0.5:80-90", "10.0.0.5:80-90"},
      {"ipv6 loopback", "::1", "::1"},
      {"ipv6 address", "2001:db8::1", "2001:db8::1"},
      {"bracketed ipv6 with port", "[2001:db8::1]:443", "[2001:db8::1]:443"},
      {"port before prefix", "10.0.0.5:443/32", "10.0.0.5:443/32"},
      {"bad one among good ones", "1.2.3.4, 300.0.0.1:80, 5.6.7.8", "300.0.0.1:80"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = parse_egress_allow(c.input);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code(), Code::kInvalidArgument);
    EXPECT_NE(got.error().message().find(std::string("\"") + c.bad + "\""), std::string::npos)
        << got.error().message();
  }
}

// ---- dns_upstreams -----------------------------------------------------------------

TEST(DnsUpstreamsTest, KeepsNonLoopbackIpv4InOrderOnce) {
  const std::string conf =
      "# generated\n"
      "search example.internal\n"
      "nameserver 127.0.0.53\n"
      "nameserver 10.255.255.53 # the VPC resolver\n"
      "nameserver 2001:4860:4860::8888\n"
      "nameserver\t169.254.169.253\n"
      "  nameserver 10.255.255.53\n"
      "; nameserver 8.8.8.8\n"
      "options edns0\n"
      "nameserver 127.0.0.11\n";
  EXPECT_EQ(dns_upstreams(conf), (std::vector<std::string>{"10.255.255.53", "169.254.169.253"}));
  EXPECT_TRUE(dns_upstreams("nameserver 127.0.0.1\n").empty());
  EXPECT_TRUE(dns_upstreams("").empty());
}

// ---- chain names and rules ---------------------------------------------------------

TEST(EgressChainTest, NamesAreStableShortAndDistinct) {
  // FNV-1a 32-bit: "default" -> 933b5bde (and the published vector "a" -> e40c292c).
  EXPECT_EQ(egress_chain("default", 'F'), "SANDBOXED-F-933b5bde");
  EXPECT_EQ(egress_chain("default", 'I'), "SANDBOXED-I-933b5bde");
  EXPECT_EQ(egress_chain("a", 'F'), "SANDBOXED-F-e40c292c");
  for (const char* inst : {"default", "a", "it-1234567890abcdefghij", "prod"}) {
    for (char kind : {'F', 'I'}) {
      EXPECT_LE(egress_chain(inst, kind).size(), 28u) << inst;
      EXPECT_EQ(egress_chain(inst, kind), egress_chain(inst, kind));
    }
    EXPECT_NE(egress_chain(inst, 'F'), egress_chain(inst, 'I'));
  }
  EXPECT_NE(egress_chain("prod", 'F'), egress_chain("staging", 'F'));
}

TEST(EgressRulesTest, RestoreTextDefinesBothChainsAndCommits) {
  const auto p = plan();
  const std::string text = egress_restore_input(p);
  const std::string f = egress_chain("default", 'F'), i = egress_chain("default", 'I');
  EXPECT_EQ(text.rfind("*filter\n:" + f + " - [0:0]\n:" + i + " - [0:0]\n", 0), 0u) << text;
  EXPECT_EQ(text.substr(text.size() - 7), "COMMIT\n");
  // Every line between the header and COMMIT is one of egress_rules(), in order.
  std::ostringstream want;
  want << "*filter\n:" << f << " - [0:0]\n:" << i << " - [0:0]\n";
  for (char kind : {'F', 'I'})
    for (const auto& r : egress_rules(p, kind))
      want << "-A " << egress_chain("default", kind) << " " << join(r) << "\n";
  want << "COMMIT\n";
  EXPECT_EQ(text, want.str());
}

TEST(EgressRulesTest, PublicBridgeRejectsEveryBlockedRange) {
  const auto p = plan();
  const std::string text = egress_restore_input(p);
  const std::string f = egress_chain("default", 'F');
  for (const char* range : kBlocked) {
    EXPECT_NE(text.find("-A " + f + " -i br-pub -d " + range + " -j REJECT\n"), std::string::npos)
        << range;
  }
  const auto rules = bridge_rules(p, 'F', "br-pub");
  EXPECT_TRUE(has_rule(rules, {"-i", "br-pub", "-o", "docker0", "-j", "REJECT"}));
  EXPECT_TRUE(has_rule(rules, {"-i", "br-pub", "-o", "br-+", "-j", "REJECT"}));
  // Public traffic falls through (RETURN to Docker): no catch-all reject.
  EXPECT_FALSE(has_rule(rules, {"-i", "br-pub", "-j", "REJECT"}));
  // The host itself: everything but replies and exceptions is rejected.
  EXPECT_EQ(bridge_rules(p, 'I', "br-pub").back(), (Rule{"-i", "br-pub", "-j", "REJECT"}));
}

TEST(EgressRulesTest, NoneBridgeRejectsEverything) {
  const auto p = plan();
  for (char kind : {'F', 'I'}) {
    SCOPED_TRACE(kind);
    const auto rules = bridge_rules(p, kind, "br-none");
    ASSERT_FALSE(rules.empty());
    EXPECT_EQ(rules.back(), (Rule{"-i", "br-none", "-j", "REJECT"}));
    for (const auto& r : rules) {  // nothing after ESTABLISHED and the exceptions may pass
      if (r.back() == "RETURN") {
        EXPECT_TRUE(r[3] == "conntrack" || r[2] == "-d") << join(r);
      }
    }
  }
}

TEST(EgressRulesTest, EstablishedFirstThenExceptionsThenRejects) {
  const auto p = plan();
  for (char kind : {'F', 'I'}) {
    for (const char* bridge : {"br-pub", "br-none"}) {
      SCOPED_TRACE(std::string(1, kind) + " " + bridge);
      const auto rules = bridge_rules(p, kind, bridge);
      ASSERT_GE(rules.size(), 2u);
      EXPECT_EQ(rules[0], (Rule{"-i", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                "-j", "RETURN"}));
      const Rule want_exceptions[] = {
          {"-i", bridge, "-d", "10.0.0.5/32", "-p", "tcp", "--dport", "443", "-j", "RETURN"},
          {"-i", bridge, "-d", "192.168.7.0/24", "-j", "RETURN"},
      };
      // The DNS upstreams: public egress only.
      const Rule dns[] = {
          {"-i", bridge, "-d", "10.255.255.53/32", "-p", "udp", "--dport", "53", "-j", "RETURN"},
          {"-i", bridge, "-d", "10.255.255.53/32", "-p", "tcp", "--dport", "53", "-j", "RETURN"},
      };
      const bool none = std::string(bridge) == "br-none";
      auto first_reject = std::find_if(rules.begin(), rules.end(),
                                       [](const Rule& r) { return r.back() == "REJECT"; });
      ASSERT_NE(first_reject, rules.end());
      for (const auto& want : want_exceptions) {
        auto at = std::find(rules.begin(), rules.end(), want);
        ASSERT_NE(at, rules.end()) << join(want);
        EXPECT_LT(at, first_reject) << join(want);
      }
      for (const auto& want : dns) {
        auto at = std::find(rules.begin(), rules.end(), want);
        EXPECT_EQ(at == rules.end(), none) << join(want);
        if (!none) {
          EXPECT_LT(at, first_reject) << join(want);
        }
      }
    }
  }
}

TEST(EgressRulesTest, EmptyBridgeIsSkipped) {
  auto p = plan();
  p.none_bridge.clear();
  for (char kind : {'F', 'I'}) {
    for (const auto& r : egress_rules(p, kind)) EXPECT_EQ(r[1], "br-pub");
  }
  p.public_bridge.clear();
  EXPECT_TRUE(egress_rules(p, 'F').empty());
  EXPECT_EQ(egress_restore_input(p),
            "*filter\n:SANDBOXED-F-933b5bde - [0:0]\n"
            ":SANDBOXED-I-933b5bde - [0:0]\nCOMMIT\n");
}

// ---- EgressFirewall with scripted replies ------------------------------------------

const Rule kJumpF = {
    "-m", "comment", "--comment", "sandboxed default", "-j", "SANDBOXED-F-933b5bde"};
const Rule kJumpI = {
    "-m", "comment", "--comment", "sandboxed default", "-j", "SANDBOXED-I-933b5bde"};

Rule cat(Rule a, const Rule& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Rule> argvs(FakeProcessRunner& r) {
  std::vector<Rule> out;
  for (const auto& c : r.calls()) out.push_back(c.argv);
  return out;
}

TEST(EgressFirewallTest, InstallRestoresChainsThenAddsOnlyMissingJumps) {
  FakeProcessRunner runner;
  runner.on(cat({"iptables", "-w", "-C", "DOCKER-USER"}, kJumpF), 1, "",
            "iptables: Bad rule (does a matching rule exist in that chain?).");
  // INPUT's jump is there already (unscripted calls exit 0).
  EgressFirewall fw(runner);
  ASSERT_TRUE(fw.install(plan()).is_ok());

  const auto calls = runner.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].argv, (Rule{"iptables-restore", "-w", "--noflush"}));
  EXPECT_EQ(calls[0].stdin_data, egress_restore_input(plan()));
  EXPECT_EQ(calls[1].argv, cat({"iptables", "-w", "-C", "DOCKER-USER"}, kJumpF));
  EXPECT_EQ(calls[2].argv, cat({"iptables", "-w", "-I", "DOCKER-USER", "1"}, kJumpF));
  EXPECT_EQ(calls[3].argv, cat({"iptables", "-w", "-C", "INPUT"}, kJumpI));
}

TEST(EgressFirewallTest, InstallWithBothJumpsPresentInsertsNothing) {
  FakeProcessRunner runner;
  EgressFirewall fw(runner, "/usr/sbin/iptables-nft");
  ASSERT_TRUE(fw.install(plan()).is_ok());
  for (const auto& argv : argvs(runner)) {
    EXPECT_EQ(std::find(argv.begin(), argv.end(), "-I"), argv.end()) << join(argv);
  }
  EXPECT_EQ(argvs(runner)[0][0], "/usr/sbin/iptables-nft-restore");
}

TEST(EgressFirewallTest, EveryIptablesCallWaitsForTheLock) {
  FakeProcessRunner runner;
  EgressFirewall fw(runner);
  ASSERT_TRUE(fw.install(plan()).is_ok());
  ASSERT_TRUE(fw.check(plan()).has_value());
  ASSERT_TRUE(fw.remove("default").is_ok());
  for (const auto& argv : argvs(runner)) {
    ASSERT_GE(argv.size(), 2u);
    EXPECT_EQ(argv[1], "-w") << join(argv);
  }
}

TEST(EgressFirewallTest, InstallFailureCarriesStderrAndNamesTheCommand) {
  FakeProcessRunner runner;
  runner.on({"iptables-restore"}, 1, "", "iptables-restore: line 5 failed\n");
  EgressFirewall fw(runner);
  Status s = fw.install(plan());
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("iptables-restore -w --noflush: exit 1"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("line 5 failed"), std::string::npos) << s.message();
  EXPECT_EQ(runner.calls().size(), 1u);  // no jump to chains that may not exist
}

TEST(EgressFirewallTest, InstallWithoutDockerUserSaysWhy) {
  FakeProcessRunner runner;
  runner.on({"iptables", "-w", "-C", "DOCKER-USER"}, 1, "",
            "iptables: No chain/target/match by that name.");
  runner.on({"iptables", "-w", "-I", "DOCKER-USER"}, 1, "",
            "iptables: No chain/target/match by that name.");
  EgressFirewall fw(runner);
  Status s = fw.install(plan());
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("DOCKER-USER missing"), std::string::npos) << s.message();
}

TEST(EgressFirewallTest, NotRootIsUnavailable) {
  FakeProcessRunner runner;
  runner.on(
      {"iptables", "-w", "-S"}, 4, "",
      "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied "
      "(you must be root)\n");
  EgressFirewall fw(runner);
  auto r = fw.check(plan());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_NE(r.error().message().find("you must be root"), std::string::npos);
}

class MissingBinaryRunner final : public ProcessRunner {
 public:
  Result<ProcessOutput> run(const ProcessSpec& spec) override {
    return Status(Code::kUnavailable, "spawn " + spec.argv[0] + ": No such file or directory");
  }
};

TEST(EgressFirewallTest, MissingIptablesIsUnavailableAndSaysInstall) {
  MissingBinaryRunner runner;
  EgressFirewall fw(runner);
  for (Status s : {fw.install(plan()), fw.remove("default"), fw.check(plan()).error_or_ok()}) {
    EXPECT_EQ(s.code(), Code::kUnavailable);
    EXPECT_NE(s.message().find("install iptables"), std::string::npos) << s.message();
  }
}

TEST(EgressFirewallTest, TimeoutIsKTimeout) {
  class SlowRunner final : public ProcessRunner {
   public:
    Result<ProcessOutput> run(const ProcessSpec&) override {
      ProcessOutput o;
      o.exit_code = 137;
      o.timed_out = true;
      return o;
    }
  } runner;
  EgressFirewall fw(runner);
  EXPECT_EQ(fw.install(plan()).code(), Code::kTimeout);
}

TEST(EgressFirewallTest, MalformedPlanIsRejectedBeforeAnyCommand) {
  struct Case {
    const char* name;
    void (*mutate)(EgressPlan&);
  };
  const Case cases[] = {
      {"bridge with a space", [](EgressPlan& p) { p.public_bridge = "br pub"; }},
      {"bridge with a newline", [](EgressPlan& p) { p.none_bridge = "br\n-A INPUT -j ACCEPT"; }},
      {"bridge over 15 chars", [](EgressPlan& p) { p.public_bridge = "br-0123456789abc"; }},
      {"bridge like an option", [](EgressPlan& p) { p.public_bridge = "-j"; }},
      {"same bridge twice", [](EgressPlan& p) { p.none_bridge = p.public_bridge; }},
      {"empty instance", [](EgressPlan& p) { p.instance.clear(); }},
      {"unnormalized cidr",
       [](EgressPlan& p) {
         p.allow = {{"10.1.2.3/8", 0}};
       }},
      {"bare address",
       [](EgressPlan& p) {
         p.allow = {{"10.1.2.3", 0}};
       }},
      {"port out of range",
       [](EgressPlan& p) {
         p.allow = {{"10.0.0.0/8", 70000}};
       }},
      {"dns not ipv4", [](EgressPlan& p) { p.dns = {"dns.example"}; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeProcessRunner runner;
    EgressFirewall fw(runner);
    EgressPlan p = plan();
    c.mutate(p);
    EXPECT_EQ(fw.install(p).code(), Code::kInvalidArgument);
    EXPECT_EQ(fw.check(p).error_or_ok().code(), Code::kInvalidArgument);
    EXPECT_TRUE(runner.calls().empty());
  }
}

TEST(EgressFirewallTest, RemoveToleratesAbsence) {
  FakeProcessRunner runner;
  runner.on({"iptables", "-w", "-C", "DOCKER-USER"}, 2, "",
            "iptables v1.8.9 (nf_tables): Chain 'SANDBOXED-F-933b5bde' does not exist\n");
  runner.on({"iptables", "-w", "-C", "INPUT"}, 2, "",
            "iptables v1.8.9 (legacy): Couldn't load target `SANDBOXED-I-933b5bde':No such file "
            "or directory\n");
  runner.on({"iptables", "-w", "-S"}, 1, "",
            "iptables v1.8.9 (nf_tables): chain `SANDBOXED-F-933b5bde' in table `filter' is "
            "incompatible, use 'nft' tool.\n");
  EgressFirewall fw(runner);
  ASSERT_TRUE(fw.remove("default").is_ok());
  for (const auto& argv : argvs(runner)) {
    EXPECT_TRUE(argv[2] == "-C" || argv[2] == "-S") << join(argv);
  }
}

TEST(EgressFirewallTest, CheckReportsAMissingRule) {
  const auto p = plan();
  const std::string f = egress_chain("default", 'F'), i = egress_chain("default", 'I');
  const Rule gone = {"-i", "br-pub", "-d", "169.254.0.0/16", "-j", "REJECT"};
  std::string listing_f = "-N " + f + "\n", listing_i = "-N " + i + "\n";
  for (const auto& r : egress_rules(p, 'F'))
    if (r != gone) listing_f += "-A " + f + " " + join(r) + "\n";
  for (const auto& r : egress_rules(p, 'I')) listing_i += "-A " + i + " " + join(r) + "\n";
  FakeProcessRunner runner;
  runner.on(cat({"iptables", "-w", "-C", f}, gone), 1, "", "iptables: Bad rule\n");
  runner.on({"iptables", "-w", "-S", f}, 0,
            "# Warning: iptables-legacy tables present\n" + listing_f);
  runner.on({"iptables", "-w", "-S", i}, 0, listing_i);
  EgressFirewall fw(runner);
  auto problems = fw.check(p);
  ASSERT_TRUE(problems.has_value()) << problems.error().message();
  ASSERT_EQ(problems->size(), 1u) << lines(*problems);
  EXPECT_EQ((*problems)[0], "chain " + f + " lacks rule: -i br-pub -d 169.254.0.0/16 -j REJECT");
}

TEST(EgressFirewallTest, CheckReportsForeignRulesAndMissingJumpsAndChains) {
  const auto p = plan();
  const std::string f = egress_chain("default", 'F'), i = egress_chain("default", 'I');
  std::string listing_f = "-N " + f + "\n-A " + f + " -j RETURN\n";
  for (const auto& r : egress_rules(p, 'F')) listing_f += "-A " + f + " " + join(r) + "\n";
  FakeProcessRunner runner;
  runner.on({"iptables", "-w", "-S", f}, 0, listing_f);
  runner.on({"iptables", "-w", "-S", i}, 1, "", "iptables: No chain/target/match by that name.\n");
  runner.on(cat({"iptables", "-w", "-C", "DOCKER-USER"}, kJumpF), 1);
  runner.on({"iptables", "-w", "-C", "FORWARD", "-j", "DOCKER-USER"}, 1);
  EgressFirewall fw(runner);
  auto problems = fw.check(p);
  ASSERT_TRUE(problems.has_value()) << problems.error().message();
  EXPECT_EQ(*problems, (std::vector<std::string>{
                           "chain " + f + " holds 1 rule(s) not in the plan",
                           "no jump from DOCKER-USER to " + f,
                           "chain " + i + " is missing",
                           "no jump from INPUT to " + i,
                           "FORWARD does not jump to DOCKER-USER (does dockerd manage iptables?)",
                       }));
}

// ---- EgressFirewall against a stateful model of the filter table -------------------

// Just enough of iptables' filter table for round trips: -S -C -I -D -F -X and
// iptables-restore --noflush, with its exit codes (1 no such rule or chain, 2 unknown
// target chain).
class FakeIptables final : public ProcessRunner {
 public:
  FakeIptables() {
    chains_["INPUT"];
    chains_["FORWARD"] = {{"-j", "DOCKER-USER"}};
    chains_["DOCKER-USER"] = {{"-j", "RETURN"}};
  }
  std::map<std::string, std::vector<Rule>> chains_;

  Result<ProcessOutput> run(const ProcessSpec& spec) override {
    const auto& a = spec.argv;
    if (a[0] == "iptables-restore") return restore(spec.stdin_data);
    Rule rest(a.begin() + 4, a.end());
    const std::string& op = a[2];
    const std::string& chain = a[3];
    if (op == "-I" || op == "-A") rest.erase(rest.begin(), rest.begin() + (op == "-I" ? 1 : 0));
    if (!chains_.count(chain)) return out(1, "", "iptables: No chain/target/match by that name.");
    auto& rules = chains_[chain];
    if (!target_ok(rest)) return out(2, "", "Chain '" + rest.back() + "' does not exist");
    auto at = std::find(rules.begin(), rules.end(), rest);
    if (op == "-S") {
      std::string s = "-N " + chain + "\n";
      for (const auto& r : rules) s += "-A " + chain + " " + join(r) + "\n";
      return out(0, s);
    }
    if (op == "-C") return out(at == rules.end() ? 1 : 0);
    if (op == "-I") rules.insert(rules.begin(), rest);
    if (op == "-D") {
      if (at == rules.end()) return out(1);
      rules.erase(at);
    }
    if (op == "-F") rules.clear();
    if (op == "-X") {
      if (referenced(chain)) return out(1, "", "iptables: Too many links.");
      chains_.erase(chain);
    }
    return out(0);
  }

  std::vector<Rule> jumps_to(const std::string& chain) const {
    std::vector<Rule> found;
    for (const auto& [name, rules] : chains_)
      for (const auto& r : rules)
        if (r.back() == chain) found.push_back(r);
    return found;
  }

 private:
  static Result<ProcessOutput> out(int code, std::string so = "", std::string se = "") {
    ProcessOutput o;
    o.exit_code = code;
    o.stdout_data = std::move(so);
    o.stderr_data = std::move(se);
    return o;
  }
  bool target_ok(const Rule& r) const {
    if (r.size() < 2 || r[r.size() - 2] != "-j") return true;
    const auto& t = r.back();
    return t == "RETURN" || t == "REJECT" || t == "ACCEPT" || t == "DROP" || chains_.count(t);
  }
  bool referenced(const std::string& chain) const { return !jumps_to(chain).empty(); }
  Result<ProcessOutput> restore(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(":", 0) == 0) chains_[line.substr(1, line.find(' ') - 1)].clear();
      if (line.rfind("-A ", 0) != 0) continue;
      std::istringstream words(line);
      std::string w, chain;
      words >> w >> chain;
      Rule r;
      while (words >> w) r.push_back(w);
      chains_[chain].push_back(r);
    }
    return out(0);
  }
};

TEST(EgressFirewallModelTest, InstallTwiceIsIdempotentCheckIsCleanRemoveLeavesNothing) {
  FakeIptables ipt;
  EgressFirewall fw(ipt);
  const auto p = plan();
  const std::string f = egress_chain("default", 'F'), i = egress_chain("default", 'I');
  ASSERT_TRUE(fw.install(p).is_ok());
  ASSERT_TRUE(fw.install(p).is_ok());
  EXPECT_EQ(ipt.jumps_to(f).size(), 1u);
  EXPECT_EQ(ipt.jumps_to(i).size(), 1u);
  EXPECT_EQ(ipt.chains_["DOCKER-USER"].front(), kJumpF);  // position 1
  EXPECT_EQ(ipt.chains_["INPUT"].front(), kJumpI);
  EXPECT_EQ(ipt.chains_[f], egress_rules(p, 'F'));  // reinstall flushed, not appended
  auto problems = fw.check(p);
  ASSERT_TRUE(problems.has_value());
  EXPECT_TRUE(problems->empty()) << lines(*problems);

  ASSERT_TRUE(fw.remove("default").is_ok());
  EXPECT_EQ(ipt.chains_.count(f), 0u);
  EXPECT_EQ(ipt.chains_.count(i), 0u);
  EXPECT_EQ(ipt.chains_["DOCKER-USER"], (std::vector<Rule>{{"-j", "RETURN"}}));
  EXPECT_TRUE(ipt.chains_["INPUT"].empty());
  ASSERT_TRUE(fw.remove("default").is_ok());  // again: nothing to do
}

TEST(EgressFirewallModelTest, RemoveDeletesEveryCopyOfAJump) {
  FakeIptables ipt;
  EgressFirewall fw(ipt);
  ASSERT_TRUE(fw.install(plan()).is_ok());
  ipt.chains_["DOCKER-USER"].insert(ipt.chains_["DOCKER-USER"].begin(), kJumpF);
  ipt.chains_["INPUT"].push_back(kJumpI);
  ASSERT_TRUE(fw.remove("default").is_ok());
  EXPECT_TRUE(ipt.jumps_to(egress_chain("default", 'F')).empty());
  EXPECT_TRUE(ipt.jumps_to(egress_chain("default", 'I')).empty());
  EXPECT_EQ(ipt.chains_.count(egress_chain("default", 'F')), 0u);
}

TEST(EgressFirewallModelTest, ReinstallWithANewPlanReplacesTheRules) {
  FakeIptables ipt;
  EgressFirewall fw(ipt);
  auto p = plan();
  ASSERT_TRUE(fw.install(p).is_ok());
  p.allow.clear();
  p.none_bridge.clear();
  ASSERT_TRUE(fw.install(p).is_ok());
  EXPECT_EQ(ipt.chains_[egress_chain("default", 'F')], egress_rules(p, 'F'));
  auto problems = fw.check(p);
  ASSERT_TRUE(problems.has_value());
  EXPECT_TRUE(problems->empty());
  // The old plan no longer matches what is installed.
  auto old = fw.check(plan());
  ASSERT_TRUE(old.has_value());
  EXPECT_FALSE(old->empty());
}

TEST(EgressFirewallModelTest, InstancesDoNotTouchEachOther) {
  FakeIptables ipt;
  EgressFirewall fw(ipt);
  auto a = plan();
  auto b = plan();
  b.instance = "other";
  b.public_bridge = "br-b";
  b.none_bridge = "br-b-none";
  ASSERT_TRUE(fw.install(a).is_ok());
  ASSERT_TRUE(fw.install(b).is_ok());
  ASSERT_TRUE(fw.remove("other").is_ok());
  auto problems = fw.check(a);
  ASSERT_TRUE(problems.has_value());
  EXPECT_TRUE(problems->empty());
}

}  // namespace
}  // namespace sandboxd
