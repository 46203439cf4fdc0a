// Integration: the files API on real sandboxes (running and stopped), and every hostile
// layout a tenant can make from inside its sandbox: symlinks to /, /etc and another
// sandbox's workspace, mid-path and at the leaf, a FIFO, '..', absolute paths, NUL and an
// oversized body. Each gets a 4xx and nothing outside the workspace changes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.start()) << d_.log();
    for (const char* id : {"f1", "victim1"}) {
      auto r = d_.http().Post("/v1/sandboxes", json{{"id", id}}.dump(), "application/json");
      ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d_.log();
    }
  }
  int put(const json& body, const std::string& id = "f1") {
    auto r = d_.http().Put("/v1/sandboxes/" + id + "/files", body.dump(), "application/json");
    return r ? r->status : -1;
  }
  httplib::Result get(const std::string& path, const std::string& id = "f1") {
    return d_.http().Get("/v1/sandboxes/" + id + "/files?path=" + path);
  }
  std::string sh(const std::string& script) {
    json r = d_.exec("f1", {{"cmd", {"sh", "-c", script}}, {"workdir", "/home/sandbox"}});
    return r.is_null() ? "(exec failed)" : r["stdout"].get<std::string>();
  }
  Daemon d_{"files", {{"SANDBOXD_FILES_MAX_BYTES", "65536"}}};
};

TEST_F(Files, WritesReadsListsAndDeletesAsTheSandboxUserWhetherRunningOrStopped) {
  ASSERT_EQ(put({{"path", "workspace/app/src/index.html"}, {"content", "<h1>hi</h1>"}}), 200);
  ASSERT_EQ(put({{"path", "workspace/app/src/index.html"}, {"content", "\n"}, {"append", true}}),
            200);
  // The sandbox sees it, owned by its user.
  EXPECT_EQ(sh("cat workspace/app/src/index.html; stat -c %U:%G workspace/app/src/index.html "
               "workspace/app/src"),
            "<h1>hi</h1>\nsandbox:sandbox\nsandbox:sandbox\n");
  auto r = get("workspace/app/src/index.html");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  json f = json::parse(r->body);
  EXPECT_EQ(f["content"], "<h1>hi</h1>\n");
  EXPECT_EQ(f["encoding"], "utf8");
  auto raw = get("workspace/app/src/index.html&raw=true");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->body, "<h1>hi</h1>\n");
  EXPECT_EQ(raw->get_header_value("Content-Type"), "application/octet-stream");
  // The same without JSON: raw bytes in the body, path in the query.
  auto put_raw = d_.http().Put("/v1/sandboxes/f1/files?path=workspace/app/raw.bin",
                               std::string("\x00\x01\xff", 3), "application/octet-stream");
  ASSERT_TRUE(put_raw && put_raw->status == 200) << (put_raw ? put_raw->body : "");
  EXPECT_EQ(get("workspace/app/raw.bin&raw=true")->body, std::string("\x00\x01\xff", 3));
  ASSERT_EQ(d_.http().Delete("/v1/sandboxes/f1/files?path=workspace/app/raw.bin")->status, 204);
  json dir = json::parse(get("workspace/app/src")->body);
  ASSERT_EQ(dir["entries"].size(), 1u);
  EXPECT_EQ(dir["entries"][0]["name"], "index.html");

  // Stopped: the files API still works on the workspace.
  ASSERT_EQ(d_.http().Post("/v1/sandboxes/f1/stop", "", "application/json")->status, 200);
  ASSERT_EQ(put({{"path", "bin.dat"}, {"content", "AAEC/w=="}, {"encoding", "base64"}}), 200);
  json bin = json::parse(get("bin.dat")->body);
  EXPECT_EQ(bin["encoding"], "base64");
  EXPECT_EQ(bin["content"], "AAEC/w==");
  EXPECT_EQ(json::parse(d_.http().Get("/v1/sandboxes/f1")->body)["status"], "stopped")
      << "the files API does not wake the sandbox";
  EXPECT_EQ(d_.http().Delete("/v1/sandboxes/f1/files?path=bin.dat")->status, 204);
  EXPECT_EQ(get("bin.dat")->status, 404);
  EXPECT_EQ(d_.http().Delete("/v1/sandboxes/f1/files?path=workspace")->status, 409);
  EXPECT_EQ(get("x", "nosuch1")->status, 404);
  EXPECT_EQ(get("x", "Bad_Id!")->status, 400);
}

TEST_F(Files, HostileLayoutsGetA4xxAndTouchNothingOutsideTheWorkspace) {
  const std::string victim = d_.workspace("victim1");
  std::ofstream(victim + "/secret") << "victim's";
  fs::remove("/tmp/sandboxd-files-pwned");
  // What a tenant can do inside its own workspace.
  std::string made = sh("ln -s / to-root && ln -s /etc to-etc && ln -s " + victim +
                        " to-victim && ln -s /etc/passwd leaf && mkdir -p workspace/app/d && "
                        "ln -s / workspace/app/d/up && mkfifo pipe && echo made");
  ASSERT_EQ(made, "made\n");

  for (const char* path : {"to-root", "to-root/etc/passwd", "to-etc/passwd", "to-victim/secret",
                           "leaf", "workspace/app/d/up/etc/shadow", "pipe", "../victim1/secret",
                           "/etc/passwd", "workspace/%00x", "a/../../victim1"}) {
    auto r = get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 400) << path << ": " << r->body;
  }
  for (const std::string& path : std::vector<std::string>{
           "to-root/tmp/sandboxd-files-pwned", "to-etc/pwned", "to-victim/secret", "leaf",
           "workspace/app/d/up/tmp/sandboxd-files-pwned", "pipe", "../victim1/secret", "/tmp/x",
           std::string("a\0b", 3)}) {
    for (bool append : {false, true}) {
      int status = put({{"path", path}, {"content", "pwned"}, {"append", append}});
      EXPECT_EQ(status, 400) << path << " append=" << append;
    }
    std::string query;  // a NUL travels percent-encoded, as a client must send it
    for (char c : path + "/x") query += c == '\0' ? std::string("%00") : std::string(1, c);
    auto del = d_.http().Delete("/v1/sandboxes/f1/files?path=" + query);
    EXPECT_EQ(del ? del->status : -1, 400) << path;
  }
  EXPECT_EQ(put({{"path", "big"}, {"content", std::string(70000, 'x')}}), 413);
  auto huge = d_.http().Put("/v1/sandboxes/f1/files", std::string(200000, ' '), "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);

  EXPECT_FALSE(fs::exists("/tmp/sandboxd-files-pwned"));
  std::ifstream secret(victim + "/secret");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(secret), {}), "victim's");
  std::ifstream passwd("/etc/passwd");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(passwd), {}).find("pwned"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(d_.workspace("f1") + "/big"));
}

}  // namespace
}  // namespace sandboxd::testing_support
