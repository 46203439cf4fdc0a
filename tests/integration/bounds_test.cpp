// Integration (issue 10): nothing grows without bound and operations stay inside the
// instance. A container that is not this instance's survives DELETE and purge of the id
// its name belongs to; a flood of anonymous preview requests leaves a bounded log; task
// retention runs at startup (on its own thread, beside the API); `sandboxd ls` and
// `sandboxd ready` reach the API with only the daemon's own settings.
// Requests go only to the daemon on loopback; the foreign container has no network.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/daemon.h"
#include "sandboxd/store/store.h"

namespace sandboxd::testing_support {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class Bounds : public testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }
};

// Removes a container at the end of a test, whatever happened.
struct ContainerGuard {
  std::string name;
  ~ContainerGuard() { run_cmd({"docker", "rm", "-f", name}); }
};

std::size_t count_lines(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

TEST_F(Bounds, DeleteAndPurgeOfAnIdWithoutARowLeaveAForeignContainerAlone) {
  Daemon d("foreign");
  ASSERT_TRUE(d.start()) << d.log();
  // Someone else's container, under the very name sandbox x1 would get (no labels).
  ContainerGuard foreign{d.container("x1")};
  auto [rc, out] = run_cmd({"docker", "run", "-d", "--name", foreign.name, "--network", "none",
                            "--entrypoint", "sleep", test_image(), "600"});
  ASSERT_EQ(rc, 0) << out;
  const std::string id = docker_inspect(foreign.name).value("Id", "");
  ASSERT_FALSE(id.empty());

  auto del = d.http().Delete("/v1/sandboxes/x1");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 404) << del->body;
  auto purge = d.http().Post("/v1/sandboxes/x1/purge", "{}", "application/json");
  ASSERT_TRUE(purge);
  EXPECT_EQ(purge->status, 404) << purge->body;
  EXPECT_EQ(d.http().Delete("/sandbox/x1")->status, 404);

  json after = docker_inspect(foreign.name);
  ASSERT_FALSE(after.is_null()) << "the foreign container was removed\n" << d.log();
  EXPECT_EQ(after.value("Id", ""), id);
  EXPECT_TRUE(after["State"].value("Running", false)) << "and it was left running";
  EXPECT_NE(d.log().find("lacks this instance's labels; left alone"), std::string::npos);
  // An unknown id with no container at all stays idempotent.
  EXPECT_EQ(d.http().Delete("/v1/sandboxes/nobody1")->status, 204);
}

