#include "sandboxd/api/json_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sandboxd {
namespace {

TEST(DecodeCreate, EmptyBodyIsAllDefaults) {
  auto r = decode_create("");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->id);
  EXPECT_TRUE(r->ports.empty());
  EXPECT_EQ(r->idle_policy, IdlePolicy::kSleep);
}

TEST(DecodeCreate, ReadsMetadataAndRefusesNonStringValues) {
  auto r = decode_create(R"({"metadata":{"user":"alice","project":"p1"}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->metadata,
            (std::map<std::string, std::string>{{"user", "alice"}, {"project", "p1"}}));
  auto bad = decode_create(R"({"metadata":{"n":1}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("metadata.n"), std::string::npos);
}

TEST(DecodePatch, ReadsMergesListsAndLimits) {
  auto r = decode_patch(
      R"({"metadata":{"a":"1","b":null},"env":{"K":"v","OLD":null},"ports":[3000],
          "idle_policy":"always_on","memory":"512m","cpus":0.5,"pids_limit":64,"nofile":1024})");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->metadata);
  EXPECT_EQ(r->metadata->at("a"), std::optional<std::string>("1"));
  EXPECT_EQ(r->metadata->at("b"), std::nullopt);
  EXPECT_EQ(r->env->at("OLD"), std::nullopt);
  EXPECT_EQ(*r->ports, std::vector<int>{3000});
  EXPECT_EQ(*r->idle_policy, IdlePolicy::kAlwaysOn);
  EXPECT_EQ(*r->memory_bytes, 512LL << 20);
  EXPECT_EQ(*r->cpu_millis, 500);
  EXPECT_EQ(*r->pids, 64);
  EXPECT_EQ(*r->nofile, 1024);
}

TEST(DecodePatch, WhatIsNotGivenStaysUnset) {
  auto r = decode_patch(R"({"metadata":{}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->metadata && r->metadata->empty());
  EXPECT_FALSE(r->env || r->ports || r->idle_policy || r->memory_bytes || r->cpu_millis ||
               r->pids || r->nofile);
}

TEST(DecodePatch, RefusesFieldsFixedAtCreateUnknownFieldsAndAnEmptyBody) {
  for (const char* body : {R"({"disk":"1g"})", R"({"egress":"none"})", R"({"runtime":"gvisor"})",
                           R"({"id":"x"})", R"({"image":"x"})"}) {
    auto r = decode_patch(body);
    ASSERT_FALSE(r) << body;
    EXPECT_NE(r.error().message().find("cannot be changed after create"), std::string::npos);
  }
  auto unknown = decode_patch(R"({"timeout":5})");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("timeout: unknown field"), std::string::npos);
  EXPECT_FALSE(decode_patch(""));
  EXPECT_FALSE(decode_patch(R"({"env":{"K":5}})"));
  EXPECT_FALSE(decode_patch(R"({"metadata":[]})"));
}

TEST(DecodeCreate, ReadsEveryField) {
  auto r =
      decode_create(R"({"id":"Ab1","ports":[3000,5173],"env":{"K":"v"},"idle_policy":"always_on",
                             "memory":"512m","pids_limit":300,"nofile":2048})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->id, "Ab1");
  EXPECT_EQ(r->ports, (std::vector<int>{3000, 5173}));
  EXPECT_EQ(r->env.at("K"), "v");
  EXPECT_EQ(r->idle_policy, IdlePolicy::kAlwaysOn);
  EXPECT_EQ(*r->memory_bytes, 512LL << 20);
  EXPECT_EQ(*r->pids, 300);
  EXPECT_EQ(*r->nofile, 2048);
}

