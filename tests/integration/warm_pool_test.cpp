// Integration: the warm pool (SANDBOXD_WARM_POOL) against the real dockerd. A create that
// fits the defaults claims a pre-started sandbox and is then indistinguishable from a
// cold create (API, container, env file, app, stop/start, purge); the pool refills,
// shares fairly under a burst, is left alone by creates that do not fit, and survives a
// sandboxd restart until a restart with a pool of 0 discards it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

constexpr int kPool = 2;
constexpr const char* kHit = R"(sandboxd_warm_pool_claims_total{result="hit"})";
constexpr const char* kMiss = R"(sandboxd_warm_pool_claims_total{result="miss"})";
constexpr const char* kReady = "sandboxd_warm_pool_ready";

// The app: answers every request with the env value the supervisor gave it.
constexpr const char* kEnvApp =
    "require('http').createServer((q, s) => s.end('secret=' + process.env.SECRET_X))"
    ".listen(process.env.PORT);";
json parse(const httplib::Result& r) {
  return r ? json::parse(r->body, nullptr, false) : json(nullptr);
}

httplib::Result post(Daemon& d, const std::string& path, const json& payload = json::object()) {
  return d.http().Post(path, payload.dump(), "application/json");
}

// POST /v1/sandboxes; the created sandbox, or null (and a test failure) unless 201.
json create(Daemon& d, const json& req) {
  auto r = post(d, "/v1/sandboxes", req);
  EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer") << "\n" << d.log();
  return r && r->status == 201 ? parse(r) : json(nullptr);
}

json get(Daemon& d, const std::string& id) {
  auto r = d.http().Get("/v1/sandboxes/" + id);
  return r && r->status == 200 ? parse(r) : json(nullptr);
}

// The value of one series of /metrics ("name" or "name{labels}"); 0 when absent.
double metric(Daemon& d, const std::string& series) {
  auto r = d.http().Get("/metrics");
  if (!r || r->status != 200) return -1;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return 0;
}

bool pool_ready(Daemon& d, int n, seconds deadline = seconds(90)) {
  return eventually([&] { return metric(d, kReady) == n; }, deadline);
}

// The ids of this instance's containers that are no sandbox of the API: the pool's.
std::set<std::string> pool_ids(Daemon& d) {
  std::set<std::string> sandboxes;
  json list = parse(d.http().Get("/v1/sandboxes"));
  EXPECT_TRUE(list.contains("sandboxes") && list["next_after"].is_null()) << list.dump();
  for (const auto& s : list.value("sandboxes", json::array()))
    sandboxes.insert(s["id"].get<std::string>());
  auto [rc, out] =
      run_cmd({"docker", "ps", "-a", "--filter", "label=sandboxed.instance=" + d.instance(),
               "--format", "{{.Label \"sandboxed.id\"}}"});
  std::set<std::string> pooled;
  std::istringstream lines(out);
  for (std::string id; std::getline(lines, id);)
    if (!id.empty() && !sandboxes.count(id)) pooled.insert(id);
  return pooled;
}

json exec(Daemon& d, const std::string& id, const json& cmd) {
  json r = d.exec(id, {{"cmd", cmd}});
  EXPECT_FALSE(r.is_null()) << "exec " << cmd.dump() << " in " << id << "\n" << d.log();
  return r.is_null() ? json::object() : r;
}

// The body the app serves through the edge's preview of `id`'s port 3000 ("" unless 200).
std::string preview_body(Daemon& d, const std::string& id) {
  auto r = d.preview(id, 3000)->Get("/");
  return r && r->status == 200 ? r->body : "";
}

std::string identity_dir(Daemon& d, const std::string& id) {
  return d.data_dir() + "/identity/" + id;
}

// A sandbox's GET without what is its own by nature (id, names, uid, previews' URLs,
// times, usage).
json comparable(json s) {
  for (const char* k : {"id", "container_name", "container_id", "uid", "created_at", "updated_at",
                        "started_at", "stopped_at", "last_active_at", "keepalive_until", "usage"})
    s.erase(k);
  for (auto& p : s["previews"]) p.erase("url");
  if (s.contains("idle")) {
    s["idle"].erase("freezes_at");
    s["idle"].erase("stops_at");
    s["idle"].erase("reason");  // "idle since <time> (last activity: ...)"
  }
  if (s.contains("app"))
    for (const char* k : {"started_at", "updated_at", "last_exit_at", "log_tail"})
      s["app"].erase(k);
  return s;
}

