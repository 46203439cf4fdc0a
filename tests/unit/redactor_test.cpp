// Unit tests of the Redactor: what it hides in agent output (whole secrets, JSON-escaped
// forms, halves, the pieces of a secret split across two strings) and in what sandboxd
// passes on as it came (whole values only), what it leaves alone, and JSON (strings
// redacted, numbers that are secrets made strings, structure kept).
#include "sandboxd/base/redactor.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sandboxd {
namespace {

using nlohmann::json;

constexpr const char* kKey = "sk-ant-api03-Zq8Xw2Lm9Kp4Rt7Vb";  // 30 bytes
constexpr const char* kUrl = "http://172.18.0.1:43121";

struct Case {
  const char* name;
  std::vector<std::string> secrets;
  std::string in;
  std::string out;
};

TEST(Redactor, AgentOutputHidesSecretsTheirHalvesAndTheirSplitPiecesButNotOrdinaryText) {
  const std::string key = kKey;
  const std::vector<Case> cases = {
      {"whole", {key}, "export KEY=" + key + " done", "export KEY=*** done"},
      {"twice, adjacent", {key}, key + key, "***"},
      {"every secret",
       {key, kUrl},
       std::string("use ") + kUrl + " with " + key,
       "use *** with ***"},
      {"shorter than 8 bytes: not a secret", {"hunter2"}, "pw hunter2", "pw hunter2"},
      {"a start of it ending a line", {key}, "the key begins sk-ant-api0", "the key begins ***"},
      {"an end of it starting a line", {key}, "3-Zq8Xw2Lm9Kp4Rt7Vb is the rest", "*** is the rest"},
      {"a start of it before punctuation", {key}, "(first: sk-ant-a).", "(first: ***)."},
      {"an end of it after a quote", {key}, "\"Rt7Vb\" ends it", "\"***\" ends it"},
      {"a word inside it", {key}, "middle Xw2Lm9Kp4R here", "middle *** here"},
      {"half of it inside a word", {key}, "x-i03-Zq8Xw2Lm9Kp-x", "x-***-x"},
      {"less than half, inside a word", {key}, "xx03-Zq8Xw2xx", "xx03-Zq8Xw2xx"},
      {"3 bytes at a word's edge", {key}, "see sk-", "see sk-"},
      {"an escaped form in plain text", {"pa\"ss/w\\rd1"}, R"(v="pa\"ss/w\\rd1")", "v=\"***\""},
      {"a secret with spaces, split",
       {"correct horse battery"},
       "it is correct horse",
       "it is ***"},
      {"ordinary text",
       {key, kUrl},
       "Create a Node.js web server on port 3000 (http://localhost:3000) and a sandbox.json",
       "Create a Node.js web server on port 3000 (http://localhost:3000) and a sandbox.json"},
      {"a URL sharing its scheme",
       {kUrl},
       "open https://example.com/v1 now",
       "open https://example.com/v1 now"},
      {"nothing to hide", {}, "sk-ant-api03-Zq8Xw2Lm9Kp4Rt7Vb", "sk-ant-api03-Zq8Xw2Lm9Kp4Rt7Vb"},
      {"a word-like value: words sharing less than 12 bytes survive",
       {"production"},
       "function f(){} for a reduction in production",
       "function f(){} for a reduction in ***"},
      {"a word-like value: a word that starts like it is a piece of it",
       {"production"},
       "product",
       "***"},
      {"a run under 12 bytes inside a word",
       {"abcdefghijklmnop"},
       "xcdefghijklmx",
       "xcdefghijklmx"},
      {"a run of 12 bytes inside a word", {"abcdefghijklmnop"}, "xcdefghijklmnx", "x***x"},
      {"a value given twice", {key, key}, "k=" + key, "k=***"},
  };
  for (const auto& c : cases) EXPECT_EQ(Redactor(c.secrets).agent_line(c.in), c.out) << c.name;
}

TEST(Redactor, PassedOnTextHidesWholeValuesOnlySoOrdinaryWordsSurvive) {
  const std::string key = kKey;
  const std::vector<Case> cases = {
      {"a word-like value, whole", {"production"}, "NODE_ENV=production", "NODE_ENV=***"},
      {"a word-like value in a path", {"production"}, "src/production.js", "src/***.js"},
      {"words that share bytes with it",
       {"production"},
       "function product reduction f(){}",
       "function product reduction f(){}"},
      {"an escaped form", {"pa\"ss/w\\rd1"}, R"(v="pa\"ss\/w\\rd1")", "v=\"***\""},
      {"half of a key", {key}, "first half sk-ant-api03-Zq8", "first half sk-ant-api03-Zq8"},
      {"every secret", {key, kUrl}, key + " " + kUrl, "*** ***"},
  };
  for (const auto& c : cases) EXPECT_EQ(Redactor(c.secrets).whole(c.in), c.out) << c.name;
}

