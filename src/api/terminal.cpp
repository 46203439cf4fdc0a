#include "api/terminal.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "api/http_io.h"
#include "api/middleware.h"
#include "api/socket_takeover.h"
#include "base/json_dump.h"
#include "sandboxd/api/query_params.h"
#include "sandboxd/api/websocket.h"
#include "sandboxd/base/request_context.h"
#include "sandboxd/base/text.h"
#include "sandboxd/os/pty_frames.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kPingEvery = std::chrono::seconds(30);
constexpr auto kActivityEvery = std::chrono::seconds(1);
constexpr auto kCloseWait = std::chrono::seconds(2);  // for the client's close frame
constexpr int kSendTimeoutS = 30;
// Input not yet taken by the shell: past this, the socket is not read (TCP slows the
// client down) until the shell catches up.
constexpr std::size_t kMaxPendingInput = 256 * 1024;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// What a WebSocket upgrade request must say (RFC 6455 4.2.1); an error names what is wrong.
Status check_handshake(const httplib::Request& req) {
  auto bad = [](const std::string& m) { return Status(Code::kInvalidArgument, m); };
  if (lower(req.get_header_value("Upgrade")) != "websocket")
    return bad("this route is a WebSocket: send Upgrade: websocket");
  if (lower(req.get_header_value("Connection")).find("upgrade") == std::string::npos)
    return bad("Connection: must include Upgrade");
  if (req.get_header_value("Sec-WebSocket-Version") != "13")
    return bad("Sec-WebSocket-Version: must be 13");
  if (!ws_valid_client_key(req.get_header_value("Sec-WebSocket-Key")))
    return bad("Sec-WebSocket-Key: must be 16 bytes in base64");
  return {};
}

// The relay between one WebSocket and one shell, on the connection's thread.
class Session {
 public:
  // `sock` is borrowed: the caller owns and closes it.
  Session(int sock, ExecStream& shell, SandboxService& sandboxes, std::string id, int stop_fd)
      : sock_(sock),
        shell_(shell),
        sandboxes_(sandboxes),
        id_(std::move(id)),
        stop_fd_(stop_fd),
        decoder_(WsDecoder::Peer::kClient) {}

