#include "sandboxd/docker/docker_cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "fakes/fake_process_runner.h"

namespace sandboxd {
namespace {

class DockerCliTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/docker-cli-test-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  RunSpec spec() {
    RunSpec s;
    s.name = "s-abc";
    s.hostname = "s-abc";
    s.image = "img:1";
    s.network = "net";
    s.user = "1000:1000";
    s.workdir = "/home/sandbox/workspace/app";
    s.labels = {{"sandboxed.managed", "true"}, {"sandboxed.id", "abc"}};
    s.env = {{"SECRET", "hunter2"}};
    s.mounts = {{"/data/workspaces/abc", "/home/sandbox"}};
    s.memory_bytes = 1 << 30;
    s.pids_limit = 256;
    s.nofile = 4096;
    s.tmpfs_bytes = 64 << 20;
    s.log_max_bytes = 1 << 20;
    return s;
  }

  std::string dir_;
  FakeProcessRunner runner_;
};

bool has_pair(const std::vector<std::string>& argv, const std::string& flag,
              const std::string& value) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && argv[i + 1] == value) return true;
  return false;
}

TEST_F(DockerCliTest, RunArgvCarriesEveryHardeningFlag) {
  DockerCli cli(runner_, "docker", dir_, std::chrono::seconds(5));
  auto argv = cli.run_argv(spec(), "/x/env");
  EXPECT_EQ(argv[0], "run");
  EXPECT_EQ(argv[1], "-d");
  auto has = [&](const std::string& f) {
    return std::find(argv.begin(), argv.end(), f) != argv.end();
  };
  EXPECT_TRUE(has("--init"));
  EXPECT_TRUE(has("--read-only"));
  EXPECT_TRUE(has_pair(argv, "--cap-drop", "ALL"));
  EXPECT_TRUE(has_pair(argv, "--security-opt", "no-new-privileges"));
  EXPECT_TRUE(has_pair(argv, "--memory", "1073741824"));
  EXPECT_TRUE(has_pair(argv, "--memory-swap", "1073741824"));
  EXPECT_TRUE(has_pair(argv, "--pids-limit", "256"));
  EXPECT_TRUE(has_pair(argv, "--ulimit", "nofile=4096:4096"));
  EXPECT_TRUE(has_pair(argv, "--tmpfs", "/tmp:rw,exec,nosuid,nodev,mode=1777,size=67108864"));
  EXPECT_TRUE(has_pair(argv, "--user", "1000:1000"));
  EXPECT_TRUE(has_pair(argv, "--network", "net"));
  EXPECT_TRUE(has_pair(argv, "--label", "sandboxed.managed=true"));
  EXPECT_TRUE(
      has_pair(argv, "--mount", "type=bind,source=/data/workspaces/abc,target=/home/sandbox"));
  EXPECT_TRUE(has_pair(argv, "--pull", "never"));
  EXPECT_TRUE(has_pair(argv, "--log-opt", "max-size=1048576"));
  EXPECT_TRUE(has_pair(argv, "--env-file", "/x/env"));
  EXPECT_EQ(argv.back(), "img:1");
}

TEST_F(DockerCliTest, EnvValuesNeverReachTheCommandLineAndTheEnvFileIsPrivateAndRemoved) {
  std::string seen_file_content;
  mode_t seen_mode = 0;
  struct CapturingRunner : ProcessRunner {
    std::function<void(const ProcessSpec&)> hook;
    Result<ProcessOutput> run(const ProcessSpec& s) override {
      hook(s);
      ProcessOutput o;
      o.exit_code = 0;
      o.stdout_data = "abcdef0123\n";
      return o;
    }
  } runner;
  std::vector<std::string> argv;
  runner.hook = [&](const ProcessSpec& s) {
    argv = s.argv;
    for (std::size_t i = 0; i + 1 < s.argv.size(); ++i) {
      if (s.argv[i] == "--env-file") {
        std::ifstream f(s.argv[i + 1]);
        seen_file_content.assign(std::istreambuf_iterator<char>(f), {});
        struct stat sb {};
        ::stat(s.argv[i + 1].c_str(), &sb);
        seen_mode = sb.st_mode & 0777;
      }
    }
  };
  DockerCli cli(runner, "docker", dir_, std::chrono::seconds(5));
  auto id = cli.run(spec());
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, "abcdef0123");
  for (const auto& a : argv) EXPECT_EQ(a.find("hunter2"), std::string::npos) << a;
  EXPECT_EQ(seen_file_content, "SECRET=hunter2\n");
  EXPECT_EQ(seen_mode, 0600u);
  EXPECT_TRUE(std::filesystem::is_empty(dir_)) << "env file left behind";
}