TEST(DecodeCreate, ReadsTheContainmentFields) {
  auto r = decode_create(R"({"disk":"2g","cpus":1.5,"egress":"none","runtime":"gvisor"})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->disk_bytes, 2LL << 30);
  EXPECT_EQ(*r->cpu_millis, 1500);
  EXPECT_EQ(*r->egress, Egress::kNone);
  EXPECT_EQ(*r->isolation, Isolation::kGvisor);
  EXPECT_EQ(*decode_create(R"({"cpus":"0.25","disk":67108864})")->cpu_millis, 250);
  EXPECT_EQ(*decode_create(R"({"cpus":2})")->cpu_millis, 2000);
  for (const char* body : {R"({"cpus":1.0005})", R"({"cpus":-1})", R"({"cpus":"x"})",
                           R"({"cpus":true})", R"({"disk":"huge"})", R"({"disk":[1]})",
                           R"({"egress":"lan"})", R"({"egress":1})", R"({"runtime":"kata"})"}) {
    auto bad = decode_create(body);
    ASSERT_FALSE(bad) << body;
    EXPECT_EQ(bad.error().code(), Code::kInvalidArgument) << body;
  }
}

TEST(DecodeCreate, WrongTypesAndMalformedJsonAreInvalid) {
  for (const char* body :
       {"{", "[]", "42", R"({"id":5})", R"({"ports":"3000"})", R"({"ports":[3000.5]})",
        R"({"ports":["3000"]})", R"({"ports":[0]})", R"({"ports":[70000]})", R"({"env":[]})",
        R"({"env":{"K":1}})", R"({"memory":"lots"})", R"({"pids_limit":"9"})",
        R"({"idle_policy":true})"}) {
    auto r = decode_create(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << body;
  }
}

TEST(DecodeExec, NeedsANonEmptyArrayOfStrings) {
  EXPECT_TRUE(decode_exec(R"({"cmd":["ls"],"timeout_s":5,"env":{"A":"b"},"workdir":"/tmp"})"));
  for (const char* body :
       {"", "{}", R"({"cmd":[]})", R"({"cmd":"ls"})", R"({"cmd":["ls",1]})",
        R"({"cmd":["ls"],"timeout_s":"5"})", R"({"cmd":["ls"],"timeout_s":0})"}) {
    EXPECT_FALSE(decode_exec(body)) << body;
  }
}

TEST(DecodeKeepalive, AcceptsNothingSecondsOrUntil) {
  EXPECT_FALSE(decode_keepalive("", 0)->has_value());
  EXPECT_EQ(**decode_keepalive(R"({"seconds":60})", 0), 60);
  EXPECT_EQ(**decode_keepalive(R"({"until":1100})", 1000 * 1000), 100);
  EXPECT_FALSE(decode_keepalive(R"({"until":10})", 1000 * 1000));
  EXPECT_FALSE(decode_keepalive(R"({"seconds":-1})", 0));
  EXPECT_FALSE(decode_keepalive(R"({"until":-9223372036854775808})", 1000 * 1000));
}

// Every body decoder is strict: a field it does not know is an error naming it, never
// silently ignored (a misspelt "timeout_sec" must not run with the default).
TEST(DecodeBodies, AnUnknownFieldIsInvalidAndNamed) {
  struct Case {
    const char* body;
    const char* unknown;
    Status (*decode)(const std::string&);
  };
  const Case cases[] = {
      {R"({"id":"a1","idle":"sleep"})", "idle",
       [](const std::string& b) { return decode_create(b).error_or_ok(); }},
      {R"({"id":null,"extra":null})", "extra",
       [](const std::string& b) { return decode_create(b).error_or_ok(); }},
      {R"({"cmd":["ls"],"timeout_sec":5})", "timeout_sec",
       [](const std::string& b) { return decode_exec(b).error_or_ok(); }},
      {R"({"seconds":60,"minutes":1})", "minutes",
       [](const std::string& b) { return decode_keepalive(b, 0).error_or_ok(); }},
      {R"({"prompt":"p","agent":"opencode","modle":"x"})", "modle",
       [](const std::string& b) { return decode_task(b).error_or_ok(); }},
      {R"({"path":"a","content":"x","mode":"0777"})", "mode",
       [](const std::string& b) { return decode_file_put(b).error_or_ok(); }},
  };
  for (const auto& c : cases) {
    Status s = c.decode(c.body);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.body;
    EXPECT_EQ(s.message().rfind(std::string(c.unknown) + ": unknown field (known: ", 0), 0u)
        << s.message();
  }
}

TEST(DecodeBodies, WordsOutsideTheDomainAreInvalidAndNamed) {
  auto task = decode_task(R"({"prompt":"p","agent":"codex"})");
  ASSERT_FALSE(task);
  EXPECT_EQ(task.error().message(), "agent: must be \"opencode\" or \"claude\"");
  auto create = decode_create(R"({"idle_policy":"hibernate"})");
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().message(), "idle_policy: must be 'sleep' or 'always_on'");
  EXPECT_EQ(decode_task(R"({"prompt":"p","agent":"claude"})")->agent, Agent::kClaude);
}

TEST(EncodeSandbox, ShowsEnvKeysAndPreviewUrlsButNeverEnvValues) {
  Config c;
  c.http_port = 8080;
  SandboxRecord r;
  r.id = "abc";
  r.status = SandboxStatus::kRunning;
  r.ports = {3000};
  r.env = {{"API_KEY", "super-secret-value"}};
  r.created_at = 1'800'000'000'000;
  std::string out = encode_sandbox(r, c);
  EXPECT_EQ(out.find("super-secret-value"), std::string::npos);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["env_keys"][0], "API_KEY");
  EXPECT_EQ(j["previews"][0]["url"], "http://s-abc-3000.preview.localhost:8080/");
  EXPECT_EQ(j["created_at"], "2027-01-15T08:00:00.000Z");
  EXPECT_TRUE(j["stopped_at"].is_null());
}

