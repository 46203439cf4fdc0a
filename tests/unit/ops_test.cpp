// The operator subcommands' logic: doctor's checks against a fake docker CLI and fake
// memory, and the ls table.
#include "sandboxd/ops/ops.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "fakes/fake_memory.h"
#include "fakes/fake_process_runner.h"

namespace sandboxd {
namespace {

using Level = DoctorCheck::Level;

bool healthy(const std::string&, int) { return true; }
bool down(const std::string&, int) { return false; }

class DoctorTest : public testing::Test {
 protected:
  DoctorTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("sandboxd-doctor-" + std::to_string(::getpid()) + "-" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    config_.data_dir = dir_.string();
    config_.image = "img:1";
    config_.network = "net1";
    runner_.on({"docker", "version"}, 0, "20.10.24\n");
    for (const char* net : {"net1", "net1-none"}) {
      runner_.on({"docker", "network", "inspect", "--format",
                  "{{.Id}} {{index .Options \"com.docker.network.bridge.name\"}}", net},
                 0, std::string(net) == "net1" ? "aaaaaaaaaaaaaaaa \n" : "bbbbbbbbbbbbbbbb \n");
    }
    runner_.on({"docker", "info", "--format"}, 0, "{\"runc\":{\"path\":\"runc\"}}\n");
    runner_.on({"docker", "image", "inspect"}, 0, "761000000\n");
  }
  ~DoctorTest() override { std::filesystem::remove_all(dir_); }

  const DoctorCheck& check(const std::vector<DoctorCheck>& checks, const std::string& name) {
    for (const auto& c : checks)
      if (c.name == name) return c;
    static DoctorCheck none{"missing", Level::kFail, "no such check", ""};
    return none;
  }

