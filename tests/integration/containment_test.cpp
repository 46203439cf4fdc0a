// Integration: one tenant cannot hurt the host or another tenant. Each attack runs from
// inside a real sandbox on the real dockerd: writing past its disk quota, burning CPU,
// connecting to a host port and to a container on another network, reading another
// sandbox's workspace as its uid; plus the capacity caps, usage figures, the migration of
// a workspace from before quotas and uids, and the egress rules as installed (private
// ranges and metadata are proven by inspecting the ruleset, never by sending packets
// off this machine).
#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/daemon.h"
#include "sandboxd/net/egress.h"
#include "sandboxd/sandbox/workspace_disks.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Exit 0 when a TCP connection to HOST:PORT succeeds within 2 s, 1 otherwise.
constexpr const char* kProbe =
    "const s = require('net').connect(+process.env.PORT, process.env.HOST, () => process.exit(0));"
    "s.on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 2000);";

json create(Daemon& d, const json& body) {
  auto r = d.http().Post("/v1/sandboxes", body.dump(), "application/json");
  EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer") << d.log();
  return r && r->status == 201 ? json::parse(r->body) : json();
}

json get(Daemon& d, const std::string& id) {
  auto r = d.http().Get("/v1/sandboxes/" + id);
  return r && r->status == 200 ? json::parse(r->body) : json();
}

json sh(Daemon& d, const std::string& id, const std::string& script,
        const std::map<std::string, std::string>& env = {}) {
  return d.exec(id, {{"cmd", {"sh", "-c", script}}, {"env", env}, {"timeout_s", 60}});
}

int probe(Daemon& d, const std::string& from, const std::string& host, int port) {
  json r = d.exec(from, {{"cmd", {"node", "-e", kProbe}},
                         {"env", {{"HOST", host}, {"PORT", std::to_string(port)}}}});
  return r.is_null() ? -1 : r["exit_code"].get<int>();
}

// A TCP listener on every address of the host (the sandbox network's gateway included).
struct HostListener {
  HostListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 64);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~HostListener() { ::close(fd); }
  int fd = -1;
  int port = 0;
};

std::string iptables_rules(const std::string& chain) {
  return run_cmd({"iptables", "-w", "-S", chain}).second;
}

