// Integration: the web console (/console) in a real headless Chromium driven through
// chromedriver (tests/integration/webdriver.h), against a real sandboxd and sandbox: log
// in with the daemon's token, find the sandbox in the list, open it, run a command in
// the terminal (ticket + WebSocket) and see its output, start an OpenCode task against
// the mock model and see its events end with done, then stop the sandbox from its page.
// Each step leaves a screenshot in <build dir>/test-artifacts/console/NN-name.png.
#include <gtest/gtest.h>

#include <filesystem>

#include "integration/daemon.h"
#include "integration/webdriver.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class Console : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { require_docker_and_image(); }
};

// Where the screenshots go: beside the sandboxd binary, in the build directory.
std::filesystem::path artifacts_dir() {
  auto dir = std::filesystem::path(SANDBOXD_BINARY).parent_path() / "test-artifacts" / "console";
  std::filesystem::create_directories(dir);
  return dir;
}

// The textContent of the first element matching `css` (also when hidden), "" when none.
std::string content(WebDriver& wd, const std::string& css) {
  json v = wd.execute(
      "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", {css});
  return v.is_string() ? v.get<std::string>() : "";
}

bool present(WebDriver& wd, const std::string& css) { return !wd.find(css).empty(); }

TEST_F(Console, AnOperatorLogsInUsesTheTerminalRunsATaskAndStopsTheSandbox) {
  Daemon d("console");
  ASSERT_TRUE(d.start()) << d.log();
  MockModel m(network_gateway(d.network()));
  ASSERT_TRUE(allow_model(d, m)) << d.log();
  auto created = d.http().Post(
      "/v1/sandboxes", json{{"id", "con1"}, {"memory", "1g"}, {"env", opencode_env(m)}}.dump(),
      "application/json");
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "") << d.log();

  const auto dir = artifacts_dir();
  WebDriver wd((dir / "chromedriver.log").string());
  ASSERT_TRUE(wd.ok()) << wd.error();
  int step = 0;
  auto shot = [&](const std::string& name) {
    ++step;
    std::string file = (step < 10 ? "0" : "") + std::to_string(step) + "-" + name + ".png";
    EXPECT_TRUE(wd.screenshot((dir / file).string())) << wd.error();
  };
  // What the page said, for failure messages.
  auto page = [&] {
    return "message: " + content(wd, "#message") + "\nbrowser log: " + wd.browser_log().dump();
  };

  ASSERT_TRUE(wd.navigate("http://127.0.0.1:" + std::to_string(d.port()) + "/console"))
      << wd.error();
  ASSERT_TRUE(eventually([&] { return present(wd, "#login-view:not([hidden])"); }, seconds(10)))
      << page();
  shot("login");
  ASSERT_TRUE(wd.send_keys("#token", d.token())) << wd.error();
  ASSERT_TRUE(wd.click("#login")) << wd.error();

  const std::string row = "tr[data-sandbox-id=\"con1\"]";
  ASSERT_TRUE(eventually([&] { return present(wd, row); }, seconds(20))) << page();
  shot("list");
  ASSERT_TRUE(wd.click(row + " a.sandbox-link")) << wd.error();
  ASSERT_TRUE(eventually([&] { return wd.text("#status") == "running"; }, seconds(20))) << page();
  shot("sandbox");

  // The terminal: the command's output (42), not its echo ($((40+2))), must show.
  ASSERT_TRUE(wd.click("#tab-terminal")) << wd.error();
  ASSERT_TRUE(
      eventually([&] { return present(wd, "#terminal[data-state=\"open\"]"); }, seconds(30)))
      << content(wd, "#terminal-state") << "\n"
      << page() << d.log();
  const std::string mark = random_token(8);
  const std::string command = "echo \"hi-$((40+2))-" + mark + "\"" + WebDriver::kEnter;
  // Into xterm's input textarea, or else as key presses to the focused terminal.
  ASSERT_TRUE(wd.send_keys(".xterm-helper-textarea", command) || wd.type(command)) << wd.error();
  EXPECT_TRUE(eventually(
      [&] { return content(wd, ".xterm-rows").find("hi-42-" + mark) != std::string::npos; },
      seconds(20)))
      << content(wd, ".xterm-rows") << "\n"
      << page();
  shot("terminal");

  // A task started from the form, followed until its done event.
  ASSERT_TRUE(wd.click("#tab-tasks")) << wd.error();
  ASSERT_TRUE(wd.send_keys("#task-model", "mock/mock-model")) << wd.error();
  ASSERT_TRUE(wd.send_keys("#task-prompt", "Create hello.txt")) << wd.error();
  ASSERT_TRUE(wd.click("#task-start")) << wd.error();
  const std::string done = "#task-events .event[data-type=\"done\"]";
  EXPECT_TRUE(eventually([&] { return present(wd, done); }, seconds(240)))
      << content(wd, "#task-events") << "\n"
      << page() << d.log();
  EXPECT_NE(content(wd, done).find("succeeded"), std::string::npos) << content(wd, done);
  EXPECT_TRUE(present(wd, "#task-events .event[data-type=\"tool\"]"))
      << content(wd, "#task-events");
  shot("task");

  // Stop: the header says stopped, and the open terminal ends with the sandbox.
  ASSERT_TRUE(wd.click("#btn-stop")) << wd.error();
  EXPECT_TRUE(eventually([&] { return wd.text("#status") == "stopped"; }, seconds(60)))
      << page() << d.log();
  EXPECT_TRUE(eventually(
      [&] {
        return content(wd, "#terminal-state").find("[exited") != std::string::npos ||
               content(wd, "#terminal-state").find("[disconnected") != std::string::npos;
      },
      seconds(30)))
      << content(wd, "#terminal-state");
  shot("stopped");
  auto sandbox = d.http().Get("/v1/sandboxes/con1");
  ASSERT_TRUE(sandbox && sandbox->status == 200);
  EXPECT_EQ(json::parse(sandbox->body)["status"], "stopped");

  // No script error on the way (xterm's blocked inline <style> elements are "security"
  // entries: the console adopts their text as constructed stylesheets instead).
  for (const auto& entry : wd.browser_log())
    EXPECT_NE(entry.value("source", ""), "javascript") << entry.dump();
}

}  // namespace
}  // namespace sandboxd::testing_support
