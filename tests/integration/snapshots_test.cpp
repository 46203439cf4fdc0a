// Integration: snapshots of real sandboxes' workspaces (taken, listed, fetched, deleted),
// creates from them, forks, restores that restart the app, their fate on delete and
// purge, their limits and bad input, task checkpoints, the starter templates (a live
// Vite dev server through the preview edge, no npm install) and the "app" state of
// GET /v1/sandboxes/{id} with wait_for_app. HTTP goes only to loopback.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One line: env values may not contain newlines. Reads msg.txt once, at startup, so only
// a restart shows a new one.
constexpr const char* kMessageServer =
    "const fs = require('fs'), http = require('http');"
    "const m = fs.readFileSync('msg.txt', 'utf8');"
    "http.createServer((req, res) => res.end('msg=' + m))"
    ".listen(process.env.PORT, process.env.HOST);";

class Snapshots : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }
};
class Templates : public Snapshots {};
class AppState : public Snapshots {};

// Starter templates left out: their import copies tens of MB at every start, and their
// bytes count against SANDBOXD_SNAPSHOTS_MAX_BYTES.
void without_templates(Daemon& d) {
  d.set_env("SANDBOXD_TEMPLATES_DIR", d.data_dir() + "/no-templates");
}

httplib::Result post(Daemon& d, const std::string& path, const json& body = json::object()) {
  return d.http().Post(path, body.dump(), "application/json");
}

// The JSON body of a response with `status` (null, and a test failure, otherwise).
json expect_status(const httplib::Result& r, int status, Daemon& d) {
  EXPECT_TRUE(r) << "no HTTP response";
  if (!r) return nullptr;
  EXPECT_EQ(r->status, status) << r->body << "\n" << d.log();
  if (r->status != status || r->body.empty()) return nullptr;
  return json::parse(r->body, nullptr, false);
}

json get_json(Daemon& d, const std::string& path) {
  auto r = d.http().Get(path);
  return r && r->status == 200 ? json::parse(r->body, nullptr, false) : json(nullptr);
}

int get_status(Daemon& d, const std::string& path) {
  auto r = d.http().Get(path);
  return r ? r->status : -1;
}

json create(Daemon& d, const json& body) {
  return expect_status(post(d, "/v1/sandboxes", body), 201, d);
}

json snapshot(Daemon& d, const std::string& id, const json& body = json::object()) {
  return expect_status(post(d, "/v1/sandboxes/" + id + "/snapshots", body), 201, d);
}

// Runs `script` with sh in sandbox `id` (cwd ~/workspace/app); its stdout, and a test
// failure unless it exits 0.
std::string sh(Daemon& d, const std::string& id, const std::string& script) {
  json r = d.exec(id, {{"cmd", {"sh", "-c", script}}});
  EXPECT_FALSE(r.is_null()) << "exec in " << id << " failed: " << script;
  if (r.is_null()) return "";
  EXPECT_EQ(r["exit_code"], 0) << script << ": " << r.dump();
  return r["stdout"].get<std::string>();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uid_t owner(const std::string& path) {
  struct stat sb {};
  return ::stat(path.c_str(), &sb) == 0 ? sb.st_uid : static_cast<uid_t>(-1);
}

std::string app_file(Daemon& d, const std::string& id, const std::string& name) {
  return d.workspace(id) + "/workspace/app/" + name;
}

std::string snapshot_tree(Daemon& d, const std::string& snapshot_id) {
  return d.data_dir() + "/snapshots/" + snapshot_id;
}

// The entries of the snapshots directory (one per snapshot and template).
std::set<std::string> snapshot_dirs(Daemon& d) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d.data_dir() + "/snapshots", ec))
    out.insert(e.path().filename().string());
  return out;
}

// The ids in GET `path` (a {"snapshots": [...]} list).
std::set<std::string> listed(Daemon& d, const std::string& path) {
  json list = get_json(d, path);
  EXPECT_TRUE(list.is_object() && list["snapshots"].is_array()) << path << ": " << list.dump();
  std::set<std::string> ids;
  if (list.is_object() && list["snapshots"].is_array())
    for (const auto& s : list["snapshots"]) ids.insert(s["id"].get<std::string>());
  return ids;
}

// The body of GET / through the preview edge ("" unless 200).
std::string preview_body(Daemon& d, const std::string& id, int port,
                         const std::string& path = "/") {
  auto r = d.preview(id, port)->Get(path);
  return r && r->status == 200 ? r->body : "";
}

