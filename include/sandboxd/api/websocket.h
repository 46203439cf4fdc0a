// WebSocket (RFC 6455) framing: the handshake's accept key, a frame encoder and an
// incremental decoder. Pure, no I/O: the caller owns the socket. Both sides are here,
// the server's for the terminal route and the client's for tests. No extensions
// (permessage-deflate is never negotiated, so RSV bits are always an error). A WsDecoder
// is not thread-safe; the free functions are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandboxd {

enum class WsOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes (RFC 6455 7.4.1) that sandboxd sends or checks for.
inline constexpr uint16_t kWsCloseNormal = 1000;
inline constexpr uint16_t kWsCloseGoingAway = 1001;
inline constexpr uint16_t kWsCloseProtocolError = 1002;
inline constexpr uint16_t kWsCloseNoStatus = 1005;  // never on the wire: an empty close
inline constexpr uint16_t kWsCloseBadData = 1007;   // a text message or reason not UTF-8
inline constexpr uint16_t kWsClosePolicy = 1008;
inline constexpr uint16_t kWsCloseTooBig = 1009;
inline constexpr uint16_t kWsCloseInternal = 1011;

inline constexpr std::size_t kWsDefaultMaxMessage = std::size_t{1} << 20;
inline constexpr std::size_t kWsMaxControlPayload = 125;

using WsMask = std::array<uint8_t, 4>;

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string ws_accept_key(std::string_view client_key);
// True when `key` is a valid Sec-WebSocket-Key: 24 base64 characters that decode to 16
// bytes.
bool ws_valid_client_key(std::string_view key);

// One frame. A client's frames must be masked (`mask` set), a server's must not be.
// `fin` false starts or continues a fragmented message (kContinuation after the first).
std::string ws_frame(WsOpcode opcode, std::string_view payload,
                     std::optional<WsMask> mask = std::nullopt, bool fin = true);

// A close frame: `code` then `reason`, the reason cut to fit 125 bytes (at a UTF-8
// character boundary).
std::string ws_close_frame(uint16_t code, std::string_view reason,
                           std::optional<WsMask> mask = std::nullopt);

struct WsClose {
  uint16_t code = kWsCloseNoStatus;
  std::string reason;
};
// The code and reason of a close frame's payload (kWsCloseNoStatus when empty); nullopt
// when malformed: 1 byte long, a code not allowed on the wire, or a reason not UTF-8.
std::optional<WsClose> ws_parse_close(std::string_view payload);

// A whole message; fragments are joined. Its opcode is never kContinuation.
struct WsMessage {
  WsOpcode opcode = WsOpcode::kBinary;
  std::string payload;
  bool operator==(const WsMessage&) const = default;
};

// Why a stream was refused: the close code to send back, and a reason for it.
struct WsError {
  uint16_t code = kWsCloseProtocolError;
  std::string reason;
  bool operator==(const WsError&) const = default;
};

// Turns a byte stream into messages, however the bytes are split across feeds.
// Refuses, with the close code to answer: a frame masked wrongly for the side (1002),
// RSV bits set (1002), an unknown opcode (1002), a control frame fragmented or over 125
// bytes (1002), a 64-bit length with its top bit set (1002), a continuation without a
// message or a new message inside a fragmented one (1002), a bad close payload (1002, or
// 1007 for its reason), a text message that is not UTF-8 (1007), and a message over the
// cap (1009). Control frames may come between fragments.
class WsDecoder {
 public:
  enum class Peer {
    kClient,  // decoding what a client sends: every frame must be masked
    kServer,  // decoding what a server sends: no frame may be masked
  };
  explicit WsDecoder(Peer peer, std::size_t max_message = kWsDefaultMaxMessage)
      : peer_(peer), max_message_(max_message) {}

  // Appends `bytes` and returns the messages they complete, in order. At a violation it
  // returns the messages before it and sets error(); after a close message or an error,
  // feeds are ignored and return nothing.
  std::vector<WsMessage> feed(std::string_view bytes);
  const std::optional<WsError>& error() const { return error_; }
  // True once a close message was returned.
  bool closed() const { return closed_; }

 private:
  // Decodes the frame at the front of buf_ (at pos_); false when it is incomplete or
  // refused.
  bool next_frame(std::vector<WsMessage>& out);
  bool fail(uint16_t code, std::string reason);

  Peer peer_;
  std::size_t max_message_;
  std::string buf_;
  std::size_t pos_ = 0;                     // bytes of buf_ already decoded
  std::optional<WsOpcode> partial_opcode_;  // a fragmented message in progress
  std::string partial_;
  std::optional<WsError> error_;
  bool closed_ = false;
};

}  // namespace sandboxd
