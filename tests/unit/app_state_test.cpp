// The app state: what sandbox-init writes to app.json (render_app_status), what sandboxd
// accepts from it (parse_app_state), and sandbox-init's other pure parts: the port watch
// over /proc/net/tcp and the env file's records.
#include "sandboxd/sandbox/app_state.h"

#include <gtest/gtest.h>

#include "supervisor/app_status.h"

namespace sandboxd {
namespace {

using namespace std::string_literals;

TEST(ParseAppState, ReadsEveryField) {
  auto st =
      parse_app_state(R"({"state":"crashed","port":3000,"restarts":2,"pid":123,"started_at":0,)"
                      R"("last_exit":{"code":1},"last_exit_at":1700000000123,"reason":"",)"
                      R"("updated_at":1700000000456})");
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->state, "crashed");
  EXPECT_EQ(st->port, 3000);
  EXPECT_EQ(st->restarts, 2);
  EXPECT_EQ(st->exit_code, 1);
  EXPECT_FALSE(st->exit_signal);
  EXPECT_EQ(st->last_exit_at, 1700000000123);
  EXPECT_EQ(st->started_at, 0);
  EXPECT_EQ(st->updated_at, 1700000000456);
}

TEST(ParseAppState, ASignalExitAndAbsentFieldsKeepTheDefaults) {
  auto st = parse_app_state(R"({"state":"listening","last_exit":{"signal":9},"future":[1]})");
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->state, "listening");
  EXPECT_EQ(st->exit_signal, 9);
  EXPECT_FALSE(st->exit_code);
  EXPECT_EQ(st->port, 0);
  EXPECT_EQ(st->restarts, 0);
  EXPECT_EQ(st->reason, "");
}

TEST(ParseAppState, RefusesWhatTheSupervisorNeverWrites) {
  const std::vector<std::string> bad = {
      "",
      "{oops",
      "[]",
      R"("none")",
      R"({})",
      R"({"state":"running"})",
      R"({"state":"NONE"})",
      R"({"state":1})",
      R"({"state":"none","port":-1})",
      R"({"state":"none","port":65536})",
      R"({"state":"none","port":"3000"})",
      R"({"state":"none","port":3000.5})",
      R"({"state":"none","restarts":-1})",
      R"({"state":"none","restarts":18446744073709551615})",
      R"({"state":"none","restarts":true})",
      R"({"state":"none","started_at":"0"})",
      R"({"state":"none","last_exit_at":-5})",
      R"({"state":"none","updated_at":1e3})",
      R"({"state":"none","last_exit":1})",
      R"({"state":"none","last_exit":{}})",
      R"({"state":"none","last_exit":{"code":1,"signal":9}})",
      R"({"state":"none","last_exit":{"code":256}})",
      R"({"state":"none","last_exit":{"code":"1"}})",
      R"({"state":"none","last_exit":{"signal":0}})",
      R"({"state":"none","last_exit":{"status":1}})",
      R"({"state":"none","reason":null})",
      R"({"state":"none","reason":["x"]})",
  };
  for (const std::string& text : bad) {
    auto st = parse_app_state(text);
    ASSERT_FALSE(st) << text;
    EXPECT_EQ(st.error().code(), Code::kInvalidArgument) << text;
  }
}

TEST(ParseAppState, RefusesAFileOver64KiB) {
  std::string padded = R"({"state":"none"})" + std::string(kAppStateMaxBytes, ' ');
  auto st = parse_app_state(padded);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(parse_app_state(padded.substr(0, kAppStateMaxBytes)));
}

TEST(ParseAppState, CutsTheReasonTo1KiBAtACharacterBoundary) {
  auto ascii = parse_app_state(R"({"state":"none","reason":")" + std::string(5000, 'x') + "\"}");
  ASSERT_TRUE(ascii);
  EXPECT_EQ(ascii->reason, std::string(kAppStateMaxReason, 'x'));

  // "é" is two bytes; 1023 'x' put the 1024th byte inside it, so it goes whole.
  auto utf8 =
      parse_app_state(R"({"state":"none","reason":")" + std::string(1023, 'x') + "\xc3\xa9tail\"}");
  ASSERT_TRUE(utf8);
  EXPECT_EQ(utf8->reason, std::string(1023, 'x'));
}

// A status with every field set; `phase` and the exit as given.
AppStatus full(AppPhase phase, std::optional<int> code, std::optional<int> signal) {
  AppStatus s;
  s.phase = phase;
  s.port = 3000;
  s.restarts = 2;
  s.pid = 123;
  s.started_at = 1700000000000;
  s.exit_code = code;
  s.exit_signal = signal;
  s.last_exit_at = 1699999999000;
  s.reason = "not starting: sandbox.json: \"command\" is required\n";
  s.updated_at = 1700000000500;
  return s;
}