json app_of(Daemon& d, const std::string& id) {
  json s = get_json(d, "/v1/sandboxes/" + id);
  return s.is_object() ? s["app"] : json(nullptr);
}

// Docker's event actions ("pause", "unpause", ...) for container `name` from unix second
// `since` until a second after now.
std::string docker_actions(const std::string& name, std::time_t since) {
  auto [rc, out] = run_cmd({"docker", "events", "--since", std::to_string(since), "--until",
                            std::to_string(std::time(nullptr) + 1), "--filter", "container=" + name,
                            "--format", "{{.Action}} "});
  EXPECT_EQ(rc, 0) << out;
  return out;
}

TEST_F(Snapshots, ASnapshotCopiesAllButSandboxedWhilePausedAndIsListedFetchedAndDeleted) {
  Daemon d("snap");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  json s = create(d, {{"id", "sn1"}});
  ASSERT_FALSE(s.is_null());
  sh(d, "sn1",
     "printf v1 > note.txt && mkdir -p sub && printf deep > sub/deep.txt && "
     "printf mine > ~/.sandboxed/marker");

  const std::time_t before = std::time(nullptr);
  json snap = snapshot(d, "sn1", {{"name", "first"}});
  ASSERT_FALSE(snap.is_null());
  const std::string actions = docker_actions(d.container("sn1"), before);
  EXPECT_NE(actions.find("pause "), std::string::npos) << "not paused for the copy: " << actions;
  EXPECT_NE(actions.find("unpause "), std::string::npos) << actions;
  EXPECT_EQ(json::parse(d.http().Get("/v1/sandboxes/sn1")->body)["status"], "running");

  const std::string id = snap["id"].get<std::string>();
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(snap["name"], "first");
  EXPECT_EQ(snap["sandbox_id"], "sn1");
  EXPECT_EQ(snap["template"], false);
  EXPECT_TRUE(snap["created_at"].is_string()) << snap.dump();
  EXPECT_GE(snap["files"].get<int64_t>(), 2);
  EXPECT_GE(snap["bytes"].get<int64_t>(), 6);  // "v1" + "deep"
  // The tree on disk: the workspace, but not the supervisor's state (~/.sandboxed).
  EXPECT_EQ(read_file(snapshot_tree(d, id) + "/workspace/app/note.txt"), "v1");
  EXPECT_EQ(read_file(snapshot_tree(d, id) + "/workspace/app/sub/deep.txt"), "deep");
  EXPECT_TRUE(fs::exists(d.workspace("sn1") + "/.sandboxed/marker"));
  EXPECT_FALSE(fs::exists(snapshot_tree(d, id) + "/.sandboxed")) << "~/.sandboxed was copied";

  // By id and by name; in the lists (all, by sandbox); an unnamed one has a null name.
  EXPECT_EQ(get_json(d, "/v1/snapshots/" + id), snap);
  EXPECT_EQ(get_json(d, "/v1/snapshots/first"), snap);
  json unnamed = snapshot(d, "sn1");
  ASSERT_FALSE(unnamed.is_null());
  EXPECT_TRUE(unnamed["name"].is_null()) << unnamed.dump();
  const std::set<std::string> both = {id, unnamed["id"].get<std::string>()};
  EXPECT_EQ(listed(d, "/v1/snapshots"), both);
  EXPECT_EQ(listed(d, "/v1/snapshots?sandbox_id=sn1"), both);
  EXPECT_EQ(listed(d, "/v1/sandboxes/sn1/snapshots"), both);
  EXPECT_EQ(listed(d, "/v1/snapshots?sandbox_id=other"), std::set<std::string>{});

  // A stopped sandbox can be snapshotted too.
  ASSERT_EQ(post(d, "/v1/sandboxes/sn1/stop")->status, 200);
  json stopped = snapshot(d, "sn1", {{"name", "while-stopped"}});
  ASSERT_FALSE(stopped.is_null());
  EXPECT_EQ(
      read_file(snapshot_tree(d, stopped["id"].get<std::string>()) + "/workspace/app/note.txt"),
      "v1");

  // Deleted by name (and by id): the row and the tree go; a second delete is a 404.
  auto del = d.http().Delete("/v1/snapshots/first");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204) << del->body;
  EXPECT_EQ(get_status(d, "/v1/snapshots/first"), 404);
  EXPECT_EQ(get_status(d, "/v1/snapshots/" + id), 404);
  EXPECT_FALSE(fs::exists(snapshot_tree(d, id)));
  EXPECT_EQ(d.http().Delete("/v1/snapshots/first")->status, 404);
  EXPECT_EQ(d.http().Delete("/v1/snapshots/" + unnamed["id"].get<std::string>())->status, 204);
  EXPECT_EQ(listed(d, "/v1/sandboxes/sn1/snapshots"),
            std::set<std::string>{stopped["id"].get<std::string>()});
  EXPECT_EQ(snapshot_dirs(d), std::set<std::string>{stopped["id"].get<std::string>()});
}