TEST(Containment, WritingPastTheDiskQuotaFailsInThatSandboxOnlyAndTheDiskOutlivesDelete) {
  Daemon d("disk");
  ASSERT_TRUE(d.start()) << d.log();
  json full = create(d, {{"id", "full1"}, {"disk", "32m"}});
  create(d, {{"id", "other1"}});
  EXPECT_EQ(full["limits"]["disk_bytes"], 32 << 20);
  ASSERT_TRUE(is_mount_point(d.workspace("full1"))) << "the workspace is its own filesystem";
  ASSERT_TRUE(fs::exists(d.data_dir() + "/disks/full1.img"));
  // The attack: fill the disk from inside.
  json dd = sh(d, "full1", "echo keep > ~/kept.txt; dd if=/dev/zero of=$HOME/big bs=1M count=64");
  ASSERT_FALSE(dd.is_null());
  EXPECT_NE(dd["exit_code"], 0);
  EXPECT_NE(dd["stderr"].get<std::string>().find("No space left on device"), std::string::npos)
      << dd.dump();
  json after = get(d, "full1");
  EXPECT_GT(after["usage"]["disk_used_bytes"].get<int64_t>(), 24 << 20) << after.dump();
  EXPECT_LE(after["usage"]["disk_used_bytes"].get<int64_t>(), 32 << 20);
  // Everyone else is fine: the other sandbox writes, sandboxd still creates sandboxes.
  json ok = sh(d, "other1", "dd if=/dev/zero of=$HOME/ten bs=1M count=10 && echo done");
  EXPECT_EQ(ok["exit_code"], 0) << ok.dump();
  create(d, {{"id", "third1"}});
  auto health = d.http().Get("/readyz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  // The workspace survives stop, delete and a re-create, and a "reboot" (the disk
  // unmounted behind sandboxd's back): the files API mounts it again.
  ASSERT_EQ(d.http().Post("/v1/sandboxes/full1/stop", "", "application/json")->status, 200);
  ASSERT_EQ(d.http().Delete("/v1/sandboxes/full1")->status, 204);
  EXPECT_FALSE(is_mount_point(d.workspace("full1"))) << "delete unmounts the kept disk";
  create(d, {{"id", "full1"}, {"disk", "64m"}});
  EXPECT_EQ(get(d, "full1")["limits"]["disk_bytes"], 32 << 20) << "a kept disk keeps its size";
  ASSERT_EQ(d.http().Post("/v1/sandboxes/full1/stop", "", "application/json")->status, 200);
  ASSERT_EQ(run_cmd({"umount", d.workspace("full1")}).first, 0);
  auto kept = d.http().Get("/v1/sandboxes/full1/files?path=kept.txt");
  ASSERT_TRUE(kept && kept->status == 200) << (kept ? kept->body : "");
  EXPECT_EQ(json::parse(kept->body)["content"], "keep\n");
  EXPECT_TRUE(is_mount_point(d.workspace("full1")));
  // Purge frees everything: the image, the mount, the directory.
  auto purged = d.http().Post("/v1/sandboxes/full1/purge", "", "application/json");
  ASSERT_TRUE(purged && purged->status == 200) << (purged ? purged->body : "");
  EXPECT_GE(json::parse(purged->body)["freed_bytes"].get<int64_t>(), 32 << 20);
  EXPECT_FALSE(fs::exists(d.data_dir() + "/disks/full1.img"));
  EXPECT_FALSE(fs::exists(d.workspace("full1")));
}

TEST(Containment, AWorkspaceFromBeforeQuotasAndUidsMovesOntoADiskAndItsOwnUidOnStart) {
  Daemon d("migrate");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, {{"id", "old1"}});
  ASSERT_EQ(d.http().Post("/v1/sandboxes/old1/stop", "", "application/json")->status, 200);
  ASSERT_TRUE(d.stop());
  // Make it what an earlier sandboxd left: a plain directory owned by the shared uid
  // 1000, a row with no uid and no disk.
  ASSERT_EQ(run_cmd({"umount", d.workspace("old1")}).first, 0);
  fs::remove(d.data_dir() + "/disks/old1.img");
  fs::create_directories(d.workspace("old1") + "/workspace/app");
  std::ofstream(d.workspace("old1") + "/workspace/app/index.js") << "console.log(1)\n";
  ASSERT_EQ(run_cmd({"chown", "-R", "1000:1000", d.workspace("old1")}).first, 0);
  {
    SQLite::Database db(d.data_dir() + "/state/sandboxd.db", SQLite::OPEN_READWRITE);
    db.exec("UPDATE sandboxes SET uid = 0, disk_bytes = 0, cpu_millis = 0 WHERE id = 'old1'");
  }
  ASSERT_TRUE(d.start()) << d.log();
  auto started = d.http().Post("/v1/sandboxes/old1/start", "", "application/json");
  ASSERT_TRUE(started && started->status == 200) << (started ? started->body : "") << d.log();
  json row = json::parse(started->body);
  EXPECT_GE(row["uid"].get<int64_t>(), 0x70000000);
  EXPECT_EQ(row["limits"]["disk_bytes"], 256 << 20);
  EXPECT_TRUE(is_mount_point(d.workspace("old1")));
  json r =
      sh(d, "old1", "cat index.js; stat -c %U workspace 2>/dev/null || stat -c %U index.js; id -u");
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["stdout"],
            "console.log(1)\nsandbox\n" + std::to_string(row["uid"].get<int64_t>()) + "\n")
      << r.dump();
}