  std::filesystem::path dir_;
  Config config_;
  FakeProcessRunner runner_;
  FakeMemoryProbe memory_;
};

TEST_F(DoctorTest, AHealthyHostPassesEveryCheck) {
  std::filesystem::create_directories(dir_ / "state");
  ::chmod((dir_ / "state").c_str(), 0700);
  runner_.on({"docker", "network", "inspect"}, 0, "true false\n");
  auto checks = run_doctor(config_, runner_, memory_, healthy);
  for (const auto& c : checks) EXPECT_EQ(c.level, Level::kOk) << c.name << ": " << c.detail;
  EXPECT_EQ(doctor_exit_code(checks), 0);
  EXPECT_NE(check(checks, "docker").detail.find("20.10.24"), std::string::npos);
  EXPECT_NE(format_doctor(checks).find("ready\n"), std::string::npos);
}

TEST_F(DoctorTest, MissingEgressRulesFailAndSayWhoInstallsThem) {
  runner_.on({"docker", "network", "inspect"}, 0, "true false\n");
  runner_.on({"iptables", "-w", "-C", "INPUT"}, 1, "", "iptables: Bad rule");
  auto c = check(run_doctor(config_, runner_, memory_, healthy), "egress");
  EXPECT_EQ(c.level, Level::kFail);
  EXPECT_NE(c.detail.find("no jump from INPUT"), std::string::npos) << c.detail;
  EXPECT_NE(c.fix.find("start sandboxd"), std::string::npos);
}

TEST_F(DoctorTest, GvisorIsOptionalUnlessItIsTheDefaultRuntime) {
  runner_.on({"docker", "network", "inspect"}, 0, "true false\n");
  auto optional = check(run_doctor(config_, runner_, memory_, healthy), "gvisor");
  EXPECT_EQ(optional.level, Level::kOk);
  EXPECT_NE(optional.detail.find("not available"), std::string::npos);
  config_.isolation = Isolation::kGvisor;
  EXPECT_EQ(check(run_doctor(config_, runner_, memory_, healthy), "gvisor").level, Level::kFail);
  FakeProcessRunner with;
  with.on({"docker", "info", "--format"}, 0,
          "{\"runc\":{},\"runsc\":{\"path\":\"/usr/bin/runsc\"}}");
  with.on({"docker"}, 0, "true false\n");
  EXPECT_EQ(check(run_doctor(config_, with, memory_, healthy), "gvisor").level, Level::kOk);
}

TEST_F(DoctorTest, SandboxUidsHeldByNoAccountPassAndARangeOverAnAccountFails) {
  config_.uid_base = 0x70000000;
  EXPECT_EQ(check(run_doctor(config_, runner_, memory_, healthy), "uids").level, Level::kOk);
  // nobody (65534) is an account on every Debian host.
  config_.uid_base = 65534 - 10;
  auto c = check(run_doctor(config_, runner_, memory_, healthy), "uids");
  EXPECT_EQ(c.level, Level::kFail);
  EXPECT_NE(c.detail.find("nobody"), std::string::npos) << c.detail;
}

TEST_F(DoctorTest, ADeadEngineFailsAndSaysHowToStartIt) {
  FakeProcessRunner dead;
  dead.on({"docker"}, 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock");
  auto checks = run_doctor(config_, dead, memory_, down);
  EXPECT_EQ(check(checks, "docker").level, Level::kFail);
  EXPECT_NE(check(checks, "docker").fix.find("start dockerd"), std::string::npos);
  EXPECT_EQ(check(checks, "image").level, Level::kWarn);  // not checked
  EXPECT_EQ(check(checks, "api").level, Level::kWarn);
  EXPECT_EQ(doctor_exit_code(checks), 1);
  std::string text = format_doctor(checks);
  EXPECT_NE(text.find("[FAIL] docker"), std::string::npos) << text;
  EXPECT_NE(text.find("fix: start dockerd"), std::string::npos) << text;
}

TEST_F(DoctorTest, AMissingImageFailsWithTheBuildCommand) {
  FakeProcessRunner runner;
  runner.on({"docker", "version"}, 0, "24.0.7\n");
  runner.on({"docker", "image", "inspect"}, 1, "", "No such image: img:1");
  runner.on({"docker", "network", "inspect"}, 1, "", "Error: No such network: net1");
  auto checks = run_doctor(config_, runner, memory_, healthy);
  EXPECT_EQ(check(checks, "image").level, Level::kFail);
  EXPECT_NE(check(checks, "image").fix.find("./install.sh"), std::string::npos);
  EXPECT_EQ(check(checks, "network").level, Level::kOk);  // absent: created at start
}

TEST_F(DoctorTest, AForeignOrLeakyNetworkIsReported) {
  runner_.on({"docker", "network", "inspect"}, 0, " true\n");
  EXPECT_EQ(check(run_doctor(config_, runner_, memory_, healthy), "network").level, Level::kFail);
  FakeProcessRunner leaky;
  leaky.on({"docker", "version"}, 0, "24.0.7\n");
  leaky.on({"docker", "network", "inspect"}, 0, "true true\n");
  EXPECT_EQ(check(run_doctor(config_, leaky, memory_, healthy), "network").level, Level::kWarn);
}

TEST_F(DoctorTest, AStateDirReadableByOthersFails) {
  std::filesystem::create_directories(dir_ / "state");
  ::chmod((dir_ / "state").c_str(), 0755);
  auto c = check(run_doctor(config_, runner_, memory_, healthy), "data dir");
  EXPECT_EQ(c.level, Level::kFail) << c.detail;
  EXPECT_NE(c.fix.find("chmod 700"), std::string::npos);
}

TEST_F(DoctorTest, MemoryBelowTheThresholdsWarnsThenFails) {
  config_.mem_headroom_pct = 15;
  config_.mem_refuse_pct = 10;
  memory_.available_pct = 12;
  EXPECT_EQ(check(run_doctor(config_, runner_, memory_, healthy), "memory").level, Level::kWarn);
  memory_.available_pct = 8;
  auto c = check(run_doctor(config_, runner_, memory_, healthy), "memory");
  EXPECT_EQ(c.level, Level::kFail);
  EXPECT_NE(c.detail.find("refused"), std::string::npos) << c.detail;
}

}  // namespace
}  // namespace sandboxd