TEST_F(Snapshots, ASandboxCreatedFromASnapshotHasACopyOwnedByItsOwnUid) {
  Daemon d("snapnew");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_FALSE(create(d, {{"id", "orig1"}}).is_null());
  sh(d, "orig1", "printf original > data.txt && printf mine > ~/.sandboxed/marker");
  json snap = snapshot(d, "orig1", {{"name", "base"}});
  ASSERT_FALSE(snap.is_null());

  json copy = create(d, {{"id", "copy1"}, {"snapshot", "base"}});
  ASSERT_FALSE(copy.is_null());
  const auto uid = static_cast<uid_t>(copy["uid"].get<int64_t>());
  EXPECT_EQ(read_file(app_file(d, "copy1", "data.txt")), "original");
  EXPECT_EQ(owner(app_file(d, "copy1", "data.txt")), uid);
  EXPECT_EQ(owner(d.workspace("copy1") + "/workspace/app"), uid);
  EXPECT_FALSE(fs::exists(d.workspace("copy1") + "/.sandboxed/marker"));
  // Its own copy: the sandbox may change it, and neither side sees the other's change.
  EXPECT_EQ(sh(d, "copy1", "printf changed > data.txt && cat data.txt"), "changed");
  EXPECT_EQ(read_file(app_file(d, "orig1", "data.txt")), "original");
  EXPECT_EQ(read_file(snapshot_tree(d, snap["id"].get<std::string>()) + "/workspace/app/data.txt"),
            "original");
  // By id as well.
  json by_id = create(d, {{"id", "copy2"}, {"snapshot", snap["id"]}});
  ASSERT_FALSE(by_id.is_null());
  EXPECT_EQ(sh(d, "copy2", "cat data.txt"), "original");
}

TEST_F(Snapshots, AForkHasTheSameSettingsAndACopyOfTheWorkspaceAndLeavesNoSnapshot) {
  Daemon d("snapfork");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  json src = create(d, {{"id", "src1"},
                        {"ports", {3000, 5173}},
                        {"env", {{"FOO", "fork-secret-1"}}},
                        {"memory", "300m"},
                        {"pids_limit", 150},
                        {"nofile", 2048}});
  ASSERT_FALSE(src.is_null());
  sh(d, "src1", "printf forked > data.txt && printf mine > ~/.sandboxed/marker");

  json fork = expect_status(post(d, "/v1/sandboxes/src1/fork", {{"id", "fork1"}}), 201, d);
  ASSERT_FALSE(fork.is_null());
  EXPECT_EQ(fork["id"], "fork1");
  EXPECT_EQ(fork["status"], "running");
  for (const char* field : {"ports", "env_keys", "limits", "egress", "runtime", "idle_policy"})
    EXPECT_EQ(fork[field], src[field]) << field;
  EXPECT_NE(fork["uid"], src["uid"]);
  json c = docker_inspect(d.container("fork1"));
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["HostConfig"]["Memory"], 300LL << 20);
  EXPECT_EQ(c["HostConfig"]["PidsLimit"], 150);
  EXPECT_EQ(sh(d, "fork1", "test \"$FOO\" = fork-secret-1 && echo same"), "same\n");
  EXPECT_EQ(sh(d, "fork1", "cat data.txt"), "forked");
  EXPECT_EQ(owner(app_file(d, "fork1", "data.txt")),
            static_cast<uid_t>(fork["uid"].get<int64_t>()));
  EXPECT_FALSE(fs::exists(d.workspace("fork1") + "/.sandboxed/marker"));
  sh(d, "fork1", "printf diverged > data.txt");
  EXPECT_EQ(sh(d, "src1", "cat data.txt"), "forked");
  EXPECT_EQ(json::parse(d.http().Get("/v1/sandboxes/src1")->body)["status"], "running");

  // The snapshot it went through is gone (row and tree).
  EXPECT_EQ(listed(d, "/v1/snapshots"), std::set<std::string>{});
  EXPECT_EQ(snapshot_dirs(d), std::set<std::string>{});

  // Without an id it gets a new one; into a taken id it is a 409 that leaves nothing.
  json unnamed = expect_status(post(d, "/v1/sandboxes/src1/fork"), 201, d);
  ASSERT_FALSE(unnamed.is_null());
  EXPECT_NE(unnamed["id"], "src1");
  EXPECT_EQ(sh(d, unnamed["id"].get<std::string>(), "cat data.txt"), "forked");
  EXPECT_EQ(post(d, "/v1/sandboxes/src1/fork", {{"id", "fork1"}})->status, 409);
  EXPECT_EQ(sh(d, "fork1", "cat data.txt"), "diverged");
  EXPECT_EQ(listed(d, "/v1/snapshots"), std::set<std::string>{});
  EXPECT_EQ(snapshot_dirs(d), std::set<std::string>{});
  EXPECT_EQ(post(d, "/v1/sandboxes/nope1/fork")->status, 404);
}