TEST(Containment, ASandboxCannotReadAnotherWorkspaceAsItsUidAndNoHostAccountHoldsIt) {
  Daemon d("uid");
  ASSERT_TRUE(d.start()) << d.log();
  json a = create(d, {{"id", "a1"}});
  json b = create(d, {{"id", "b1"}});
  const int64_t ua = a["uid"], ub = b["uid"];
  EXPECT_NE(ua, ub);
  json who = sh(d, "a1", "id -u; id -un; echo $HOME");
  EXPECT_EQ(who["stdout"], std::to_string(ua) + "\nsandbox\n/home/sandbox\n");
  sh(d, "b1", "echo secret-of-b > ~/workspace/app/.env");
  // The attack, as a process escaped with a's uid would try it on the host.
  auto [rc, out] =
      run_cmd({"setpriv", "--reuid=" + std::to_string(ua), "--regid=" + std::to_string(ua),
               "--clear-groups", "cat", d.workspace("b1") + "/workspace/app/.env"});
  EXPECT_NE(rc, 0) << out;
  EXPECT_EQ(out.find("secret-of-b"), std::string::npos);
  // No host account holds either uid; doctor says so, and fails once one does.
  for (int64_t u : {ua, ub}) EXPECT_NE(run_cmd({"getent", "passwd", std::to_string(u)}).first, 0);
  std::map<std::string, std::string> env = {{"SANDBOXD_INSTANCE", d.instance()},
                                            {"SANDBOXED_DATA_DIR", d.data_dir()}};
  auto doctor = [&] {
    std::vector<std::string> argv = {"env"};
    for (const auto& [k, v] : env) argv.push_back(k + "=" + v);
    for (const char* a : {SANDBOXD_BINARY, "doctor", "--env-file", "/dev/null"}) argv.push_back(a);
    return run_cmd(argv);
  };
  EXPECT_NE(doctor().second.find("which no host account holds"), std::string::npos);
  const std::string clash = std::to_string(0x70000000 + 12345);
  ASSERT_EQ(run_cmd({"useradd", "--no-create-home", "-u", clash, "sbxclash"}).first, 0);
  auto [bad_rc, bad] = doctor();
  run_cmd({"userdel", "sbxclash"});
  EXPECT_NE(bad_rc, 0);
  EXPECT_NE(bad.find("sbxclash"), std::string::npos) << bad;
}

TEST(Containment, SandboxesReachNoHostPortNoOtherNetworkAndOnlyTheAllowedException) {
  HostListener allowed, denied;
  Daemon d("egress", {{"SANDBOXD_RECONCILE_INTERVAL_SECONDS", "1"}});
  ASSERT_TRUE(d.start()) << d.log();
  const std::string gw = network_gateway(d.network());
  ASSERT_FALSE(gw.empty());
  ASSERT_TRUE(d.stop());
  d.set_env("SANDBOXD_EGRESS_ALLOW", gw + ":" + std::to_string(allowed.port));
  ASSERT_TRUE(d.start()) << d.log();
  create(d, {{"id", "pub1"}});
  create(d, {{"id", "none1"}, {"egress", "none"}});
  EXPECT_EQ(get(d, "none1")["egress"], "none");
  // A container of this test on a network of its own, serving a port.
  const std::string net = "sbx-other-" + std::to_string(::getpid());
  const std::string other = net + "-c";
  ASSERT_EQ(run_cmd({"docker", "network", "create", net}).first, 0);
  ASSERT_EQ(run_cmd({"docker", "run", "-d", "--name", other, "--network", net, test_image(), "node",
                     "-e", "require('net').createServer(s => s.end()).listen(4000)"})
                .first,
            0);
  json oc = docker_inspect(other);
  std::string other_ip = oc["NetworkSettings"]["Networks"][net]["IPAddress"];
  EXPECT_EQ(probe(d, "pub1", "127.0.0.1", 9), 1) << "the probe runs";
  EXPECT_EQ(probe(d, "pub1", gw, denied.port), 1) << "a sandbox reached a host port";
  EXPECT_EQ(probe(d, "pub1", gw, allowed.port), 0) << "the allowed exception is closed";
  EXPECT_EQ(probe(d, "pub1", other_ip, 4000), 1) << "a sandbox reached another network";
  EXPECT_EQ(probe(d, "none1", gw, denied.port), 1);
  EXPECT_EQ(probe(d, "none1", gw, allowed.port), 0) << "exceptions hold for egress none too";
  EXPECT_EQ(probe(d, "none1", other_ip, 4000), 1);
  // DNS keeps working: Docker's embedded resolver answers the other sandbox's name.
  json dns = sh(d, "pub1",
                "getent hosts " + d.container("none1") + " || getent hosts " + d.container("pub1"));
  EXPECT_EQ(dns["exit_code"], 0) << dns.dump();
  run_cmd({"docker", "rm", "-f", other});
  run_cmd({"docker", "network", "rm", net});
  // The ruleset: every private, CGNAT, link-local (metadata) and multicast range is
  // rejected from the public network; everything from the none network; the host on any
  // port from both.
  const std::string fwd = egress_chain(d.instance(), 'F');
  const std::string in = egress_chain(d.instance(), 'I');
  std::string f = iptables_rules(fwd);
  for (const char* range : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                            "169.254.0.0/16", "224.0.0.0/4", "127.0.0.0/8"})
    EXPECT_NE(f.find("-d " + std::string(range)), std::string::npos) << range << "\n" << f;
  EXPECT_NE(run_cmd({"iptables", "-w", "-S", "DOCKER-USER"}).second.find("-j " + fwd),
            std::string::npos);
  EXPECT_NE(run_cmd({"iptables", "-w", "-S", "INPUT"}).second.find("-j " + in), std::string::npos);
  EXPECT_NE(iptables_rules(in).find("-j REJECT"), std::string::npos);
  // Removed by hand (as a firewall reload would), they come back with the reconciler. The
  // daemon's reconciler may re-add a jump between remove's steps (then deleting the chain
  // fails as still referenced), so removal is retried until one pass goes through whole.
  PosixProcessRunner runner;
  std::string remove_error;
  ASSERT_TRUE(eventually(
      [&] {
        auto s = EgressFirewall(runner).remove(d.instance());
        remove_error = s.message();
        return s.is_ok();
      },
      std::chrono::seconds(20)))
      << remove_error;
  EXPECT_TRUE(eventually(
      [&] {
        return run_cmd({"iptables", "-w", "-S", "INPUT"}).second.find("-j " + in) !=
               std::string::npos;
      },
      std::chrono::seconds(20)))
      << d.log();
  EXPECT_EQ(probe(d, "pub1", gw, denied.port), 1);
}