TEST_F(Bounds, AFloodOfAnonymousPreviewRequestsLeavesABoundedLog) {
  Daemon d("flood");
  ASSERT_TRUE(d.start()) << d.log();
  const std::size_t lines_before = count_lines(d.log(), "\n");
  constexpr int kThreads = 4, kPerThread = 500;
  std::atomic<int> not_found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", d.wake_port());
      c.set_connection_timeout(5, 0);
      c.set_read_timeout(10, 0);
      for (int i = 0; i < kPerThread; ++i) {
        httplib::Headers h = {{"Host", "probe-" + std::to_string(t) + ".unknown.example"}};
        if (auto r = c.Get("/", h); r && r->status == 404) ++not_found;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(not_found.load(), kThreads * kPerThread);
  const std::string log = d.log();
  const std::size_t logged = count_lines(log, "preview: 404 for host");
  EXPECT_GE(logged, 1u) << "the 404s are logged, at a bounded rate";
  // 10 a minute (two windows if the flood straddles a minute), plus suppression notes.
  EXPECT_LE(logged, 20u) << log;
  EXPECT_LE(count_lines(log, "\n") - lines_before, 30u) << log;
  EXPECT_NE(log.find("similar lines are suppressed"), std::string::npos) << log;
}

TEST_F(Bounds, FinishedTasksPastTheirRetentionArePrunedAtStartupWithTheirFiles) {
  Daemon d("retain", {{"SANDBOXD_TASK_MAX_FINISHED_PER_SANDBOX", "1"}});
  ASSERT_TRUE(d.start()) << d.log();  // creates and migrates the database
  ASSERT_TRUE(d.stop()) << d.log();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t day = 86'400'000;
  // Task ids have the shape of a ULID (26 lower-case letters and digits).
  auto tid = [](std::string label) { return label + std::string(26 - label.size(), '0'); };
  const std::string expired = tid("expired1"), older = tid("older1"), newest = tid("newest1");
  {
    auto store = Store::open(d.data_dir() + "/state/sandboxd.db");
    ASSERT_TRUE(store) << store.error().message();
    for (auto [id, age_days] : {std::pair{expired, 40}, {older, 2}, {newest, 1}}) {
      TaskRecord t;
      t.id = id;
      t.sandbox_id = "r1";
      t.agent = Agent::kOpenCode;
      t.prompt = "p";
      t.status = TaskStatus::kSucceeded;
      t.created_at = t.started_at = t.finished_at = now - age_days * day;
      ASSERT_TRUE((*store)->insert_task(t).is_ok());
      ASSERT_TRUE((*store)->append_task_events(t, {{"done", "{}"}}, t.finished_at).is_ok());
      fs::create_directories(d.workspace("r1") + "/.sandboxed/tasks/" + id);
      std::ofstream(d.workspace("r1") + "/.sandboxed/tasks/" + id + "/out.jsonl") << "{}\n";
    }
  }
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(eventually([&] {
    return d.log().find(
               "tasks: pruned 2 finished tasks (1 older than 30 days, 1 beyond 1 per "
               "sandbox), 2 directories removed") != std::string::npos;
  })) << d.log();
  EXPECT_EQ(d.http().Get("/v1/sandboxes/r1/tasks/" + expired)->status, 404);
  EXPECT_EQ(d.http().Get("/v1/sandboxes/r1/tasks/" + older)->status, 404);
  EXPECT_EQ(d.http().Get("/v1/sandboxes/r1/tasks/" + newest)->status, 200);
  EXPECT_FALSE(fs::exists(d.workspace("r1") + "/.sandboxed/tasks/" + expired));
  EXPECT_FALSE(fs::exists(d.workspace("r1") + "/.sandboxed/tasks/" + older));
  EXPECT_TRUE(fs::exists(d.workspace("r1") + "/.sandboxed/tasks/" + newest + "/out.jsonl"));
  auto metrics = d.http().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("sandboxd_tasks_pruned_total{reason=\"age\"} 1"), std::string::npos);
}

TEST_F(Bounds, LsAsksTheApiWithTheAddressAndTokenOfTheDaemonsOwnSettings) {
  Daemon d("ls");
  ASSERT_TRUE(d.start()) << d.log();
  auto created = d.http().Post("/v1/sandboxes", R"({"id":"ls1"})", "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  // Only the daemon's own variables, as in its Compose container (the health check's
  // `sandboxd ready` runs there too): nothing from the test's environment or a .env.
  auto client = [&](const std::string& cmd, const std::string& token) {
    return run_cmd({"env", "-i", "SANDBOXED_API_BIND=127.0.0.1:" + std::to_string(d.port()),
                    "SANDBOXD_API_TOKENS=it:" + token, SANDBOXD_BINARY, cmd, "--env-file",
                    "/dev/null"});
  };
  auto [rc, out] = client("ls", d.token());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ls1"), std::string::npos) << out;
  auto second = d.http().Post("/v1/sandboxes", R"({"id":"ls2"})", "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 201) << second->body;
  auto [rc2, out2] = client("ls", d.token());
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_NE(out2.find("ls2"), std::string::npos) << out2;
  EXPECT_EQ(client("ready", d.token()).first, 0);
  // A wrong token is the API's 401: exit 1, and the secret is in neither output.
  auto [rc3, out3] =
      run_cmd({"env", "-i", "SANDBOXED_API_BIND=127.0.0.1:" + std::to_string(d.port()),
               "SANDBOXD_API_TOKENS=it:not-the-token-42", "sh", "-c",
               "exec \"$0\" ls --env-file /dev/null 2>&1", SANDBOXD_BINARY});
  EXPECT_NE(out3.find("401"), std::string::npos) << out3;
  EXPECT_EQ(rc3, 1) << out3;
  EXPECT_EQ(out3.find("not-the-token-42"), std::string::npos) << out3;
}

}  // namespace
}  // namespace sandboxd::testing_support