TEST_F(Snapshots, ARestoreBringsTheWorkspaceBackAndRestartsTheApp) {
  Daemon d("snaprest");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_FALSE(create(d, {{"id", "rs1"}, {"ports", {3000}}}).is_null());
  sh(d, "rs1", "printf one > msg.txt");
  ASSERT_TRUE(d.write_node_app("rs1", kMessageServer));
  ASSERT_TRUE(eventually([&] { return preview_body(d, "rs1", 3000) == "msg=one"; }))
      << d.http().Get("/v1/sandboxes/rs1/logs")->body << d.log();
  json snap = snapshot(d, "rs1", {{"name", "before"}});
  ASSERT_FALSE(snap.is_null());

  // The workspace changes and the app, restarted, shows it.
  sh(d, "rs1", "printf two > msg.txt && printf x > extra.txt && pkill -f '[n]ode server.js'");
  ASSERT_TRUE(eventually([&] { return preview_body(d, "rs1", 3000) == "msg=two"; }))
      << d.http().Get("/v1/sandboxes/rs1/logs")->body;
  const int64_t restarts = app_of(d, "rs1")["restarts"].get<int64_t>();

  json restored =
      expect_status(post(d, "/v1/sandboxes/rs1/restore", {{"snapshot", "before"}}), 200, d);
  ASSERT_FALSE(restored.is_null());
  EXPECT_EQ(restored["status"], "running");
  EXPECT_EQ(read_file(app_file(d, "rs1", "msg.txt")), "one");
  EXPECT_FALSE(fs::exists(app_file(d, "rs1", "extra.txt"))) << "a file the snapshot lacks stays";
  EXPECT_EQ(owner(app_file(d, "rs1", "msg.txt")),
            static_cast<uid_t>(restored["uid"].get<int64_t>()));
  // The supervisor restarted the app (SIGHUP), which read the restored file.
  EXPECT_TRUE(eventually([&] { return preview_body(d, "rs1", 3000) == "msg=one"; }))
      << d.http().Get("/v1/sandboxes/rs1/logs")->body << d.log();
  EXPECT_GT(app_of(d, "rs1")["restarts"].get<int64_t>(), restarts);
  // ~/.sandboxed was kept: the log still has the kill from before the restore.
  const std::string logs = d.http().Get("/v1/sandboxes/rs1/logs")->body;
  EXPECT_NE(logs.find("SIGHUP: restarting the dev server"), std::string::npos) << logs;
  EXPECT_NE(logs.find("restarting in"), std::string::npos) << logs;

  // A stopped sandbox is restored (by snapshot id) without starting it; its next start
  // serves the snapshot's content.
  sh(d, "rs1", "printf three > msg.txt");
  ASSERT_EQ(post(d, "/v1/sandboxes/rs1/stop")->status, 200);
  restored =
      expect_status(post(d, "/v1/sandboxes/rs1/restore", {{"snapshot", snap["id"]}}), 200, d);
  ASSERT_FALSE(restored.is_null());
  EXPECT_EQ(restored["status"], "stopped");
  json started = expect_status(post(d, "/v1/sandboxes/rs1/start?wait_for_app=60"), 200, d);
  ASSERT_FALSE(started.is_null());
  EXPECT_EQ(started["app"]["state"], "listening")
      << "started at " << started["started_at"] << ": " << started["app"].dump();
  EXPECT_EQ(preview_body(d, "rs1", 3000), "msg=one");
}