TEST(RenderAppStatus, WritesTheDocumentedJson) {
  EXPECT_EQ(render_app_status(full(AppPhase::kListening, 1, std::nullopt)),
            R"({"last_exit":{"code":1},"last_exit_at":1699999999000,"pid":123,"port":3000,)"
            R"("reason":"not starting: sandbox.json: \"command\" is required\n","restarts":2,)"
            R"("started_at":1700000000000,"state":"listening","updated_at":1700000000500})");
  EXPECT_EQ(render_app_status(AppStatus{}),
            R"({"last_exit":null,"last_exit_at":0,"pid":0,"port":0,"reason":"","restarts":0,)"
            R"("started_at":0,"state":"none","updated_at":0})");
  EXPECT_NE(render_app_status(full(AppPhase::kCrashed, std::nullopt, 9))
                .find(R"("last_exit":{"signal":9})"),
            std::string::npos);
}

TEST(RenderAppStatus, WhatTheSupervisorWritesSandboxdReadsBack) {
  const std::vector<AppStatus> cases = {
      AppStatus{},
      full(AppPhase::kNone, std::nullopt, std::nullopt),
      full(AppPhase::kStarting, 0, std::nullopt),
      full(AppPhase::kListening, 1, std::nullopt),
      full(AppPhase::kCrashed, std::nullopt, 11),
  };
  for (const AppStatus& s : cases) {
    std::string text = render_app_status(s);
    auto st = parse_app_state(text);
    ASSERT_TRUE(st) << text << ": " << st.error().message();
    EXPECT_EQ(st->state, phase_name(s.phase));
    EXPECT_EQ(st->port, s.port);
    EXPECT_EQ(st->restarts, s.restarts);
    EXPECT_EQ(st->started_at, s.started_at);
    EXPECT_EQ(st->exit_code, s.exit_code);
    EXPECT_EQ(st->exit_signal, s.exit_signal);
    EXPECT_EQ(st->last_exit_at, s.last_exit_at);
    EXPECT_EQ(st->reason, s.reason);
    EXPECT_EQ(st->updated_at, s.updated_at);
  }
}

TEST(RenderAppStatus, BytesThatAreNotUtf8DoNotBreakTheFile) {
  AppStatus s;
  s.reason = "bad \xff byte";
  std::string text = render_app_status(s);
  auto st = parse_app_state(text);
  ASSERT_TRUE(st) << text;
  EXPECT_EQ(st->reason, "bad \xef\xbf\xbd byte");
}

constexpr const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 "
    "101 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0E00110A:0BB8 0100110A:D3A4 01 00000000:00000000 00:00000000 00000000  1000 0 "
    "102 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 00000000:1435 0E00110A:0BB8 0A 00000000:00000000 00:00000000 00000000  1000 0 "
    "103 1 0000000000000000 100 0 0 10 0\n";

constexpr const char* kTcp6 =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000  1000        0 201 1 0000000000000000 100 0 0 10 0\n";

TEST(PortListens, FindsAListeningSocketOnThePortAtAnyAddress) {
  EXPECT_TRUE(port_listens(kTcp, 8080));   // 127.0.0.1:8080
  EXPECT_TRUE(port_listens(kTcp, 5173));   // 0.0.0.0:5173
  EXPECT_TRUE(port_listens(kTcp6, 3000));  // [::]:3000
}

TEST(PortListens, IgnoresOtherStatesRemotePortsAndOtherPorts) {
  EXPECT_FALSE(port_listens(kTcp, 3000));  // established on 3000; a listener's peer on 3000
  EXPECT_FALSE(port_listens(kTcp, 80));
  EXPECT_FALSE(port_listens(kTcp6, 8080));
  EXPECT_FALSE(port_listens("", 3000));
  EXPECT_FALSE(port_listens("garbage\n0: x:y 0A\n0: 0:10BB8 0:0 0A\n", 3000));
  // 30000 is 0x7530: no prefix or suffix match.
  EXPECT_FALSE(port_listens("0: 00000000:7530 00000000:0000 0A\n", 3000));
  EXPECT_TRUE(port_listens("0: 00000000:7530 00000000:0000 0A", 30000));  // no final newline
}

TEST(ParseEnvRecords, ReadsNulTerminatedRecordsWithAnyValue) {
  auto env = parse_env_records("A=1\0B=two\nlines\0C=x=y\0EMPTY=\0"s);
  EXPECT_EQ(env, (std::map<std::string, std::string>{
                     {"A", "1"}, {"B", "two\nlines"}, {"C", "x=y"}, {"EMPTY", ""}}));
}

TEST(ParseEnvRecords, SkipsMalformedRecordsAndKeepsTheLastOfAKey) {
  EXPECT_EQ(parse_env_records("NOEQ\0=v\0\0K=1\0K=2\0CUT=half"s),
            (std::map<std::string, std::string>{{"K", "2"}}));
  EXPECT_TRUE(parse_env_records("").empty());
}

}  // namespace
}  // namespace sandboxd
