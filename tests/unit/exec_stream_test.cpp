// Streamed exec: the stream redactor (secrets split across pieces), the UTF-8 carry of
// the event framing, the session's docker argv, and SandboxService::exec_stream on the
// fake runtime (the sandbox-run wrapper, redaction, the busy hold for its lifetime).
#include "api/exec_stream.h"

#include <gtest/gtest.h>

#include "fakes/fake_process_runner.h"
#include "fakes/service_harness.h"
#include "sandboxd/base/redactor.h"
#include "sandboxd/runtime/docker_cli_runtime.h"

namespace sandboxd {
namespace {

std::string feed_all(StreamRedactor& r, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += r.feed(p);
  return out + r.finish();
}

TEST(StreamRedactor, HidesASecretWhateverTheSplit) {
  const std::string text = "key=s3cretvalue-xyz; again s3cretvalue-xyz.";
  for (std::size_t a = 0; a <= text.size(); ++a) {
    for (std::size_t b = a; b <= text.size(); b += 7) {
      StreamRedactor r({"s3cretvalue-xyz"});
      std::string out = feed_all(r, {text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      EXPECT_EQ(out, "key=***; again ***.") << "split at " << a << "," << b;
    }
  }
}

TEST(StreamRedactor, HoldsBackOnlyWhatCouldStartASecret) {
  StreamRedactor r({"s3cretvalue"});
  EXPECT_EQ(r.feed("hello s3cr"), "hello ");  // "s3cr" may start the secret
  EXPECT_EQ(r.feed("ew"), "s3crew");          // it did not
  EXPECT_EQ(r.feed("plain\n"), "plain\n");
  EXPECT_EQ(r.finish(), "");
  StreamRedactor none({});
  EXPECT_EQ(none.feed("s3cr"), "s3cr");
}

TEST(Utf8WholePrefix, LeavesAnIncompleteCharacterForTheNextPiece) {
  EXPECT_EQ(utf8_whole_prefix("abc"), 3u);
  EXPECT_EQ(utf8_whole_prefix("a\xc3"), 1u);                 // é cut after its lead byte
  EXPECT_EQ(utf8_whole_prefix("a\xc3\xa9"), 3u);             // é whole
  EXPECT_EQ(utf8_whole_prefix("\xe2\x82"), 0u);              // € cut
  EXPECT_EQ(utf8_whole_prefix("\xf0\x9f\x98\x80"), 4u);      // 😀 whole
  EXPECT_EQ(utf8_whole_prefix("x\xf0\x9f\x98"), 1u);         // 😀 cut
  EXPECT_EQ(utf8_whole_prefix("\x80\x80\x80\x80\x80"), 5u);  // invalid: passed on as is
  EXPECT_EQ(utf8_whole_prefix(""), 0u);
}

TEST(DockerCliExecSession, KeepsStdinOpenWithoutTheTimeoutWrapper) {
  FakeProcessRunner runner;
  DockerCliRuntime cli(runner, "docker", testing::TempDir(), std::chrono::seconds(5));
  ExecSpec s;
  s.container = "s-x";
  s.cmd = {"sandbox-run", "exec", "--timeout", "9", "--", "ls"};
  s.user = "1000:1000";
  s.workdir = "/w";
  EXPECT_EQ(cli.exec_argv(s, "/e", /*session=*/true),
            (std::vector<std::string>{"exec", "--interactive", "--user", "1000:1000", "--workdir",
                                      "/w", "--env-file", "/e", "s-x", "sandbox-run", "exec",
                                      "--timeout", "9", "--", "ls"}));
}

class ExecStreamService : public testing::Test {
 protected:
  void SetUp() override {
    h_.init();
    h_.create("xs");
  }
  ServiceHarness h_{"exec-stream"};
};

TEST_F(ExecStreamService, RunsUnderSandboxRunRedactedAndBusyWhileOpen) {
  h_.runtime.script_session({{ExecSession::Stream::kStdout, "tok=hidden-"},
                             {ExecSession::Stream::kStdout, "value-1\n"},
                             {ExecSession::Stream::kStderr, "warn\n"}},
                            5);
  ExecRequest req;
  req.cmd = {"printenv", "TOK"};
  req.env = {{"TOK", "hidden-value-1"}};
  auto s = h_.service->exec_stream("xs", req);
  ASSERT_TRUE(s) << s.error().message();
  ExecSpec spec = h_.runtime.last_exec();
  EXPECT_EQ(spec.cmd, (std::vector<std::string>{"/usr/local/bin/sandbox-run", "exec", "--timeout",
                                                "300", "--", "printenv", "TOK"}));
  EXPECT_EQ(spec.ready_byte, std::optional<char>('\x06'));
  EXPECT_TRUE(h_.service->busy().is_busy("xs"));
  std::string out, err;
  for (auto& o : (*s)->read()) (o.stream == ExecSession::Stream::kStdout ? out : err) += o.data;
  EXPECT_EQ(out, "tok=***\n");
  EXPECT_EQ(err, "warn\n");
  auto end = (*s)->end();
  ASSERT_TRUE(end && *end);
  EXPECT_EQ((*end)->exit_code, 5);
  EXPECT_FALSE((*end)->timed_out);
  s->reset();
  EXPECT_FALSE(h_.service->busy().is_busy("xs"));
}

TEST_F(ExecStreamService, BadRequestsAndUnknownSandboxesFailBeforeAnyCommand) {
  ExecRequest empty;
  auto bad = h_.service->exec_stream("xs", empty);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  ExecRequest req;
  req.cmd = {"true"};
  auto missing = h_.service->exec_stream("nope", req);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  for (const auto& c : h_.runtime.calls()) EXPECT_EQ(c.rfind("exec_session", 0), std::string::npos);
}

TEST_F(ExecStreamService, ATerminalRunsALoginShellOnAPtyAndHoldsNoBusy) {
  auto t = h_.service->open_terminal("xs", 100, 30);
  ASSERT_TRUE(t) << t.error().message();
  ExecSpec spec = h_.runtime.last_exec();
  EXPECT_EQ(spec.cmd, (std::vector<std::string>{"/usr/local/bin/sandbox-run", "pty", "--cols",
                                                "100", "--rows", "30", "--", "bash", "-l"}));
  EXPECT_EQ(spec.env.at("TERM"), "xterm-256color");
  EXPECT_FALSE(h_.service->busy().is_busy("xs"));
}

}  // namespace
}  // namespace sandboxd
