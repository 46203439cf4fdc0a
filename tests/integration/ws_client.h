// A blocking WebSocket client for integration tests, over TCP to 127.0.0.1: the upgrade
// request (its HTTP answer is returned whatever it is, so a test can assert 401/403/101),
// masked frames out, whole messages in with deadlines, pings answered. It sends nothing
// between the request and the server's answer (bytes sent early could be lost in the
// server's HTTP buffer). Not thread-safe.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandboxd/api/content_encoding.h"
#include "sandboxd/api/websocket.h"
#include "sandboxd/os/fd.h"

namespace sandboxd::testing_support {

class WsClient {
 public:
  struct Handshake {
    int status = 0;                              // 0 when no HTTP answer came
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;                            // of a refusal (Content-Length bytes)
    bool accept_ok = false;  // 101 with the Sec-WebSocket-Accept our key calls for
  };
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to 127.0.0.1:`port` and sends `GET path` as a WebSocket upgrade with
  // `extra` headers (Authorization, Origin...); waits up to `timeout` for the answer.
  Handshake connect(int port, const std::string& path, const Headers& extra = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    Handshake hs;
    deadline_ = Clock::now() + timeout;
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!fd_.ok() || ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return hs;
    std::string key = base64_encode(random_bytes(16));
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                      key + "\r\n";
    for (const auto& [name, value] : extra) req += name + ": " + value + "\r\n";
    if (!write_all(fd_.get(), req + "\r\n")) return hs;
    std::size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos)
      if (!read_some()) return hs;
    parse_head(in_.substr(0, end), hs);
    in_.erase(0, end + 4);
    if (hs.status == 101) {
      hs.accept_ok = hs.headers["sec-websocket-accept"] == ws_accept_key(key);
      decoder_.emplace(WsDecoder::Peer::kServer);
      take_frames(in_);
      in_.clear();
    } else {
      std::size_t len = std::strtoul(hs.headers["content-length"].c_str(), nullptr, 10);
      while (in_.size() < len && read_some()) {
      }
      hs.body = in_.substr(0, len);
    }
    return hs;
  }

  bool send_text(std::string_view s) { return send_frame(WsOpcode::kText, s); }
  bool send_binary(std::string_view s) { return send_frame(WsOpcode::kBinary, s); }
  // One masked frame (`fin` false for a fragment); false when the write fails.
  bool send_frame(WsOpcode op, std::string_view payload, bool fin = true) {
    return send_raw(ws_frame(op, payload, mask(), fin));
  }
  bool send_close(uint16_t code, std::string_view reason = "") {
    return send_raw(ws_close_frame(code, reason, mask()));
  }
  bool send_raw(std::string_view bytes) { return fd_.ok() && write_all(fd_.get(), bytes); }

  // The next text, binary or close message, waiting up to `timeout`; pings are answered
  // and pongs dropped. nullopt on timeout, EOF or a protocol error (error() then says).
  std::optional<WsMessage> receive(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    deadline_ = Clock::now() + timeout;
    while (true) {
      while (!queue_.empty()) {
        WsMessage m = std::move(queue_.front());
        queue_.erase(queue_.begin());
        if (m.opcode == WsOpcode::kPing) {
          send_raw(ws_frame(WsOpcode::kPong, m.payload, mask()));
          continue;
        }
        if (m.opcode == WsOpcode::kPong) continue;
        if (m.opcode == WsOpcode::kClose) close_ = ws_parse_close(m.payload);
        return m;
      }
      if (!decoder_ || decoder_->error() || decoder_->closed()) return std::nullopt;
      if (!read_some()) return std::nullopt;
      take_frames(in_);
      in_.clear();
    }
  }

  // Binary payloads (terminal output), concatenated, until they contain `needle`;
  // false at a close, EOF or after `timeout`. Text messages met on the way go to texts().
  bool output_until(std::string_view needle,
                    std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto end = Clock::now() + timeout;
    while (output_.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0) return false;
      auto m = receive(left);
      if (!m || m->opcode == WsOpcode::kClose) return false;
      if (m->opcode == WsOpcode::kBinary) {
        output_ += m->payload;
      } else {
        texts_.push_back(std::move(m->payload));
      }
    }
    return true;
  }
  const std::string& output() const { return output_; }
  const std::vector<std::string>& texts() const { return texts_; }

  // The server's close (code and reason) once received.
  const std::optional<WsClose>& close_received() const { return close_; }
  const std::optional<WsError>& error() const {
    static const std::optional<WsError> kNone;
    return decoder_ ? decoder_->error() : kNone;
  }
  // True when the server closed the TCP connection within `timeout` (what arrives
  // meanwhile is discarded).
  bool wait_eof(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    deadline_ = Clock::now() + timeout;
    while (read_some()) in_.clear();
    return eof_;
  }
  // Drops the connection without a close frame (a vanished browser).
  void drop() { fd_.reset(); }

 private:
  using Clock = std::chrono::steady_clock;

  static std::string random_bytes(std::size_t n) {
    static thread_local std::mt19937_64 gen{std::random_device{}()};
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(gen());
    return out;
  }
  static WsMask mask() {
    std::string r = random_bytes(4);
    return {uint8_t(r[0]), uint8_t(r[1]), uint8_t(r[2]), uint8_t(r[3])};
  }

  static void parse_head(std::string_view head, Handshake& hs) {
    std::size_t eol = head.find("\r\n");
    std::string_view status = head.substr(0, eol);
    if (status.size() >= 12 && status.starts_with("HTTP/1.1 "))
      hs.status = std::atoi(std::string(status.substr(9, 3)).c_str());
    while (eol != std::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      hs.headers[name] = std::string(value);
    }
  }

  void take_frames(std::string_view bytes) {
    for (auto& m : decoder_->feed(bytes)) queue_.push_back(std::move(m));
  }

  // Appends what arrives to in_ by deadline_; false at EOF, an error or the deadline.
  bool read_some() {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    pollfd p{fd_.get(), POLLIN, 0};
    if (!fd_.ok() || left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char buf[65536];
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n <= 0) {
      eof_ = n == 0;
      return false;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  Fd fd_;
  std::string in_;  // bytes read and not yet decoded
  std::optional<WsDecoder> decoder_;
  std::vector<WsMessage> queue_;  // decoded, not yet returned
  std::optional<WsClose> close_;
  std::string output_;
  std::vector<std::string> texts_;
  Clock::time_point deadline_;
  bool eof_ = false;
};

}  // namespace sandboxd::testing_support
