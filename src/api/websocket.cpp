#include "sandboxd/api/websocket.h"

#include <openssl/evp.h>

#include <algorithm>

#include "sandboxd/api/content_encoding.h"

namespace sandboxd {
namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }
bool is_control(uint8_t op) { return (op & 0x8) != 0; }

// Codes a peer may put in a close frame: the defined ones and the private ranges.
bool code_allowed_on_wire(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// The close code to answer a close payload with, or 0 when it is well-formed.
uint16_t check_close(std::string_view payload) {
  if (payload.empty()) return 0;
  if (payload.size() == 1) return kWsCloseProtocolError;
  auto code = static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]));
  if (!code_allowed_on_wire(code)) return kWsCloseProtocolError;
  if (!is_valid_utf8(payload.substr(2))) return kWsCloseBadData;
  return 0;
}

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_be(std::string_view in, std::size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(in[at + i]);
  return v;
}

}  // namespace

std::string ws_accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += kAcceptGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

bool ws_valid_client_key(std::string_view key) {
  if (key.size() != 24) return false;
  auto raw = base64_decode(key);
  return raw.has_value() && raw->size() == 16;
}

std::string ws_frame(WsOpcode opcode, std::string_view payload, std::optional<WsMask> mask,
                     bool fin) {
  std::string out;
  out.reserve(payload.size() + 14);
  out += static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode));
  const uint8_t mask_bit = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    out += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() <= 0xffff) {
    out += static_cast<char>(mask_bit | 126);
    put_be(out, payload.size(), 2);
  } else {
    out += static_cast<char>(mask_bit | 127);
    put_be(out, payload.size(), 8);
  }
  if (!mask) return out.append(payload);
  out.append(reinterpret_cast<const char*>(mask->data()), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out += static_cast<char>(payload[i] ^ (*mask)[i % 4]);
  return out;
}

std::string ws_close_frame(uint16_t code, std::string_view reason, std::optional<WsMask> mask) {
  std::size_t keep = std::min(reason.size(), kWsMaxControlPayload - 2);
  // Back up over UTF-8 continuation bytes so no character is cut in half.
  if (keep < reason.size())
    while (keep > 0 && (uint8_t(reason[keep]) & 0xC0) == 0x80) --keep;
  std::string payload;
  put_be(payload, code, 2);
  payload.append(reason.substr(0, keep));
  return ws_frame(WsOpcode::kClose, payload, mask);
}

std::optional<WsClose> ws_parse_close(std::string_view payload) {
  if (check_close(payload) != 0) return std::nullopt;
  if (payload.empty()) return WsClose{};
  return WsClose{static_cast<uint16_t>(get_be(payload, 0, 2)), std::string(payload.substr(2))};
}

std::vector<WsMessage> WsDecoder::feed(std::string_view bytes) {
  std::vector<WsMessage> out;
  if (error_ || closed_) return out;
  buf_.append(bytes);
  while (!closed_ && next_frame(out)) {
  }
  buf_.erase(0, pos_);
  pos_ = 0;
  return out;
}

bool WsDecoder::fail(uint16_t code, std::string reason) {
  error_ = WsError{code, std::move(reason)};
  return false;
}

bool WsDecoder::next_frame(std::vector<WsMessage>& out) {
  std::string_view in = std::string_view(buf_).substr(pos_);
  if (in.size() < 2) return false;
  const auto b0 = uint8_t(in[0]);
  const auto b1 = uint8_t(in[1]);
  const bool fin = (b0 & 0x80) != 0;
  const uint8_t op = b0 & 0x0F;
  const bool masked = (b1 & 0x80) != 0;
  if ((b0 & 0x70) != 0) return fail(kWsCloseProtocolError, "reserved bits set");
  if (!known_opcode(op)) return fail(kWsCloseProtocolError, "unknown opcode");
  if (masked != (peer_ == Peer::kClient))
    return fail(kWsCloseProtocolError, masked ? "masked server frame" : "unmasked client frame");
  const uint8_t len7 = b1 & 0x7F;
  if (is_control(op) && (!fin || len7 > kWsMaxControlPayload))
    return fail(kWsCloseProtocolError, "fragmented or oversized control frame");

  const int len_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  const std::size_t head = 2 + len_bytes + (masked ? 4 : 0);
  if (in.size() < head) return false;
  const uint64_t len = len_bytes ? get_be(in, 2, len_bytes) : len7;
  if (len >> 63) return fail(kWsCloseProtocolError, "frame length has its top bit set");

  if (!is_control(op)) {
    if (op == 0 && !partial_opcode_) return fail(kWsCloseProtocolError, "continuation of nothing");
    if (op != 0 && partial_opcode_)
      return fail(kWsCloseProtocolError, "new message inside a fragmented one");
    // Checked before the payload arrives, so a huge length is refused without buffering.
    if (len > max_message_ - partial_.size())
      return fail(kWsCloseTooBig, "message over " + std::to_string(max_message_) + " bytes");
  }
  if (in.size() - head < len) return false;

  std::string payload(in.substr(head, len));
  if (masked) {
    const std::string_view key = in.substr(head - 4, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] ^= key[i % 4];
  }
  pos_ += head + len;

  if (is_control(op)) {
    if (op == static_cast<uint8_t>(WsOpcode::kClose)) {
      if (uint16_t code = check_close(payload))
        return fail(code, code == kWsCloseBadData ? "close reason not UTF-8" : "bad close frame");
      closed_ = true;
    }
    out.push_back({static_cast<WsOpcode>(op), std::move(payload)});
    return true;
  }
  if (op != 0) partial_opcode_ = static_cast<WsOpcode>(op);
  partial_ += payload;
  if (!fin) return true;
  if (*partial_opcode_ == WsOpcode::kText && !is_valid_utf8(partial_))
    return fail(kWsCloseBadData, "text message not UTF-8");
  out.push_back({*partial_opcode_, std::move(partial_)});
  partial_.clear();
  partial_opcode_.reset();
  return true;
}

}  // namespace sandboxd
