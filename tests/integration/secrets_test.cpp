// Integration: the API answers that carry a sandbox's own output (exec's stdout and
// stderr, the dev server's log tail) show "***" for the sandbox's env values and for the
// exec call's own env values, raw or JSON-escaped, whole values only (words that share
// bytes with a value survive); short values are not secrets.
#include <gtest/gtest.h>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

TEST(ExecSecrets, ExecOutputAndTheDevServerLogShowStarsForSecretEnvValues) {
  // JSON-special bytes and non-ASCII; Python escapes them as \" \\ and \u00e9.
  const std::string secret = "sb\"q\\s/t\xc3\xa9-" + random_token(16);
  const std::string call_secret = "call-" + random_token(16);
  Daemon d("execsec");
  ASSERT_TRUE(d.start()) << d.log();
  json body = {{"id", "x1"},
               {"env", {{"SB_SECRET", secret}, {"SHORT", "abc"}, {"MODE", "production"}}}};
  auto r = d.http().Post("/v1/sandboxes", body.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "") << d.log();

  auto out = [&](const json& request, const char* stream = "stdout") {
    json res = d.exec("x1", request);
    EXPECT_FALSE(res.is_null()) << request.dump();
    return res.is_null() ? std::string() : res[stream].get<std::string>();
  };
  EXPECT_EQ(out({{"cmd", {"printenv", "SB_SECRET"}}}), "***\n");
  EXPECT_EQ(out({{"cmd", {"sh", "-c", "printenv SB_SECRET >&2"}}}, "stderr"), "***\n");
  EXPECT_EQ(out({{"cmd", {"printenv", "CALL_SECRET"}}, {"env", {{"CALL_SECRET", call_secret}}}}),
            "***\n");
  EXPECT_EQ(
      out({{"cmd",
            {"python3", "-c", "import json, os; print(json.dumps(os.environ['SB_SECRET']))"}}}),
      "\"***\"\n");
  EXPECT_EQ(out({{"cmd", {"printenv", "SHORT"}}}), "abc\n") << "shorter than 8 bytes";
  EXPECT_EQ(out({{"cmd", {"echo", "function product src/production.js"}}}),
            "function product src/***.js\n");

  // The dev server prints the secret; its log tail shows the mask.
  json manifest = {{"command", {"sh", "-c", "echo \"token=$SB_SECRET\"; exec sleep 600"}}};
  auto put = d.http().Put(
      "/v1/sandboxes/x1/files",
      json{{"path", "workspace/app/sandbox.json"}, {"content", manifest.dump()}}.dump(),
      "application/json");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "");
  std::string tail;
  EXPECT_TRUE(eventually([&] {
    auto logs = d.http().Get("/v1/sandboxes/x1/logs");
    tail = logs && logs->status == 200 ? logs->body : "";
    return tail.find("token=") != std::string::npos;
  })) << tail;
  EXPECT_NE(tail.find("token=***"), std::string::npos) << tail;
  EXPECT_EQ(tail.find(secret), std::string::npos) << tail;
  EXPECT_EQ(d.log().find(secret), std::string::npos);
  EXPECT_EQ(d.log().find(call_secret), std::string::npos);
}

}  // namespace
}  // namespace sandboxd::testing_support