TEST(Redactor, NoPlaceShowsHalfOfASecret) {
  const std::string key = kKey;
  Redactor r({key});
  for (std::size_t len = key.size() / 2; len <= key.size(); ++len) {
    for (std::size_t at = 0; at + len <= key.size(); ++at) {
      std::string out = r.agent_line("a" + key.substr(at, len) + "b");
      for (std::size_t i = 0; i + key.size() / 2 <= out.size(); ++i)
        EXPECT_EQ(key.find(out.substr(i, key.size() / 2)), std::string::npos) << out;
    }
  }
}

TEST(Redactor, AgentLinesAreDecodedRedactedAndKeepTheirShape) {
  // JSON-special bytes, a control character and non-ASCII, as an agent escapes them.
  const std::string tricky = "pa\"ss\\w/rd\x01-\xc3\xa9t\xc3\xa9-42";
  const std::string config = R"({"provider":{"mock":{"models":{"m":{"tool_call":true}}}}})";
  Redactor r({tricky, kKey, config});
  nlohmann::ordered_json line = {{"type", "tool_use"},
                                 {"part",
                                  {{"tool", "write"},
                                   {"state",
                                    {{"status", "completed"},
                                     {"input", {{"content", "k=" + tricky}, {tricky, 1}}},
                                     {"output", std::string("first half sk-ant-api03-Zq8")}}}}}};
  for (bool ascii : {false, true}) {
    std::string raw = line.dump(-1, ' ', ascii);
    std::string out = r.agent_line(raw);
    json back = json::parse(out);
    EXPECT_EQ(back["part"]["tool"], "write") << "a key inside a secret stays a key";
    EXPECT_EQ(back["part"]["state"]["input"]["content"], "k=***");
    EXPECT_TRUE(back["part"]["state"]["input"].contains("***"));
    EXPECT_EQ(back["part"]["state"]["output"], "first half ***");
    EXPECT_EQ(out.find("pa\\\"ss"), std::string::npos) << out;
    EXPECT_EQ(out.find("Zq8"), std::string::npos) << out;
    EXPECT_EQ(out.rfind("{\"type\":\"tool_use\"", 0), 0u) << "key order kept: " << out;
  }
  EXPECT_EQ(r.agent_line("not json " + tricky), "not json ***");
  EXPECT_EQ(Redactor().agent_line("{\"a\": 1}"), "{\"a\": 1}") << "no secrets: untouched";
}

TEST(Redactor, AnAllDigitSecretPrintedAsAJsonNumberBecomesAString) {
  Redactor r({"1234567890", kKey});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"pin":1234567890,"n":7})", R"({"pin":"***","n":7})"},
      {R"([-1234567890, 12345678901, 123456789, 1.5])", R"(["-***","***1",123456789,1.5])"},
      {"1234567890", R"("***")"},
      {"pin 1234567890 here", "pin *** here"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(r.agent_line(in), out) << in;
  EXPECT_EQ(r.stored_json(R"({"pin":1234567890,"ms":12})"), R"({"pin":"***","ms":12})");
}

TEST(Redactor, StoredJsonAndStatusesHideWholeSecrets) {
  Redactor r({"pa\"ss/w\\rd1", kKey});
  json event = {{"text", std::string("x ") + kKey}, {"quote", "pa\"ss/w\\rd1"}};
  json back = json::parse(r.stored_json(event.dump()));
  EXPECT_EQ(back["text"], "x ***");
  EXPECT_EQ(back["quote"], "***");
  EXPECT_EQ(r.whole(std::string("a ") + kKey + " sk-ant"), "a *** sk-ant");
  Status st = r.status(Status(Code::kUnavailable, std::string("docker: bad ") + kKey));
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.message(), "docker: bad ***");
  EXPECT_EQ(Redactor::values_of({{"A", "short"}, {"B", kKey}}), std::vector<std::string>{kKey});
}

}  // namespace
}  // namespace sandboxd