// dockerd keeps DOCKER-USER and INPUT across its restarts: the rules are still there
// before sandboxd could put anything back (its reconciler timer and docker events off).
TEST(Containment, EgressRulesSurviveADockerdRestart) {
  Daemon d("egressrs",
           {{"SANDBOXD_RECONCILE_INTERVAL_SECONDS", "0"}, {"SANDBOXD_DOCKER_EVENTS", "false"}});
  ASSERT_TRUE(d.start()) << d.log();
  create(d, {{"id", "r1"}});
  const std::string gw = network_gateway(d.network());
  const std::string fwd = egress_chain(d.instance(), 'F');
  const std::string in = egress_chain(d.instance(), 'I');
  const std::string before = iptables_rules(fwd) + iptables_rules(in);
  ASSERT_NE(before.find("-j REJECT"), std::string::npos) << before;
  // Restart the engine the way this host runs it.
  std::ifstream pidfile("/var/run/docker.pid");
  pid_t dockerd = 0;
  ASSERT_TRUE(pidfile >> dockerd) << "no /var/run/docker.pid";
  if (run_cmd({"sh", "-c", "[ -d /run/systemd/system ]"}).first == 0) {
    ASSERT_EQ(run_cmd({"systemctl", "restart", "docker"}).first, 0);
  } else {
    ASSERT_EQ(::kill(dockerd, SIGTERM), 0);
    ASSERT_TRUE(eventually([&] { return ::kill(dockerd, 0) != 0; }, std::chrono::seconds(60)));
    ASSERT_EQ(run_cmd({SANDBOXD_SOURCE_DIR "/scripts/docker-engine.sh"}).first, 0);
  }
  ASSERT_TRUE(eventually(
      [] {
        return run_cmd({"docker", "version"}).first == 0;
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(iptables_rules(fwd) + iptables_rules(in), before);
  EXPECT_NE(run_cmd({"iptables", "-w", "-S", "DOCKER-USER"}).second.find("-j " + fwd),
            std::string::npos);
  EXPECT_NE(run_cmd({"iptables", "-w", "-S", "INPUT"}).second.find("-j " + in), std::string::npos);
  // And they still hold: the woken sandbox reaches no host port.
  HostListener host;
  auto start = d.http().Post("/v1/sandboxes/r1/start", "", "application/json");
  ASSERT_TRUE(start && start->status == 200) << (start ? start->body : "") << d.log();
  EXPECT_EQ(probe(d, "r1", gw, host.port), 1);
}

// Milliseconds of one GET /healthz.
double healthz_ms(Daemon& d) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = d.http().Get("/healthz");
  EXPECT_TRUE(r && r->status == 200);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Milliseconds from a preview request to a stopped sandbox to its app's answer.
double wake_ms(Daemon& d, const std::string& id) {
  auto stop = d.http().Post("/v1/sandboxes/" + id + "/stop", "", "application/json");
  EXPECT_TRUE(stop && stop->status == 200);
  auto t0 = std::chrono::steady_clock::now();
  auto r = d.preview(id, 3000)->Get("/");
  EXPECT_TRUE(r && r->body == "up") << (r ? r->body : "no answer") << d.log();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(Containment, ACpuBurnerIsHeldToItsCpusAndLeavesHealthzAndWakesInTime) {
  Daemon d("cpu");
  ASSERT_TRUE(d.start()) << d.log();
  create(d, {{"id", "burn1"}, {"cpus", 0.5}});
  create(d, {{"id", "app1"}, {"ports", {3000}}});
  ASSERT_TRUE(d.write_node_app(
      "app1", "require('http').createServer((q, s) => s.end('up')).listen(process.env.PORT);"));
  // Quiet figures first, on this machine, now.
  double quiet_wake = wake_ms(d, "app1");
  double quiet_health = 0;
  for (int i = 0; i < 20; ++i) quiet_health = std::max(quiet_health, healthz_ms(d));
  // The attack: a busy loop per CPU of the host and then some.
  json burn = sh(d, "burn1",
                 "for i in 1 2 3 4 5 6 7 8; do (while :; do :; done) >/dev/null 2>&1 & done; "
                 "echo burning");
  ASSERT_EQ(burn["stdout"], "burning\n") << burn.dump();
  auto cpu = [&] { return get(d, "burn1")["usage"]["cpu_seconds"].get<double>(); };
  double c0 = cpu();
  auto t0 = std::chrono::steady_clock::now();
  double busy_health = 0;
  for (int i = 0; i < 20; ++i) busy_health = std::max(busy_health, healthz_ms(d));
  double busy_wake = wake_ms(d, "app1");
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a window to measure the cap over
  double used = cpu() - c0;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "cpu isolation: healthz max %.1f ms quiet, %.1f ms busy; wake %.0f ms quiet, "
      "%.0f ms busy; burner used %.2f CPUs (cap 0.5)\n",
      quiet_health, busy_health, quiet_wake, busy_wake, used / wall);
  EXPECT_LE(used / wall, 0.5 * 1.3) << "the burner used more than its CPUs";
  // Margins for a shared, noisy 2-core machine: the figures bench_cpu compares closely.
  EXPECT_LT(busy_health, std::max(500.0, quiet_health * 5));
  EXPECT_LT(busy_wake, quiet_wake * 3 + 5000);
}

TEST(Containment, CapsAnswer429WithNothingLeftAndUsageIsReported) {
  Daemon d("caps", {{"SANDBOXD_MAX_SANDBOXES", "2"}, {"SANDBOXD_MAX_RUNNING", "1"}});
  ASSERT_TRUE(d.start()) << d.log();
  create(d, {{"id", "a1"}});
  auto over = d.http().Post("/v1/sandboxes", R"({"id":"b1"})", "application/json");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429) << over->body;
  EXPECT_EQ(json::parse(over->body)["error"]["code"], "capacity") << over->body;
  EXPECT_FALSE(fs::exists(d.workspace("b1")));
  EXPECT_FALSE(fs::exists(d.data_dir() + "/disks/b1.img"));
  EXPECT_EQ(d.containers().size(), 1u);
  EXPECT_EQ(d.http().Get("/v1/sandboxes/b1")->status, 404);
  // Usage of the running one: memory, CPU time, disk.
  sh(d, "a1", "head -c 5000000 /dev/urandom > ~/r.bin");
  json u = get(d, "a1")["usage"];
  EXPECT_GT(u["memory_bytes"].get<int64_t>(), 0) << u.dump();
  EXPECT_GT(u["cpu_seconds"].get<double>(), 0) << u.dump();
  EXPECT_GE(u["disk_used_bytes"].get<int64_t>(), 5000000) << u.dump();
  std::string metrics = d.http().Get("/metrics")->body;
  for (const char* family :
       {"sandboxd_sandbox_memory_bytes ", "sandboxd_sandbox_cpu_seconds ",
        "sandboxd_sandbox_disk_used_bytes ", "sandboxd_sandbox_disk_limit_bytes "})
    EXPECT_NE(metrics.find(family), std::string::npos) << family;
  EXPECT_EQ(metrics.find("sandboxd_sandbox_memory_bytes 0\n"), std::string::npos) << metrics;
  ASSERT_EQ(d.http().Post("/v1/sandboxes/a1/stop", "", "application/json")->status, 200);
  create(d, {{"id", "b1"}});
  auto start = d.http().Post("/v1/sandboxes/a1/start", "", "application/json");
  ASSERT_TRUE(start);
  EXPECT_EQ(start->status, 429) << start->body;
  EXPECT_EQ(get(d, "a1")["status"], "stopped");
}

}  // namespace
}  // namespace sandboxd::testing_support