// Destination -> {source, read-write} of a container's mounts.
std::map<std::string, std::pair<std::string, bool>> mounts(const json& c) {
  std::map<std::string, std::pair<std::string, bool>> out;
  for (const auto& m : c["Mounts"])
    out[m["Destination"].get<std::string>()] = {m["Source"].get<std::string>(),
                                                m["RW"].get<bool>()};
  return out;
}

class WarmPool : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }
};

TEST_F(WarmPool, AClaimedSandboxIsIndistinguishableFromAColdOne) {
  Daemon d("wpsame", {{"SANDBOXD_WARM_POOL", std::to_string(kPool)}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(pool_ready(d, kPool)) << d.log();
  const std::set<std::string> before = pool_ids(d);
  ASSERT_EQ(before.size(), static_cast<std::size_t>(kPool));
  const std::string secret = "sx-" + random_token(24);
  const json env = {{"SECRET_X", secret}};

  auto t0 = std::chrono::steady_clock::now();
  json pooled = create(d, {{"ports", {3000}}, {"env", env}});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(pooled.is_null());
  const std::string pid = pooled["id"];
  EXPECT_TRUE(before.count(pid)) << pid << " is not one of the ready entries";
  EXPECT_EQ(metric(d, kHit), 1);
  EXPECT_EQ(metric(d, kMiss), 0);
  EXPECT_LT(took, seconds(2)) << "a hit answers without starting a container";
  json cold = create(d, {{"id", "cold1"}, {"ports", {3000}}, {"env", env}});
  ASSERT_FALSE(cold.is_null());
  EXPECT_EQ(metric(d, kHit), 1) << "a create with an id never uses the pool";

  // The API: the same sandbox but for what is each one's own.
  json pg = get(d, pid), cg = get(d, "cold1");
  ASSERT_FALSE(pg.is_null());
  ASSERT_FALSE(cg.is_null());
  EXPECT_EQ(comparable(pg), comparable(cg));
  EXPECT_EQ(pg["status"], "running");
  EXPECT_EQ(pg["env_keys"], json::array({"SECRET_X"}));
  EXPECT_EQ(
      pg["previews"],
      json::array({{{"port", 3000}, {"url", "http://" + Daemon::preview_host(pid, 3000) + "/"}}}));
  EXPECT_EQ(pg["idle"].value("reason", "").find("idle since"), 0u) << pg["idle"];
  EXPECT_EQ(pg["container_name"], d.container(pid));
  const int64_t uid = pg["uid"].get<int64_t>(), cold_uid = cg["uid"].get<int64_t>();
  EXPECT_GE(uid, 0x70000000);
  EXPECT_GE(cold_uid, 0x70000000);
  EXPECT_NE(uid, cold_uid);
  for (const json* s : {&pg, &cg}) {
    ASSERT_TRUE((*s)["created_at"].is_string() && (*s)["started_at"].is_string()) << s->dump();
    EXPECT_GE((*s)["started_at"].get<std::string>(), (*s)["created_at"].get<std::string>())
        << (*s)["id"] << " reports a start before its create";
  }
  EXPECT_EQ(pg.dump().find(secret), std::string::npos);

  // The container: the same flags, limits and labels; its own name, hostname, uid, mounts.
  json pc = docker_inspect(d.container(pid)), cc = docker_inspect(d.container("cold1"));
  ASSERT_FALSE(pc.is_null());
  ASSERT_FALSE(cc.is_null());
  EXPECT_TRUE(pc["State"]["Running"].get<bool>());
  EXPECT_EQ(pc["Config"]["Hostname"], "s-" + pid);
  EXPECT_EQ(cc["Config"]["Hostname"], "s-cold1");
  EXPECT_EQ(pc["Config"]["User"], std::to_string(uid) + ":" + std::to_string(uid));
  const json& pl = pc["Config"]["Labels"];
  EXPECT_EQ(pl["sandboxed.id"], pid);
  EXPECT_EQ(pl["sandboxed.instance"], d.instance());
  EXPECT_EQ(pl["sandboxed.managed"], "true");
  EXPECT_FALSE(pl.value("sandboxed.install", "").empty());
  json pl_rest = pl, cl_rest = cc["Config"]["Labels"];
  pl_rest.erase("sandboxed.id");
  cl_rest.erase("sandboxed.id");
  EXPECT_EQ(pl_rest, cl_rest);
  for (const char* k : {"Memory", "NanoCpus", "PidsLimit", "Ulimits", "CapDrop", "SecurityOpt",
                        "ReadonlyRootfs", "Init", "Tmpfs", "NetworkMode", "Runtime", "LogConfig"})
    EXPECT_EQ(pc["HostConfig"][k], cc["HostConfig"][k]) << k;
  EXPECT_EQ(pc["HostConfig"]["Memory"], 256LL << 20);
  for (const char* k : {"Image", "WorkingDir", "Env"})
    EXPECT_EQ(pc["Config"][k], cc["Config"][k]) << k;
  EXPECT_EQ(pc["Config"]["Env"].dump().find(secret), std::string::npos);
  EXPECT_EQ(pc["Config"]["Env"].dump().find("SECRET_X"), std::string::npos);
  auto pm = mounts(pc), cm = mounts(cc);
  EXPECT_EQ(pm.size(), cm.size());
  for (const auto& [dest, src] : cm) {
    ASSERT_TRUE(pm.count(dest)) << dest;
    EXPECT_EQ(pm[dest].second, src.second) << dest;
  }
  EXPECT_EQ(pm["/home/sandbox"].first, d.workspace(pid));
  EXPECT_EQ(pm["/run/sandboxed"].first, identity_dir(d, pid) + "/run");
  EXPECT_FALSE(pm["/run/sandboxed"].second);

  // The env file: the sandbox's env, readable by its uid only.
  for (const auto& [id, owner] : {std::pair{pid, uid}, std::pair{std::string("cold1"), cold_uid}}) {
    const std::string path = identity_dir(d, id) + "/run/env";
    struct stat sb {};
    ASSERT_EQ(::stat(path.c_str(), &sb), 0) << path;
    EXPECT_EQ(sb.st_mode & 0777, 0400u) << path;
    EXPECT_EQ(sb.st_uid, static_cast<uid_t>(owner)) << path;
    std::ifstream f(path);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}),
              std::string("SANDBOXED_PORTS=3000") + '\0' + "SECRET_X=" + secret + '\0')
        << path;
  }

  // Inside: the sandbox's uid and env, and an app the supervisor started with the env.
  EXPECT_EQ(exec(d, pid, {"id", "-u"})["stdout"], std::to_string(uid) + "\n");
  EXPECT_NE(exec(d, pid, {"env"})["stdout"].get<std::string>().find("SECRET_X="),
            std::string::npos);
  EXPECT_EQ(
      exec(d, pid, {"sh", "-c", "test \"$SECRET_X\" = " + secret + " && echo same"})["stdout"],
      "same\n");
  EXPECT_EQ(exec(d, pid, {"stat", "-c", "%a %u", "/run/sandboxed/env"})["stdout"],
            "400 " + std::to_string(uid) + "\n");
  for (const std::string& id : {pid, std::string("cold1")}) {
    ASSERT_TRUE(d.write_node_app(id, kEnvApp)) << id;
    EXPECT_TRUE(eventually([&] { return preview_body(d, id) == "secret=" + secret; }))
        << id << ": " << preview_body(d, id) << "\n"
        << d.http().Get("/v1/sandboxes/" + id + "/logs")->body << d.log();
  }
  // The supervisor reports the app the same way (it reports a few times a second).
  EXPECT_TRUE(eventually([&] { return comparable(get(d, pid)) == comparable(get(d, "cold1")); },
                         seconds(10)))
      << get(d, pid).dump() << "\n"
      << get(d, "cold1").dump();

  // Stop and start: the app comes back with the env.
  auto stopped = post(d, "/v1/sandboxes/" + pid + "/stop");
  ASSERT_TRUE(stopped && stopped->status == 200) << (stopped ? stopped->body : "") << d.log();
  EXPECT_EQ(docker_inspect(d.container(pid))["State"]["Status"], "exited");
  auto started = post(d, "/v1/sandboxes/" + pid + "/start");
  ASSERT_TRUE(started && started->status == 200) << (started ? started->body : "") << d.log();
  EXPECT_EQ(parse(started)["status"], "running");
  EXPECT_TRUE(eventually([&] { return preview_body(d, pid) == "secret=" + secret; }))
      << preview_body(d, pid) << d.log();
  EXPECT_EQ(d.log().find(secret), std::string::npos) << "the env value reached the log";

  // Purge: container, workspace and env file gone.
  for (const std::string& id : {pid, std::string("cold1")}) {
    auto purged = post(d, "/v1/sandboxes/" + id + "/purge");
    ASSERT_TRUE(purged && purged->status == 200) << (purged ? purged->body : "");
    EXPECT_TRUE(docker_inspect(d.container(id)).is_null()) << id;
    EXPECT_FALSE(fs::exists(d.workspace(id))) << id;
    EXPECT_FALSE(fs::exists(identity_dir(d, id))) << id;
    EXPECT_EQ(d.http().Get("/v1/sandboxes/" + id)->status, 404) << id;
  }
}