TEST_F(DockerCliTest, ClassifiesDockerErrors) {
  auto err = [](const std::string& stderr_text) {
    ProcessOutput o;
    o.exit_code = 1;
    o.stderr_data = stderr_text;
    return classify_docker_error("op", o).code();
  };
  EXPECT_EQ(err("Error response from daemon: No such container: s-x"), Code::kNotFound);
  EXPECT_EQ(err("Error: No such object: s-x"), Code::kNotFound);
  EXPECT_EQ(err("docker: Error response from daemon: network foo not found."), Code::kNotFound);
  EXPECT_EQ(err("docker: Error response from daemon: Conflict. The container name \"/s-x\" is "
                "already in use"),
            Code::kConflict);
  EXPECT_EQ(err("Cannot connect to the Docker daemon at unix:///var/run/docker.sock."),
            Code::kUnavailable);
  EXPECT_EQ(err("Unable to find image 'x:1' locally"), Code::kUnavailable);
  EXPECT_EQ(err("something else"), Code::kInternal);
  ProcessOutput slow;
  slow.timed_out = true;
  EXPECT_EQ(classify_docker_error("op", slow).code(), Code::kTimeout);
}

TEST_F(DockerCliTest, StopPassesGraceAndMapsMissingContainer) {
  runner_.on({"docker", "stop"}, 1, "", "Error response from daemon: No such container: s-x");
  DockerCli cli(runner_, "docker", dir_, std::chrono::seconds(5));
  EXPECT_EQ(cli.stop("s-x", 7).code(), Code::kNotFound);
  auto calls = runner_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].argv, (std::vector<std::string>{"docker", "stop", "--time", "7", "s-x"}));
}

TEST_F(DockerCliTest, EnsureNetworkCreatesOnlyWhenMissing) {
  runner_.on({"docker", "network", "inspect"}, 1, "", "Error: No such network: net");
  DockerCli cli(runner_, "docker", dir_, std::chrono::seconds(5));
  ASSERT_TRUE(cli.ensure_network("net", {{"sandboxed.managed", "true"}}).is_ok());
  auto calls = runner_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].argv,
            (std::vector<std::string>{"docker", "network", "create", "--driver", "bridge", "--opt",
                                      "com.docker.network.bridge.enable_icc=false", "--label",
                                      "sandboxed.managed=true", "net"}));
}

TEST_F(DockerCliTest, InspectParsesState) {
  runner_.on(
      {"docker", "container", "inspect"}, 0,
      R"([{"Id":"abc123","Name":"/s-x","State":{"Status":"exited","Running":false,"ExitCode":137},
                 "Config":{"Labels":{"sandboxed.id":"x"}},
                 "NetworkSettings":{"Networks":{"sbx":{"IPAddress":"172.30.0.5"},
                                                "none":{"IPAddress":""}}}}])");
  DockerCli cli(runner_, "docker", dir_, std::chrono::seconds(5));
  auto st = cli.inspect("s-x");
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->id, "abc123");
  EXPECT_EQ(st->name, "s-x");
  EXPECT_EQ(st->status, "exited");
  EXPECT_FALSE(st->running);
  EXPECT_EQ(st->exit_code, 137);
  EXPECT_EQ(st->labels.at("sandboxed.id"), "x");
  EXPECT_EQ(st->ips, (std::map<std::string, std::string>{{"sbx", "172.30.0.5"}}));
}

TEST_F(DockerCliTest, ListFiltersByLabelsAndParsesLines) {
  runner_.on(
      {"docker", "ps"}, 0,
      "{\"ID\":\"a1\",\"Names\":\"s-a\",\"State\":\"running\",\"Labels\":\"sandboxed.id=a,"
      "sandboxed.managed=true\"}\n"
      "{\"ID\":\"b2\",\"Names\":\"s-b\",\"State\":\"exited\",\"Labels\":\"sandboxed.id=b\"}\n");
  DockerCli cli(runner_, "docker", dir_, std::chrono::seconds(5));
  auto list = cli.list({{"sandboxed.instance", "t"}});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].running);
  EXPECT_EQ((*list)[0].labels.at("sandboxed.managed"), "true");
  EXPECT_FALSE((*list)[1].running);
  EXPECT_TRUE(has_pair(runner_.calls()[0].argv, "--filter", "label=sandboxed.instance=t"));
}

TEST_F(DockerCliTest, ExecWrapsTheCommandInAnInContainerTimeout) {
  DockerCli cli(runner_, "docker", dir_, std::chrono::seconds(5));
  ExecSpec s;
  s.container = "s-x";
  s.cmd = {"ls", "-la"};
  s.user = "1000:1000";
  s.workdir = "/w";
  s.timeout = std::chrono::seconds(9);
  EXPECT_EQ(cli.exec_argv(s, ""),
            (std::vector<std::string>{"exec", "--user", "1000:1000", "--workdir", "/w", "s-x",
                                      "timeout", "--kill-after=5", "9", "ls", "-la"}));
}

TEST_F(DockerCliTest, ExecDaemonErrorsAreTypedButCommandFailuresAreResults) {
  runner_.on({"docker", "exec", "s-gone"}, 1, "",
             "Error response from daemon: No such container: s-gone");
  runner_.on({"docker", "exec", "s-x"}, 2, "", "ls: cannot access");
  DockerCli cli(runner_, "docker", dir_, std::chrono::seconds(5));
  ExecSpec s;
  s.cmd = {"ls", "nope"};
  s.container = "s-gone";
  auto gone = cli.exec(s);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Code::kNotFound);
  s.container = "s-x";
  auto failed = cli.exec(s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->exit_code, 2);
  EXPECT_EQ(failed->stderr_data, "ls: cannot access");
}

}  // namespace
}  // namespace sandboxd
