// libFuzzer target for the WebSocket framer (include/sandboxd/api/websocket.h): the bytes
// are a frame stream, decoded whole and in random pieces (which must agree), and every
// message decoded is framed again, fragmented at random, and decoded back to itself.
// abort()s on any broken invariant; deterministic (every choice comes from the input).
// Built and run by tests/fuzz/run.sh.
//
// The first byte picks options, the rest is the stream:
//   bit 0   decode as a client does (server frames, unmasked), else as a server does;
//   bit 1   a message cap of 64 bytes, else the default 1 MiB.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/api/websocket.h"

namespace sandboxd {
namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "ws_fuzz: broken invariant: %s\n", what);
  std::abort();
}

// Deterministic choices drawn from a generator seeded with the bytes themselves.
class Chooser {
 public:
  explicit Chooser(std::string_view bytes) {
    for (unsigned char c : bytes) state_ = (state_ ^ c) * 0x100000001b3ull;
  }
  uint64_t next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return state_ >> 33;
  }
  // A piece size of 1 to 8 bytes.
  std::size_t piece() { return 1 + next() % 8; }

 private:
  uint64_t state_ = 0xcbf29ce484222325ull;
};

struct Decoded {
  std::vector<WsMessage> messages;
  std::optional<WsError> error;
  bool closed = false;
};

// Feeds `in` to a fresh decoder: whole when `choose` is null, else in pieces it draws.
Decoded decode(std::string_view in, WsDecoder::Peer peer, std::size_t cap, Chooser* choose) {
  WsDecoder dec(peer, cap);
  Decoded out;
  std::size_t at = 0;
  do {
    std::size_t piece = choose ? choose->piece() : in.size();
    for (auto& m : dec.feed(in.substr(at, piece))) out.messages.push_back(std::move(m));
    at += piece;
  } while (at < in.size());
  out.error = dec.error();
  out.closed = dec.closed();
  return out;
}

void check_message(const WsMessage& m, std::size_t cap) {
  check(m.opcode != WsOpcode::kContinuation, "a message is a continuation");
  bool control = static_cast<uint8_t>(m.opcode) >= 0x8;
  check(!control || m.payload.size() <= kWsMaxControlPayload, "control payload over 125");
  check(control || m.payload.size() <= cap, "message over the cap");
  if (m.opcode == WsOpcode::kClose) check(ws_parse_close(m.payload).has_value(), "bad close");
}

// The messages framed again as the peer would send them: masked from a client, data
// messages cut into up to 3 fragments.
std::string reencode(const std::vector<WsMessage>& messages, bool masked, Chooser& choose) {
  std::string out;
  for (const WsMessage& m : messages) {
    std::optional<WsMask> mask;
    if (masked) {
      uint64_t r = choose.next();
      mask = WsMask{uint8_t(r), uint8_t(r >> 8), uint8_t(r >> 16), uint8_t(r >> 24)};
    }
    bool control = static_cast<uint8_t>(m.opcode) >= 0x8;
    std::size_t parts = control ? 1 : 1 + choose.next() % 3;
    std::string_view rest = m.payload;
    for (std::size_t i = 0; i < parts; ++i) {
      std::size_t take = i + 1 == parts ? rest.size() : choose.next() % (rest.size() + 1);
      out += ws_frame(i == 0 ? m.opcode : WsOpcode::kContinuation, rest.substr(0, take), mask,
                      i + 1 == parts);
      rest.remove_prefix(take);
    }
  }
  return out;
}

}  // namespace
}  // namespace sandboxd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sandboxd;
  if (size == 0) return 0;
  const auto peer = (data[0] & 1) ? WsDecoder::Peer::kServer : WsDecoder::Peer::kClient;
  const std::size_t cap = (data[0] & 2) ? 64 : kWsDefaultMaxMessage;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  Decoded whole = decode(in, peer, cap, nullptr);
  Chooser choose(in);
  Decoded split = decode(in, peer, cap, &choose);
  check(split.messages == whole.messages, "split feeds decode other messages");
  check(split.error == whole.error, "split feeds end with another error");
  check(!(whole.error && whole.closed), "both closed and failed");
  for (const WsMessage& m : whole.messages) check_message(m, cap);
  check(
      whole.closed == (!whole.messages.empty() && whole.messages.back().opcode == WsOpcode::kClose),
      "closed but the last message is no close");

  std::string again = reencode(whole.messages, peer == WsDecoder::Peer::kClient, choose);
  Decoded round = decode(again, peer, cap, &choose);
  check(!round.error, "re-encoded messages are refused");
  check(round.messages == whole.messages, "re-encoded messages decode to others");
  return 0;
}