TEST(EncodeSandbox, TlsPreviewUrlsUseTheHttpsPort) {
  Config c;
  c.preview_tls = true;
  SandboxRecord r;
  r.id = "abc";
  r.ports = {3000};
  EXPECT_EQ(nlohmann::json::parse(encode_sandbox(r, c))["previews"][0]["url"],
            "https://s-abc-3000.preview.localhost/");
  c.https_port = 8443;
  EXPECT_EQ(nlohmann::json::parse(encode_sandbox(r, c))["previews"][0]["url"],
            "https://s-abc-3000.preview.localhost:8443/");
}

TEST(EncodeExec, ReplacesInvalidUtf8InsteadOfFailing) {
  ExecResult r;
  r.stdout_data = "ok \xff\xfe end";
  auto j = nlohmann::json::parse(encode_exec(r));
  EXPECT_NE(j["stdout"].get<std::string>().find("end"), std::string::npos);
}

TEST(Base64, RoundTripsEveryLengthAndRefusesMalformedInput) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(*base64_decode(base64_encode(bytes)), bytes) << i;
    bytes += static_cast<char>(i * 37);
  }
  EXPECT_EQ(base64_encode("hi"), "aGk=");
  EXPECT_EQ(*base64_decode("aGk="), "hi");
  for (const char* bad : {"aGk", "a===", "aG=k", "a!k=", "aGk=aGk="})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

TEST(Utf8, AcceptsValidTextAndRefusesBrokenOrOverlongSequences) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  for (const char* bad :
       {"\xff", "\xc3", "\xc3(", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    EXPECT_FALSE(is_valid_utf8(bad)) << bad;
  }
}

TEST(DecodeFilePut, DecodesUtf8AndBase64ContentAndRefusesBadFields) {
  auto text = decode_file_put(R"({"path":"a.txt","content":"hi"})");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->content, "hi");
  EXPECT_FALSE(text->append);
  auto bin =
      decode_file_put(R"({"path":"a.bin","content":"AP8=","encoding":"base64","append":true})");
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->content, std::string("\x00\xff", 2));
  EXPECT_TRUE(bin->append);
  for (const char* bad : {R"({"content":"x"})", R"({"path":1,"content":"x"})", R"({"path":"a"})",
                          R"({"path":"a","content":"x","append":"yes"})",
                          R"({"path":"a","content":"x","encoding":"hex"})",
                          R"({"path":"a","content":"!!","encoding":"base64"})",
                          R"({"path":"a","content":"x","mode":"0777"})", "[]", "nope"}) {
    EXPECT_FALSE(decode_file_put(bad)) << bad;
  }
}

TEST(EncodeFileNode, TextIsUtf8AndBinaryIsBase64) {
  FileNode f;
  f.type = "file";
  f.content = "hello";
  f.size = 5;
  auto j = nlohmann::json::parse(encode_file_node("a.txt", f));
  EXPECT_EQ(j["encoding"], "utf8");
  EXPECT_EQ(j["content"], "hello");
  f.content = std::string("\x00\xff", 2);
  j = nlohmann::json::parse(encode_file_node("a.bin", f));
  EXPECT_EQ(j["encoding"], "base64");
  EXPECT_EQ(j["content"], "AP8=");
  FileNode d;
  d.type = "dir";
  d.entries = {{"x", "symlink", 3, 0}};
  j = nlohmann::json::parse(encode_file_node("", d));
  EXPECT_EQ(j["entries"][0]["type"], "symlink");
  EXPECT_FALSE(j.contains("content"));
}

}  // namespace
}  // namespace sandboxd