TEST_F(Snapshots, APurgeRemovesTheSandboxsSnapshotsButADeleteKeepsThem) {
  Daemon d("snappurge");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_FALSE(create(d, {{"id", "pg1"}}).is_null());
  ASSERT_FALSE(create(d, {{"id", "other1"}}).is_null());
  sh(d, "pg1", "printf kept > data.txt");
  json keep = snapshot(d, "pg1", {{"name", "keep"}});
  json other = snapshot(d, "other1", {{"name", "other"}});
  ASSERT_FALSE(keep.is_null());
  ASSERT_FALSE(other.is_null());

  ASSERT_EQ(d.http().Delete("/v1/sandboxes/pg1")->status, 204);
  json still = get_json(d, "/v1/snapshots/keep");
  EXPECT_EQ(still, keep) << "a delete removed the snapshot";
  ASSERT_FALSE(create(d, {{"id", "pg2"}, {"snapshot", "keep"}}).is_null());
  EXPECT_EQ(sh(d, "pg2", "cat data.txt"), "kept");

  auto purged = post(d, "/v1/sandboxes/pg1/purge");
  ASSERT_TRUE(purged);
  EXPECT_EQ(purged->status, 200) << purged->body;
  EXPECT_EQ(get_status(d, "/v1/snapshots/keep"), 404);
  EXPECT_FALSE(fs::exists(snapshot_tree(d, keep["id"].get<std::string>())));
  // Another sandbox's snapshot, and the copy made from the purged one, stay.
  EXPECT_EQ(get_json(d, "/v1/snapshots/other"), other);
  EXPECT_EQ(snapshot_dirs(d), std::set<std::string>{other["id"].get<std::string>()});
  EXPECT_EQ(sh(d, "pg2", "cat data.txt"), "kept");
  // A running sandbox's purge takes its snapshots too.
  ASSERT_EQ(post(d, "/v1/sandboxes/other1/purge")->status, 200);
  EXPECT_EQ(listed(d, "/v1/snapshots"), std::set<std::string>{});
  EXPECT_EQ(snapshot_dirs(d), std::set<std::string>{});
}

TEST_F(Snapshots, PastTheCountOrByteLimitASnapshotIs429AndTakesNothing) {
  Daemon d("snaplim",
           {{"SANDBOXD_MAX_SNAPSHOTS_PER_SANDBOX", "2"}, {"SANDBOXD_SNAPSHOTS_MAX_BYTES", "32m"}});
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_FALSE(create(d, {{"id", "lim1"}}).is_null());
  json first = snapshot(d, "lim1");
  ASSERT_FALSE(snapshot(d, "lim1").is_null());
  auto third = post(d, "/v1/sandboxes/lim1/snapshots", {{"name", "third"}});
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 429) << third->body;
  EXPECT_EQ(listed(d, "/v1/sandboxes/lim1/snapshots").size(), 2u);
  EXPECT_EQ(snapshot_dirs(d).size(), 2u);
  EXPECT_EQ(get_status(d, "/v1/snapshots/third"), 404);
  // The limit is per sandbox, and a deleted one frees its place.
  ASSERT_FALSE(create(d, {{"id", "lim2"}}).is_null());
  json lim2 = snapshot(d, "lim2");
  ASSERT_FALSE(lim2.is_null());
  ASSERT_EQ(d.http().Delete("/v1/snapshots/" + first["id"].get<std::string>())->status, 204);
  EXPECT_FALSE(snapshot(d, "lim1", {{"name", "third"}}).is_null());

  // 40 MB of workspace would take the snapshots past 32 MB.
  ASSERT_EQ(d.http().Delete("/v1/snapshots/" + lim2["id"].get<std::string>())->status, 204);
  sh(d, "lim2", "head -c 41943040 /dev/urandom > big.bin && sync");
  const auto dirs = snapshot_dirs(d);
  auto big = post(d, "/v1/sandboxes/lim2/snapshots", {{"name", "big"}});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 429) << big->body;
  EXPECT_EQ(get_status(d, "/v1/snapshots/big"), 404);
  EXPECT_EQ(snapshot_dirs(d), dirs) << "a refused snapshot left a tree";
  sh(d, "lim2", "rm big.bin && sync");
  EXPECT_FALSE(snapshot(d, "lim2", {{"name", "big"}}).is_null());
}