  void run() {
    auto next_ping = SteadyClock::now() + kPingEvery;
    for (;;) {
      for (auto& o : shell_.read()) {
        if (!send(ws_frame(WsOpcode::kBinary, o.data))) return;
        active();
      }
      if (auto end = shell_.end(); !end || *end) {
        int code = end && *end ? (*end)->exit_code : -1;
        auto sb = sandboxes_.get(id_);
        bool stopped = !sb || sb->status != SandboxStatus::kRunning;
        return finish(code, stopped ? "sandbox_stopped" : "exited",
                      stopped ? kWsCloseGoingAway : kWsCloseNormal);
      }
      const bool take_input = to_shell_.size() < kMaxPendingInput;
      std::vector<pollfd> fds = {{take_input ? sock_ : -1, POLLIN, 0},
                                 {stop_fd_, POLLIN, 0},
                                 {to_shell_.empty() ? -1 : shell_.stdin_fd(), POLLOUT, 0}};
      for (int fd : shell_.fds()) fds.push_back({fd, POLLIN, 0});
      int n = ::poll(fds.data(), fds.size(), shell_.fds().empty() ? 50 : 1000);
      if (n < 0 && errno != EINTR) return;
      if (fds[1].revents & POLLIN) return finish(-1, "shutdown", kWsCloseGoingAway);
      if ((fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) && !flush()) return;
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!from_client()) return;
      }
      if (SteadyClock::now() >= next_ping) {
        if (!send(ws_frame(WsOpcode::kPing, ""))) return;
        next_ping = SteadyClock::now() + kPingEvery;
      }
    }
  }

 private:
  // Reads what the client sent; false once the session is over.
  bool from_client() {
    char buf[16384];
    ssize_t n = ::read(sock_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;  // gone without a close frame
    for (auto& m : decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)))) {
      switch (m.opcode) {
        case WsOpcode::kBinary:
          if (!input(pty_input_frames(m.payload))) return false;
          break;
        case WsOpcode::kText:
          if (!control(m.payload)) return false;
          break;
        case WsOpcode::kPing:
          if (!send(ws_frame(WsOpcode::kPong, m.payload))) return false;
          break;
        case WsOpcode::kClose: {
          auto c = ws_parse_close(m.payload);
          send(ws_close_frame(c && c->code != kWsCloseNoStatus ? c->code : kWsCloseNormal, ""));
          return false;
        }
        default: break;
      }
    }
    if (auto& e = decoder_.error()) {
      send(ws_close_frame(e->code, e->reason));
      return false;
    }
    return true;
  }

  bool control(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    auto field = [&](const char* key) {
      return j.is_object() && j.contains(key) ? j[key] : nlohmann::json();
    };
    const nlohmann::json type = field("type"), data = field("data");
    const nlohmann::json cols = field("cols"), rows = field("rows");
    if (type == "input" && data.is_string())
      return input(pty_input_frames(data.get<std::string>()));
    if (type == "resize" && cols.is_number_integer() && rows.is_number_integer()) {
      int64_t c = cols.get<int64_t>(), r = rows.get<int64_t>();
      if (c >= 1 && c <= 1000 && r >= 1 && r <= 1000)
        return input(pty_resize_frame(static_cast<uint16_t>(c), static_cast<uint16_t>(r)));
    }
    send(ws_close_frame(kWsClosePolicy, "unknown control message"));
    return false;
  }

  // Queues framed input for the shell and writes what its stdin takes now.
  bool input(const std::string& frames) {
    active();
    to_shell_ += frames;
    return flush();
  }

  // False once the shell's stdin is closed.
  bool flush() {
    if (to_shell_.empty()) return true;
    auto n = shell_.write(to_shell_);
    if (!n) return false;
    to_shell_.erase(0, *n);
    return true;
  }

  void active() {
    auto now = SteadyClock::now();
    if (now < next_activity_) return;
    next_activity_ = now + kActivityEvery;
    sandboxes_.record_activity(id_, Trigger::kExec);  // also thaws a frozen sandbox
  }

  bool send(const std::string& frame) { return write_all(sock_, frame); }

  void finish(int exit_code, const char* reason, uint16_t close_code) {
    send(ws_frame(WsOpcode::kText,
                  dump_json({{"type", "exit"}, {"exit_code", exit_code}, {"reason", reason}})));
    send(ws_close_frame(close_code, ""));
    // The client answers with its own close frame; wait for it briefly, then hang up.
    auto deadline = SteadyClock::now() + kCloseWait;
    while (SteadyClock::now() < deadline && !decoder_.closed()) {
      pollfd p{sock_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(sock_, buf, sizeof buf);
      if (n <= 0) break;
      decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      if (decoder_.error()) break;
    }
  }

  int sock_;
  ExecStream& shell_;
  SandboxService& sandboxes_;
  std::string id_;
  int stop_fd_;
  WsDecoder decoder_;
  std::string to_shell_;  // framed input the shell's stdin has not taken yet
  SteadyClock::time_point next_activity_{};
};

}  // namespace

void TerminalRoute::ticket(const httplib::Request& req, httplib::Response& res) {
  auto sb = sandboxes_.get(req.matches[1]);
  if (!sb) return reply_error(res, sb.error());
  std::string t = tickets_.issue(sb->id, request_actor());
  res.status = 201;
  res.set_header("Cache-Control", "no-store");
  res.set_content(
      dump_json({{"ticket", t},
                 {"expires_at", format_rfc3339(clock_.now_ms() + tickets_.ttl().count())}}),
      kJson);
}

void TerminalRoute::open(const httplib::Request& req, httplib::Response& res) {
  if (auto s = check_handshake(req); !s.is_ok()) return reply_error(res, s);
  QueryParams q(req.params);
  auto cols = q.integer("cols", 1, 1000, 80);
  if (!cols) return reply_error(res, cols.error());
  auto rows = q.integer("rows", 1, 1000, 24);
  if (!rows) return reply_error(res, rows.error());
  auto sb = sandboxes_.get(req.matches[1]);
  if (!sb) return reply_error(res, sb.error());
  auto shell = sandboxes_.open_terminal(sb->id, static_cast<int>(*cols), static_cast<int>(*rows));
  if (!shell) return reply_error(res, shell.error());
  auto sock = take_request_socket(req);
  if (!sock) return reply_error(res, sock.error());
  timeval tv{kSendTimeoutS, 0};
  ::setsockopt(sock->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
      ws_accept_key(req.get_header_value("Sec-WebSocket-Key")) +
      "\r\nX-Request-Id: " + current_request_id() + "\r\n\r\n";
  const int fd = sock->get();
  if (write_all(fd, head)) {
    Session(fd, **shell, sandboxes_, sb->id, stop_fd_).run();
  }
  shell->reset();  // ends the shell (its stdin closes: SIGHUP to its session)
  ::shutdown(fd, SHUT_RDWR);
  // The connection is ours and over: httplib's answer to it fails on the closed socket,
  // and the access log shows the 101.
  res.status = 101;
  res.set_header("Connection", "close");
}

}  // namespace sandboxd
