#include "api/process_routes.h"

#include <poll.h>

#include <nlohmann/json.hpp>

#include "api/exec_stream.h"
#include "api/http_io.h"
#include "base/json_dump.h"
#include "sandboxd/api/json_codec.h"
#include "sandboxd/api/query_params.h"

namespace sandboxd {
namespace {

constexpr int64_t kDefaultTail = 64 * 1024;
constexpr int64_t kMaxTail = 1 << 20;
constexpr int kFollowPollMs = 250;
constexpr int kKeepaliveEvery = 4;  // polls

bool wants_events(const httplib::Request& req) {
  return req.get_header_value("Accept").find("text/event-stream") != std::string::npos;
}

std::string event(const char* type, const std::string& data_json) {
  return std::string("event: ") + type + "\ndata: " + data_json + "\n\n";
}

// Output pieces as events, each ending on a whole UTF-8 character (the rest is carried).
class OutputEvents {
 public:
  explicit OutputEvents(const std::vector<std::string>& secrets) : out_(secrets), err_(secrets) {}
  std::string add(const ProcessLogs& o, bool redacted) {
    return piece("stdout", carry_[0], redacted ? o.stdout_data : out_.feed(o.stdout_data)) +
           piece("stderr", carry_[1], redacted ? o.stderr_data : err_.feed(o.stderr_data));
  }
  std::string finish() {
    std::string out = piece("stdout", carry_[0], out_.finish());
    out += piece("stderr", carry_[1], err_.finish());
    for (int i = 0; i < 2; ++i)
      if (!carry_[i].empty())
        out += event(i == 0 ? "stdout" : "stderr",
                     dump_json({{"data", std::exchange(carry_[i], std::string())}}));
    return out;
  }

 private:
  static std::string piece(const char* type, std::string& carry, const std::string& data) {
    std::string text = carry + data;
    std::size_t whole = utf8_whole_prefix(text);
    carry = text.substr(whole);
    text.resize(whole);
    return text.empty() ? "" : event(type, dump_json({{"data", text}}));
  }
  StreamRedactor out_, err_;
  std::string carry_[2];
};

}  // namespace

void ProcessRoutes::start(const std::string& sandbox, const ExecRequest& req,
                          httplib::Response& res) {
  auto p = procs_.start_process(sandbox, req);
  if (!p) return reply_error(res, p.error());
  res.status = 202;
  res.set_header("Location", "/v1/sandboxes/" + p->sandbox_id + "/processes/" + p->id);
  res.set_content(encode_process(*p), kJson);
}

void ProcessRoutes::list(const httplib::Request& req, httplib::Response& res) {
  auto procs = procs_.list(req.matches[1]);
  if (!procs) return reply_error(res, procs.error());
  res.set_content(encode_process_list(*procs), kJson);
}

void ProcessRoutes::get(const httplib::Request& req, httplib::Response& res) {
  auto p = procs_.get(req.matches[1], req.matches[2]);
  if (!p) return reply_error(res, p.error());
  res.set_content(encode_process(*p), kJson);
}

void ProcessRoutes::signal(const httplib::Request& req, httplib::Response& res) {
  auto sig = QueryParams(req.params).choice("signal", {"TERM", "INT", "HUP", "KILL"}, "TERM");
  if (!sig) return reply_error(res, sig.error());
  auto p = procs_.signal(req.matches[1], req.matches[2], *sig);
  if (!p) return reply_error(res, p.error());
  res.set_content(encode_process(*p), kJson);
}

void ProcessRoutes::output(const httplib::Request& req, httplib::Response& res) {
  QueryParams q(req.params);
  auto tail = q.integer("tail", 0, kMaxTail, kDefaultTail);
  if (!tail) return reply_error(res, tail.error());
  auto follow = q.boolean("follow", false);
  if (!follow) return reply_error(res, follow.error());
  auto p = procs_.get(req.matches[1], req.matches[2]);
  if (!p) return reply_error(res, p.error());
  ProcessOutputCursor cursor;
  auto first = procs_.tail(p->sandbox_id, p->id, *tail, cursor);
  if (!first) return reply_error(res, first.error());
  if (!*follow && !wants_events(req)) {
    res.set_content(dump_json({{"stdout", first->stdout_data}, {"stderr", first->stderr_data}}),
                    kJson);
    return;
  }
  if (follows_.fetch_add(1) >= max_follows_) {
    --follows_;
    return reply_error(res, Status(Code::kUnavailable, "too many followed outputs"));
  }
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  auto events = std::make_shared<OutputEvents>(procs_.secrets(*p));
  std::string opening = events->add(*first, /*redacted=*/true);
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, events, opening, cursor, sandbox = p->sandbox_id, id = p->id](
          std::size_t, httplib::DataSink& sink) mutable {
        if (!opening.empty() && !sink.write(opening.data(), opening.size())) return false;
        for (int quiet = 0;;) {
          // Its state first: output read after it shows ended is all there is.
          auto now = procs_.get(sandbox, id);
          auto more = procs_.read_since(sandbox, id, cursor);
          if (!now || !more) return false;
          std::string frames = events->add(*more, /*redacted=*/false);
          if (now->state != ProcessState::kRunning) {
            frames += events->finish() + event("exit", encode_process(*now));
            sink.write(frames.data(), frames.size());
            sink.done();
            return true;
          }
          if (frames.empty() && ++quiet % kKeepaliveEvery == 0) frames = ": keepalive\n\n";
          if (!frames.empty() && !sink.write(frames.data(), frames.size())) return false;
          pollfd stop{stop_fd_, POLLIN, 0};
          if (::poll(&stop, 1, kFollowPollMs) > 0) return false;
        }
      },
      [this](bool) { --follows_; });
}

}  // namespace sandboxd