TEST_F(WarmPool, ThePoolRefillsAfterClaims) {
  Daemon d("wprefill", {{"SANDBOXD_WARM_POOL", std::to_string(kPool)}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(pool_ready(d, kPool)) << d.log();
  const std::set<std::string> first = pool_ids(d);
  std::set<std::string> claimed;
  for (int i = 0; i < kPool; ++i) {
    json s = create(d, json::object());
    ASSERT_FALSE(s.is_null());
    claimed.insert(s["id"].get<std::string>());
  }
  EXPECT_EQ(claimed, first);
  EXPECT_EQ(metric(d, kHit), kPool);
  ASSERT_TRUE(pool_ready(d, kPool)) << d.log();
  std::set<std::string> refilled = pool_ids(d);
  EXPECT_EQ(refilled.size(), static_cast<std::size_t>(kPool));
  for (const auto& id : refilled) {
    EXPECT_FALSE(claimed.count(id)) << id;
    EXPECT_EQ(d.http().Get("/v1/sandboxes/" + id)->status, 404) << "a pool entry is no sandbox";
    EXPECT_TRUE(docker_inspect(d.container(id))["State"]["Running"].get<bool>()) << id;
  }
  for (const auto& id : claimed) EXPECT_EQ(get(d, id)["status"], "running") << id;
  // A pool entry's id is taken: a create that names it is refused.
  auto taken = post(d, "/v1/sandboxes", {{"id", *refilled.begin()}});
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->status, 409) << taken->body;
}

TEST_F(WarmPool, ABurstLargerThanThePoolGetsHitsAndColdCreates) {
  Daemon d("wpburst", {{"SANDBOXD_WARM_POOL", std::to_string(kPool)}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(pool_ready(d, kPool)) << d.log();
  constexpr int kBurst = kPool + 3;
  std::vector<int> status(kBurst, 0);
  std::vector<std::string> ids(kBurst);
  std::vector<std::thread> threads;
  for (int i = 0; i < kBurst; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", d.port());
      c.set_bearer_token_auth(d.token());
      c.set_read_timeout(120, 0);
      auto r = c.Post("/v1/sandboxes", json{{"env", {{"N", std::to_string(i)}}}}.dump(),
                      "application/json");
      if (!r) return;
      status[i] = r->status;
      if (r->status == 201) ids[i] = parse(r)["id"].get<std::string>();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kBurst; ++i) EXPECT_EQ(status[i], 201) << i << "\n" << d.log();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), static_cast<std::size_t>(kBurst));
  const double hits = metric(d, kHit), misses = metric(d, kMiss);
  EXPECT_GE(hits, 1);
  EXPECT_LE(hits, kPool);
  EXPECT_GE(misses, 3);
  EXPECT_EQ(hits + misses, kBurst);
  for (int i = 0; i < kBurst; ++i) {
    if (ids[i].empty()) continue;
    EXPECT_EQ(get(d, ids[i])["status"], "running") << ids[i];
    EXPECT_EQ(exec(d, ids[i], {"sh", "-c", "echo $N"})["stdout"], std::to_string(i) + "\n")
        << ids[i];
  }
}

TEST_F(WarmPool, ACreateThatDoesNotFitLeavesThePoolAlone) {
  Daemon d("wpnofit", {{"SANDBOXD_WARM_POOL", std::to_string(kPool)}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(pool_ready(d, kPool)) << d.log();
  const std::set<std::string> before = pool_ids(d);
  const std::vector<json> misfits = {
      {{"memory", "128m"}}, {{"id", "named1"}}, {{"cpus", 0.5}}, {{"egress", "none"}}};
  for (const auto& req : misfits) {
    json s = create(d, req);
    ASSERT_FALSE(s.is_null()) << req.dump();
    EXPECT_FALSE(before.count(s["id"].get<std::string>())) << req.dump();
    EXPECT_EQ(s["status"], "running") << req.dump();
  }
  EXPECT_EQ(get(d, "named1")["id"], "named1");
  EXPECT_EQ(metric(d, kHit), 0);
  EXPECT_EQ(metric(d, kMiss), 0) << "creates the pool is not made for are no misses";
  EXPECT_EQ(metric(d, kReady), kPool);
  EXPECT_EQ(pool_ids(d), before);
}

TEST_F(WarmPool, ARestartKeepsReadyEntriesAndAPoolOfZeroDiscardsThem) {
  Daemon d("wprestart", {{"SANDBOXD_WARM_POOL", std::to_string(kPool)}});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(pool_ready(d, kPool)) << d.log();
  const std::set<std::string> kept = pool_ids(d);
  ASSERT_EQ(kept.size(), static_cast<std::size_t>(kPool));
  ASSERT_TRUE(d.stop()) << d.log();
  ASSERT_TRUE(d.start()) << d.log();  // its boot reconcile has run when it serves
  EXPECT_EQ(pool_ids(d), kept);
  EXPECT_EQ(metric(d, kReady), kPool);
  json s = create(d, json::object());
  ASSERT_FALSE(s.is_null());
  const std::string claimed = s["id"];
  EXPECT_TRUE(kept.count(claimed)) << claimed;
  EXPECT_EQ(metric(d, kHit), 1);
  // Refilled by the pool's own passes, which kept the other entry.
  ASSERT_TRUE(eventually(
      [&] { return pool_ids(d).size() == kPool + 0u && metric(d, kReady) == kPool; }, seconds(90)))
      << d.log();
  const std::set<std::string> now = pool_ids(d);
  for (const auto& id : kept) {
    if (id == claimed) continue;
    EXPECT_TRUE(now.count(id)) << id << " was discarded\n" << d.log();
  }
  EXPECT_EQ(d.log().find("removing orphan container"), std::string::npos) << d.log();
  EXPECT_EQ(exec(d, claimed, {"true"})["exit_code"], 0);

  const std::set<std::string> last = pool_ids(d);
  ASSERT_TRUE(d.stop()) << d.log();
  d.set_env("SANDBOXD_WARM_POOL", "0");
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_TRUE(
      eventually([&] { return pool_ids(d).empty() && metric(d, kReady) == 0; }, seconds(60)))
      << d.log();
  for (const auto& id : last) {
    EXPECT_TRUE(docker_inspect(d.container(id)).is_null()) << id;
    EXPECT_TRUE(eventually([&] { return !fs::exists(d.workspace(id)); }, seconds(10))) << id;
    EXPECT_FALSE(fs::exists(identity_dir(d, id))) << id;
  }
  EXPECT_EQ(get(d, claimed)["status"], "running") << "a claimed sandbox is no pool entry";
  EXPECT_EQ(d.containers().size(), 1u);
}

}  // namespace
}  // namespace sandboxd::testing_support