TEST_F(Snapshots, BadInputIs400AndAnUnknownSnapshotIs404AndNeitherChangesAnything) {
  Daemon d("snapbad");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_FALSE(create(d, {{"id", "bad1"}}).is_null());
  sh(d, "bad1", "printf v1 > data.txt");
  json good = snapshot(d, "bad1", {{"name", "good"}});
  ASSERT_FALSE(good.is_null());
  sh(d, "bad1", "printf v2 > data.txt");
  const std::set<std::string> before = {good["id"].get<std::string>()};

  auto status_of = [&](const std::string& path, const json& body) {
    auto r = post(d, path, body);
    return r ? r->status : -1;
  };
  const std::string snaps = "/v1/sandboxes/bad1/snapshots";
  EXPECT_EQ(status_of(snaps, {{"nam", "x"}}), 400);
  for (const json& name : {json("-lead"), json("a/b"), json("sp ace"), json(std::string(65, 'a')),
                           json(".hidden"), json(7), json::array()})
    EXPECT_EQ(status_of(snaps, {{"name", name}}), 400) << name.dump();
  EXPECT_EQ(status_of(snaps, {{"name", "good"}}), 409) << "a taken name";
  EXPECT_EQ(status_of("/v1/sandboxes/nope1/snapshots", json::object()), 404);
  EXPECT_EQ(get_status(d, "/v1/sandboxes/nope1/snapshots"), 404);

  const std::string restore = "/v1/sandboxes/bad1/restore";
  EXPECT_EQ(status_of(restore, json::object()), 400) << "snapshot is required";
  EXPECT_EQ(status_of(restore, {{"snapshot", "good"}, {"extra", 1}}), 400);
  EXPECT_EQ(status_of(restore, {{"snapshot", 5}}), 400);
  EXPECT_EQ(status_of(restore, {{"snapshot", "missing"}}), 404);
  EXPECT_EQ(status_of("/v1/sandboxes/nope1/restore", {{"snapshot", "good"}}), 404);

  EXPECT_EQ(status_of("/v1/sandboxes/bad1/fork", {{"idx", "f"}}), 400);
  EXPECT_EQ(status_of("/v1/sandboxes/bad1/fork", {{"id", "Not Valid!"}}), 400);
  EXPECT_EQ(status_of("/v1/sandboxes", {{"id", "new1"}, {"snapshot", "missing"}}), 404);
  EXPECT_EQ(status_of("/v1/sandboxes", {{"id", "new1"}, {"snapshot", 3}}), 400);
  EXPECT_EQ(get_status(d, "/v1/snapshots/missing"), 404);
  EXPECT_EQ(d.http().Delete("/v1/snapshots/missing")->status, 404);

  // Nothing changed: the sandbox's files, its snapshots, and no sandbox was made.
  EXPECT_EQ(sh(d, "bad1", "cat data.txt"), "v2");
  EXPECT_EQ(listed(d, "/v1/snapshots"), before);
  EXPECT_EQ(snapshot_dirs(d), before);
  EXPECT_EQ(get_status(d, "/v1/sandboxes/new1"), 404);
  EXPECT_EQ(get_status(d, "/v1/sandboxes/f"), 404);
  EXPECT_EQ(d.containers().size(), 1u) << "a refused create or fork left a container";
}

