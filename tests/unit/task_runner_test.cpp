// Unit test of `sandbox-init task-run` (run in-process on a temp dir, with `sh` as the
// agent): the prompt reaches the agent on stdin, not argv; stderr.log keeps 1 MiB of a
// larger stderr without blocking the agent; exit.json reports the run.
#include "supervisor/task_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sandboxd {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(TaskRunner, TheAgentReadsThePromptOnStdinAndItsStderrIsCutAt1MiB) {
  const std::string dir = testing::TempDir() + "/task-run-" + std::to_string(::getpid());
  const std::string app = dir + "/app";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(app);
  const std::string prompt = "-p looks like an option\nand has a second line\n";
  std::ofstream(dir + "/prompt") << prompt;
  // The agent echoes its stdin and its own argv, then writes 3 MB to stderr.
  std::vector<std::string> args = {
      "sandbox-init",
      "task-run",
      dir,
      "60",
      app,
      "--",
      "sh",
      "-c",
      "cat; tr '\\0' ' ' </proc/$$/cmdline >\"$0\"; head -c 3000000 /dev/zero | tr '\\0' e >&2",
      dir + "/argv"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());

  ASSERT_EQ(run_task(static_cast<int>(argv.size()), argv.data()), 0);

  EXPECT_EQ(slurp(dir + "/out.jsonl"), prompt);
  EXPECT_EQ(slurp(dir + "/argv").find("option"), std::string::npos) << slurp(dir + "/argv");
  EXPECT_EQ(std::filesystem::file_size(dir + "/stderr.log"), std::uintmax_t{1} << 20);
  auto exit = nlohmann::json::parse(slurp(dir + "/exit.json"));
  EXPECT_EQ(exit["exit_code"], 0);
  EXPECT_EQ(exit["timed_out"], false);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sandboxd
