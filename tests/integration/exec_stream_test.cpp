// Integration: streamed exec (POST .../exec with Accept: text/event-stream) against a real
// sandboxd and real containers: output events in the order and at the time the command
// writes them, then its exit; a client that goes away ends the command; errors before
// the first byte stay JSON; a secret split across two writes is still hidden; the JSON
// answer without the Accept header is unchanged. HTTP goes only to loopback.
#include <gtest/gtest.h>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

class ExecStream : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    require_docker_and_image();
    daemon_ = new Daemon("xs");
    ASSERT_TRUE(daemon_->start());
    auto r = daemon_->http().Post("/v1/sandboxes", R"({"id":"xs1"})", "application/json");
    ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
  }
  static void TearDownTestSuite() {
    if (daemon_) (void)daemon_->http().Post("/v1/sandboxes/xs1/purge", "", "application/json");
    delete daemon_;
    daemon_ = nullptr;
  }
  static Daemon* daemon_;
};
Daemon* ExecStream::daemon_ = nullptr;

struct Timed {
  SseEvent event;
  Clock::time_point at;
};

// POSTs `body` to .../exec asking for events; `on_event` sees each one as it arrives and
// returns false to hang up. The answer's status and content type go to *status / *type.
void stream_exec(Daemon& d, const std::string& id, const json& body,
                 const std::function<bool(const Timed&)>& on_event, int* status = nullptr,
                 std::string* type = nullptr, std::string* raw = nullptr) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/sandboxes/" + id + "/exec";
  req.headers = d.auth_headers;
  req.set_header("Accept", "text/event-stream");
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  std::string buf;
  req.content_receiver = [&](const char* data, std::size_t n, uint64_t, uint64_t) {
    if (raw) raw->append(data, n);
    buf.append(data, n);
    std::vector<SseEvent> got;
    take_sse_events(buf, got);
    for (auto& e : got)
      if (!on_event({std::move(e), Clock::now()})) return false;
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  d.http().send(req, res, err);
  if (status) *status = res.status;
  if (type) *type = res.get_header_value("Content-Type");
}

TEST_F(ExecStream, OutputArrivesAsWrittenInOrderThenTheExit) {
  std::vector<Timed> events;
  int status = 0;
  std::string type;
  stream_exec(
      *daemon_, "xs1",
      {{"cmd", {"sh", "-c", "echo a; sleep 0.6; echo b >&2; sleep 0.6; echo c; exit 7"}}},
      [&](const Timed& t) {
        events.push_back(t);
        return true;
      },
      &status, &type);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(type, "text/event-stream");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].event.type, "stdout");
  EXPECT_EQ(events[0].event.data["data"], "a\n");
  EXPECT_EQ(events[1].event.type, "stderr");
  EXPECT_EQ(events[1].event.data["data"], "b\n");
  EXPECT_EQ(events[2].event.type, "stdout");
  EXPECT_EQ(events[2].event.data["data"], "c\n");
  EXPECT_EQ(events[3].event.type, "exit");
  EXPECT_EQ(events[3].event.data["exit_code"], 7);
  EXPECT_EQ(events[3].event.data["timed_out"], false);
  // The first line came while the command still ran, not with its end.
  EXPECT_GE(events[3].at - events[0].at, std::chrono::milliseconds(1000));
}

TEST_F(ExecStream, AClientThatGoesAwayEndsTheCommand) {
  const std::string mark = "6" + std::to_string(::getpid() % 1000) + ".25";
  bool up = false;
  stream_exec(*daemon_, "xs1", {{"cmd", {"sh", "-c", "echo up; exec sleep " + mark}}},
              [&](const Timed& t) {
                up = up || (t.event.type == "stdout" && t.event.data["data"] == "up\n");
                return !up;  // hang up once the command runs
              });
  ASSERT_TRUE(up);
  auto running = [&] {
    // "[s]" keeps the pattern from matching the command lines that carry it.
    json r = daemon_->exec("xs1", {{"cmd", {"pgrep", "-f", "[s]leep " + mark}}});
    return !r.is_null() && r["exit_code"] == 0;
  };
  EXPECT_TRUE(eventually([&] { return !running(); }, std::chrono::seconds(15)))
      << "the command outlived its caller";
}

TEST_F(ExecStream, TimeoutEndsTheCommandWithExit124) {
  std::vector<SseEvent> events;
  stream_exec(*daemon_, "xs1", {{"cmd", {"sleep", "30"}}, {"timeout_s", 1}}, [&](const Timed& t) {
    events.push_back(t.event);
    return true;
  });
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "exit");
  EXPECT_EQ(events.back().data["exit_code"], 124);
  EXPECT_EQ(events.back().data["timed_out"], true);
}

TEST_F(ExecStream, ASecretSplitAcrossTwoWritesIsHidden) {
  std::string out;
  stream_exec(
      *daemon_, "xs1",
      {{"cmd", {"sh", "-c", "printf %s before-s3cretval; sleep 0.4; printf '%s\\n' ue-xyz-after"}},
       {"env", {{"API_KEY", "s3cretvalue-xyz"}}}},
      [&](const Timed& t) {
        if (t.event.type == "stdout") out += t.event.data["data"].get<std::string>();
        return true;
      });
  EXPECT_EQ(out, "before-***-after\n");
}

TEST_F(ExecStream, ErrorsBeforeOutputAreJsonAndTheJsonAnswerIsUnchanged) {
  int status = 0;
  std::string type, raw;
  stream_exec(
      *daemon_, "nosuchbox", {{"cmd", {"true"}}}, [](const Timed&) { return true; }, &status, &type,
      &raw);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(type, "application/json");
  EXPECT_EQ(json::parse(raw, nullptr, false)["error"]["code"], "not_found");
  stream_exec(
      *daemon_, "xs1", {{"cmd", json::array()}}, [](const Timed&) { return true; }, &status);
  EXPECT_EQ(status, 400);

  auto r = daemon_->http().Post("/v1/sandboxes/xs1/exec",
                                R"({"cmd":["sh","-c","echo out; echo err >&2; exit 3"]})",
                                "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  json j = json::parse(r->body);
  EXPECT_EQ(j["stdout"], "out\n");
  EXPECT_EQ(j["stderr"], "err\n");
  EXPECT_EQ(j["exit_code"], 3);
}

}  // namespace
}  // namespace sandboxd::testing_support