TEST_F(Snapshots, ATaskWithACheckpointNamesASnapshotOfTheWorkspaceBeforeIt) {
  Daemon d("snaptask");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_FALSE(create(d, {{"id", "tk1"}}).is_null());
  sh(d, "tk1", "printf before-task > state.txt");
  // No model answers: the agent fails or is cancelled; the checkpoint is taken first.
  json task = expect_status(post(d, "/v1/sandboxes/tk1/tasks",
                                 {{"agent", "opencode"},
                                  {"prompt", "change state.txt"},
                                  {"timeout_s", 60},
                                  {"checkpoint", true}}),
                            202, d);
  ASSERT_FALSE(task.is_null());
  ASSERT_TRUE(task["checkpoint_id"].is_string()) << task.dump();
  const std::string cid = task["checkpoint_id"];
  json snap = get_json(d, "/v1/snapshots/" + cid);
  ASSERT_FALSE(snap.is_null()) << "no snapshot " << cid;
  EXPECT_EQ(snap["sandbox_id"], "tk1");
  EXPECT_EQ(read_file(snapshot_tree(d, cid) + "/workspace/app/state.txt"), "before-task");
  const std::string task_path = "/v1/sandboxes/tk1/tasks/" + task["id"].get<std::string>();
  EXPECT_EQ(get_json(d, task_path)["checkpoint_id"], cid);

  (void)post(d, task_path + "/cancel");
  ASSERT_TRUE(eventually([&] { return get_json(d, task_path)["status"] != "running"; })) << d.log();
  // Restorable like any snapshot; a task without a checkpoint has none.
  sh(d, "tk1", "printf after-task > state.txt");
  ASSERT_EQ(post(d, "/v1/sandboxes/tk1/restore", {{"snapshot", cid}})->status, 200);
  EXPECT_EQ(sh(d, "tk1", "cat state.txt"), "before-task");
  json plain = expect_status(
      post(d, "/v1/sandboxes/tk1/tasks", {{"agent", "opencode"}, {"prompt", "x"}}), 202, d);
  ASSERT_FALSE(plain.is_null());
  EXPECT_TRUE(plain["checkpoint_id"].is_null()) << plain.dump();
  const std::string plain_path = "/v1/sandboxes/tk1/tasks/" + plain["id"].get<std::string>();
  (void)post(d, plain_path + "/cancel");
  EXPECT_TRUE(eventually([&] { return get_json(d, plain_path)["status"] != "running"; }));
  EXPECT_EQ(listed(d, "/v1/snapshots?sandbox_id=tk1"), std::set<std::string>{cid});
}

TEST_F(Templates, ViteIsImportedAsASnapshotAndServesItsDevServerWithoutAnInstall) {
  if (!std::getenv("SANDBOXED_TEST_TEMPLATES_DIR"))
    GTEST_SKIP() << "SANDBOXED_TEST_TEMPLATES_DIR is not set (tests/run.sh sets it)";
  Daemon d("tmplvite");
  ASSERT_TRUE(d.start()) << d.log();
  json vite = get_json(d, "/v1/snapshots/vite");
  ASSERT_FALSE(vite.is_null()) << d.log();
  EXPECT_EQ(vite["name"], "vite");
  EXPECT_EQ(vite["template"], true);
  EXPECT_TRUE(vite["sandbox_id"].is_null());
  EXPECT_GT(vite["files"].get<int64_t>(), 100) << "node_modules missing";
  EXPECT_TRUE(listed(d, "/v1/snapshots").count(vite["id"].get<std::string>()));

  // No egress at all, so nothing could be installed: the dev server runs from the copy.
  const auto t0 = std::chrono::steady_clock::now();
  json s = create(d, {{"id", "v1"},
                      {"snapshot", "vite"},
                      {"ports", {3000}},
                      {"egress", "none"},
                      {"wait_for_app", 120}});
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["app"]["state"], "listening")
      << "started at " << s["started_at"] << ": " << s["app"].dump();
  EXPECT_EQ(s["app"]["port"], 3000);
  EXPECT_TRUE(eventually([&] { return app_of(d, "v1")["state"] == "listening"; }))
      << app_of(d, "v1").dump();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(120));
  EXPECT_EQ(owner(app_file(d, "v1", "node_modules/vite/package.json")),
            static_cast<uid_t>(s["uid"].get<int64_t>()));
  auto page = d.preview("v1", 3000)->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200) << page->body << d.http().Get("/v1/sandboxes/v1/logs")->body;
  EXPECT_NE(page->body.find("<title>Vite app</title>"), std::string::npos) << page->body;
  EXPECT_NE(page->body.find("/@vite/client"), std::string::npos) << "not Vite's dev server";
  auto js = d.preview("v1", 3000)->Get("/src/main.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->get_header_value("Content-Type").find("javascript"), std::string::npos);

  // A restart of sandboxd keeps the imported template (same build, same snapshot).
  ASSERT_TRUE(d.stop()) << d.log();
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(get_json(d, "/v1/snapshots/vite"), vite);
  EXPECT_EQ(post(d, "/v1/sandboxes/v1/snapshots", {{"name", "vite"}})->status, 409)
      << "a snapshot took a template's name";
}

