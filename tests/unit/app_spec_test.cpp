#include "supervisor/app_spec.h"

#include <gtest/gtest.h>

namespace sandboxd {
namespace {

const std::string kApp = "/home/sandbox/workspace/app";

TEST(ResolveApp, ManifestStringCommandRunsThroughShWithItsPortAndEnv) {
  std::string err;
  auto app =
      resolve_app(kApp, R"({"command":"node server.js","port":8080,"env":{"A":"b"},"cwd":"web"})",
                  std::nullopt, {3000}, &err);
  ASSERT_TRUE(app) << err;
  EXPECT_EQ(app->argv, (std::vector<std::string>{"/bin/sh", "-c", "node server.js"}));
  EXPECT_EQ(app->port, 8080);
  EXPECT_EQ(app->env.at("A"), "b");
  EXPECT_EQ(app->cwd, kApp + "/web");
  EXPECT_EQ(app->source, "manifest");
}

TEST(ResolveApp, ManifestArrayCommandAndDefaultPortFromTheSandbox) {
  auto app = resolve_app(kApp, R"({"command":["python3","-m","http.server"]})", std::nullopt,
                         {5173, 3000}, nullptr);
  ASSERT_TRUE(app);
  EXPECT_EQ(app->argv.size(), 3u);
  EXPECT_EQ(app->port, 5173);
  EXPECT_EQ(app->cwd, kApp);
}

TEST(ResolveApp, TheManifestWinsOverPackageJson) {
  auto app = resolve_app(kApp, R"({"command":"x"})", R"({"scripts":{"dev":"vite"}})", {}, nullptr);
  ASSERT_TRUE(app);
  EXPECT_EQ(app->source, "manifest");
}

TEST(ResolveApp, PackageJsonDevScriptThenStart) {
  auto dev = resolve_app(kApp, std::nullopt, R"({"scripts":{"start":"node .","dev":"vite"}})", {},
                         nullptr);
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->argv, (std::vector<std::string>{"npm", "run", "dev"}));
  EXPECT_EQ(dev->port, 3000);
  auto start = resolve_app(kApp, std::nullopt, R"({"scripts":{"start":"node ."}})", {}, nullptr);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->argv.back(), "start");
}

TEST(ResolveApp, NothingToRunYet) {
  EXPECT_FALSE(resolve_app(kApp, std::nullopt, std::nullopt, {}, nullptr));
  EXPECT_FALSE(resolve_app(kApp, std::nullopt, R"({"scripts":{"build":"x"}})", {}, nullptr));
  EXPECT_FALSE(resolve_app(kApp, std::nullopt, "not json", {}, nullptr));
}

TEST(ResolveApp, AMalformedManifestIsReportedAndRunsNothing) {
  for (const char* bad :
       {"[]", "{}", R"({"command":""})", R"({"command":[1]})", R"({"command":"x","port":0})",
        R"({"command":"x","port":"80"})", R"({"command":"x","env":{"A":1}})", "{oops"}) {
    std::string err;
    EXPECT_FALSE(resolve_app(kApp, bad, R"({"scripts":{"dev":"vite"}})", {}, &err)) << bad;
    EXPECT_NE(err.find("sandbox.json"), std::string::npos) << bad;
  }
}

TEST(ParsePorts, SkipsGarbage) {
  EXPECT_EQ(parse_ports("3000,5173"), (std::vector<int>{3000, 5173}));
  EXPECT_EQ(parse_ports(""), std::vector<int>{});
  EXPECT_EQ(parse_ports("0,abc,70000,8080"), std::vector<int>{8080});
}

}  // namespace
}  // namespace sandboxd
