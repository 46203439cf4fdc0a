#include "api/exec_stream.h"

#include <poll.h>

#include <chrono>
#include <string>

#include "base/json_dump.h"

namespace sandboxd {
namespace {

constexpr int kKeepaliveMs = 1000;

std::string event(const char* type, const nlohmann::json& data) {
  return std::string("event: ") + type + "\ndata: " + dump_json(data) + "\n\n";
}

// Streams until the command ended (true) or the client or server went away (false).
bool pump(ExecStream& stream, int stop_fd, httplib::DataSink& sink) {
  std::string carry[2];  // an incomplete UTF-8 character per stream
  for (;;) {
    std::string frames;
    for (auto& o : stream.read()) {
      int i = o.stream == ExecSession::Stream::kStdout ? 0 : 1;
      std::string text = carry[i] + o.data;
      std::size_t whole = utf8_whole_prefix(text);
      carry[i] = text.substr(whole);
      text.resize(whole);
      if (!text.empty()) frames += event(i == 0 ? "stdout" : "stderr", {{"data", text}});
    }
    auto end = stream.end();
    if (end && *end) {
      for (int i = 0; i < 2; ++i)
        if (!carry[i].empty()) frames += event(i == 0 ? "stdout" : "stderr", {{"data", carry[i]}});
      frames += event("exit", {{"exit_code", (*end)->exit_code},
                               {"timed_out", (*end)->timed_out},
                               {"duration_ms", (*end)->duration_ms}});
    } else if (!end) {
      frames +=
          event("error",
                {{"error",
                  {{"code", code_name(end.error().code())}, {"message", end.error().message()}}}});
    }
    if (!frames.empty() && !sink.write(frames.data(), frames.size())) return false;
    if (!end || *end) {
      sink.done();
      return true;
    }
    std::vector<pollfd> fds;
    for (int fd : stream.fds()) fds.push_back({fd, POLLIN, 0});
    fds.push_back({stop_fd, POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), stream.fds().empty() ? 50 : kKeepaliveMs);
    if (fds.back().revents & POLLIN) return false;
    if (n == 0 && !stream.fds().empty()) {
      static constexpr char kKeepalive[] = ": keepalive\n\n";
      if (!sink.write(kKeepalive, sizeof kKeepalive - 1)) return false;
    }
  }
}

}  // namespace

std::size_t utf8_whole_prefix(std::string_view s) {
  // Look back over at most 3 continuation bytes for the lead byte of the last character.
  std::size_t i = s.size();
  for (int back = 0; back < 4 && i > 0; ++back) {
    unsigned char c = static_cast<unsigned char>(s[i - 1]);
    if ((c & 0xC0) != 0x80) {  // a lead byte (or ASCII)
      std::size_t need = c < 0x80             ? 1
                         : (c & 0xE0) == 0xC0 ? 2
                         : (c & 0xF0) == 0xE0 ? 3
                         : (c & 0xF8) == 0xF0 ? 4
                                              : 1;
      std::size_t have = s.size() - (i - 1);
      return have < need ? i - 1 : s.size();
    }
    --i;
  }
  return s.size();
}

void serve_exec_stream(std::unique_ptr<ExecStream> stream, int stop_fd, httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  std::shared_ptr<ExecStream> owned(std::move(stream));
  res.set_chunked_content_provider("text/event-stream",
                                   [owned, stop_fd](std::size_t, httplib::DataSink& sink) {
                                     return pump(*owned, stop_fd, sink);
                                   });
}

}  // namespace sandboxd