TEST_F(AppState, TheAppStateFollowsTheSupervisorAndWaitForAppAnswersOnceItIsKnown) {
  Daemon d("appstate");
  without_templates(d);
  ASSERT_TRUE(d.start()) << d.log();

  // No app yet: the supervisor says there is none, and the create answers at once.
  auto t0 = std::chrono::steady_clock::now();
  json s = create(d, {{"id", "ap1"}, {"ports", {3000}}, {"wait_for_app", true}});
  ASSERT_FALSE(s.is_null());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  json app = s["app"];
  EXPECT_EQ(app["state"], "none") << app.dump();
  EXPECT_TRUE(app["reason"].is_null()) << "not the supervisor's word: " << app.dump();
  EXPECT_TRUE(app["port"].is_null());
  EXPECT_EQ(app["restarts"], 0);
  EXPECT_TRUE(app["last_exit"].is_null());
  EXPECT_TRUE(app["updated_at"].is_string()) << app.dump();

  sh(d, "ap1", "printf hi > msg.txt");
  ASSERT_TRUE(d.write_node_app("ap1", kMessageServer));
  ASSERT_TRUE(eventually([&] { return app_of(d, "ap1")["state"] == "listening"; }))
      << app_of(d, "ap1").dump();
  app = app_of(d, "ap1");
  EXPECT_EQ(app["port"], 3000);
  EXPECT_TRUE(app["started_at"].is_string()) << app.dump();
  EXPECT_TRUE(app["reason"].is_null()) << app.dump();
  EXPECT_NE(app["log_tail"].get<std::string>().find("port 3000"), std::string::npos) << app.dump();

  // A kill is a crash: its signal, its time, one restart, and it listens again.
  sh(d, "ap1", "pkill -f '[n]ode server.js'");
  ASSERT_TRUE(eventually([&] {
    json a = app_of(d, "ap1");
    return a["restarts"] == 1 && a["state"] == "listening";
  })) << app_of(d, "ap1").dump();
  app = app_of(d, "ap1");
  EXPECT_EQ(app["last_exit"], (json{{"signal", 15}})) << app.dump();
  EXPECT_TRUE(app["last_exit_at"].is_string()) << app.dump();

  // Created from a snapshot with an app, wait_for_app answers once it listens.
  ASSERT_FALSE(snapshot(d, "ap1", {{"name", "with-app"}}).is_null());
  json copy =
      create(d, {{"id", "ap2"}, {"snapshot", "with-app"}, {"ports", {3000}}, {"wait_for_app", 60}});
  ASSERT_FALSE(copy.is_null());
  EXPECT_EQ(copy["app"]["state"], "listening")
      << "started at " << copy["started_at"] << ": " << copy["app"].dump();
  EXPECT_EQ(copy["app"]["restarts"], 0) << "the copy's state is its own supervisor's";
  EXPECT_EQ(preview_body(d, "ap2", 3000), "msg=hi");

  // Stopped: no app, and why. A start that waits sees an app that exits at once crash.
  sh(d, "ap1", "echo 'process.exit(3)' > server.js");
  ASSERT_EQ(post(d, "/v1/sandboxes/ap1/stop")->status, 200);
  app = app_of(d, "ap1");
  EXPECT_EQ(app["state"], "none");
  EXPECT_EQ(app["reason"], "the sandbox is stopped") << app.dump();
  json started = expect_status(post(d, "/v1/sandboxes/ap1/start?wait_for_app=60"), 200, d);
  ASSERT_FALSE(started.is_null());
  EXPECT_EQ(started["app"]["state"], "crashed")
      << "started at " << started["started_at"] << ": " << started["app"].dump();
  EXPECT_EQ(started["app"]["last_exit"], (json{{"code", 3}})) << started["app"].dump();
  EXPECT_TRUE(eventually([&] {
    return app_of(d, "ap1")["last_exit"] == json{{"code", 3}};
  })) << app_of(d, "ap1").dump();

  // wait_for_app outside 1..300 (or not a number of seconds) is refused, creating nothing.
  for (const json& bad : {json(0), json(301), json("yes"), json(-1)}) {
    auto r = post(d, "/v1/sandboxes", {{"id", "ap3"}, {"wait_for_app", bad}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad.dump() << " " << r->body;
  }
  EXPECT_EQ(get_status(d, "/v1/sandboxes/ap3"), 404);
  EXPECT_EQ(post(d, "/v1/sandboxes/ap1/start?wait_for_app=301")->status, 400);
  EXPECT_EQ(post(d, "/v1/sandboxes/ap1/start?wait_for_app=soon")->status, 400);
}

}  // namespace
}  // namespace sandboxd::testing_support
