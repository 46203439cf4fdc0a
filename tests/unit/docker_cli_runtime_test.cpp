#include "sandboxd/runtime/docker_cli_runtime.h"

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
    s.user = "1879048193:1879048193";
    s.workdir = "/home/sandbox/workspace/app";
    s.labels = {{"sandboxed.managed", "true"}, {"sandboxed.id", "abc"}};
    s.env = {{"SECRET", "hunter2"}};
    s.mounts = {{"/data/workspaces/abc", "/home/sandbox"},
                {"/data/identity/abc/passwd", "/etc/passwd", /*read_only=*/true}};
    s.memory_bytes = 1 << 30;
    s.cpu_millis = 1500;
    s.oci_runtime = "runsc";
    s.pids_limit = 256;
    s.nofile = 4096;
    s.tmpfs_bytes = 64 << 20;
    s.log_max_bytes = 1 << 20;
    return s;
  }

  std::string dir_;
  FakeProcessRunner runner_;
};

// Golden argv: every flag, in order. A change to what a sandbox gets shows up here.
TEST_F(DockerCliTest, RunArgvIsExactlyTheHardenedCommand) {
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
  // clang-format off
  const std::vector<std::string> want = {
      "run", "-d", "--pull", "never", "--name", "s-abc", "--hostname", "s-abc",
      "--network", "net", "--user", "1879048193:1879048193",
      "--workdir", "/home/sandbox/workspace/app",
      "--init", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
      "--memory", "1073741824", "--memory-swap", "1073741824", "--cpus", "1.500",
      "--runtime", "runsc", "--pids-limit", "256", "--ulimit", "nofile=4096:4096",
      "--tmpfs", "/tmp:rw,exec,nosuid,nodev,mode=1777,size=67108864",
      "--label", "sandboxed.id=abc", "--label", "sandboxed.managed=true",
      "--mount", "type=bind,source=/data/workspaces/abc,target=/home/sandbox",
      "--mount", "type=bind,source=/data/identity/abc/passwd,target=/etc/passwd,readonly",
      "--log-driver", "json-file", "--log-opt", "max-size=1048576", "--log-opt", "max-file=1",
      "--env-file", "/x/env", "img:1"};
  // clang-format on
  EXPECT_EQ(cli.run_argv(spec(), "/x/env"), want);
}

TEST_F(DockerCliTest, NetworkInterfaceIsTheBridgeNameOrDockersOwn) {
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
  const std::string format = "{{.Id}} {{index .Options \"com.docker.network.bridge.name\"}}";
  runner_.on({"docker", "network", "inspect", "--format", format, "named"}, 0,
             "abcdef0123456789 sbx0\n");
  runner_.on({"docker", "network", "inspect", "--format", format, "plain"}, 0,
             "abcdef0123456789 <no value>\n");
  runner_.on({"docker", "network", "inspect", "--format", format, "gone"}, 1, "",
             "Error: No such network: gone");
  EXPECT_EQ(*cli.network_interface("named"), "sbx0");
  EXPECT_EQ(*cli.network_interface("plain"), "br-abcdef012345");
  EXPECT_FALSE(cli.network_interface("gone"));
}

TEST_F(DockerCliTest, UsageReadsTheContainersCgroupV2OrV1) {
  namespace fs = std::filesystem;
  const std::string v2 = dir_ + "/v2", v1 = dir_ + "/v1";
  fs::create_directories(v2 + "/system.slice/docker-c2.scope");
  std::ofstream(v2 + "/system.slice/docker-c2.scope/memory.current") << "5000\n";
  std::ofstream(v2 + "/system.slice/docker-c2.scope/cpu.stat")
      << "usage_usec 1500000\nuser_usec 1000000\n";
  fs::create_directories(v1 + "/memory/docker/c1");
  fs::create_directories(v1 + "/cpuacct/docker/c1");
  std::ofstream(v1 + "/memory/docker/c1/memory.usage_in_bytes") << "7000\n";
  std::ofstream(v1 + "/cpuacct/docker/c1/cpuacct.usage") << "2500000000\n";
  DockerCliRuntime on_v2(runner_, "docker", dir_, std::chrono::seconds(5), v2);
  DockerCliRuntime on_v1(runner_, "docker", dir_, std::chrono::seconds(5), v1);
  ContainerUsage u2 = on_v2.usage("c2");
  EXPECT_EQ(u2.memory_bytes, 5000);
  EXPECT_EQ(u2.cpu_usec, 1500000);
  ContainerUsage u1 = on_v1.usage("c1");
  EXPECT_EQ(u1.memory_bytes, 7000);
  EXPECT_EQ(u1.cpu_usec, 2500000);
  EXPECT_FALSE(on_v2.usage("stopped").memory_bytes);
  EXPECT_FALSE(on_v2.usage("../escape").memory_bytes);
}

TEST_F(DockerCliTest, RunArgvLeavesOutWhatTheSpecDoesNotAskFor) {
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
  RunSpec s;
  s.name = "s-min";
  s.image = "img:1";
  s.init = s.read_only = s.cap_drop_all = s.no_new_privileges = false;
  s.command = {"sleep", "1"};
  const std::vector<std::string> want = {"run",   "-d",    "--pull", "never", "--name",
                                         "s-min", "img:1", "sleep",  "1"};
  EXPECT_EQ(cli.run_argv(s, ""), want);
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
  DockerCliRuntime cli(runner, "docker", dir_, std::chrono::seconds(5));
  auto id = cli.create(spec());
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
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
  EXPECT_EQ(cli.stop("s-x", 7).code(), Code::kNotFound);
  auto calls = runner_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].argv, (std::vector<std::string>{"docker", "stop", "--time", "7", "s-x"}));
}

TEST_F(DockerCliTest, EnsureNetworkCreatesOnlyWhenMissing) {
  runner_.on({"docker", "network", "inspect"}, 1, "", "Error: No such network: net");
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
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
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
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
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
  auto list = cli.list({{"sandboxed.instance", "t"}});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].running);
  EXPECT_EQ((*list)[0].labels.at("sandboxed.managed"), "true");
  EXPECT_FALSE((*list)[1].running);
  EXPECT_EQ(runner_.calls()[0].argv,
            (std::vector<std::string>{"docker", "ps", "--all", "--no-trunc", "--format",
                                      "{{json .}}", "--filter", "label=sandboxed.instance=t"}));
}

TEST_F(DockerCliTest, PauseAndUnpauseFreezeAndThawByName) {
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
  runner_.on({"docker", "pause"}, 0, "s-a\n");
  runner_.on({"docker", "unpause"}, 1, "", "Error response from daemon: No such container: s-b");
  EXPECT_TRUE(cli.pause("s-a").is_ok());
  EXPECT_EQ(cli.unpause("s-b").code(), Code::kNotFound);
  ASSERT_EQ(runner_.calls().size(), 2u);
  EXPECT_EQ(runner_.calls()[0].argv, (std::vector<std::string>{"docker", "pause", "s-a"}));
  EXPECT_EQ(runner_.calls()[1].argv, (std::vector<std::string>{"docker", "unpause", "s-b"}));
}

TEST_F(DockerCliTest, ExecWrapsTheCommandInAnInContainerTimeout) {
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
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
  DockerCliRuntime cli(runner_, "docker", dir_, std::chrono::seconds(5));
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
