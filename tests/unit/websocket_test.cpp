// The WebSocket framer (include/sandboxd/api/websocket.h) as tables, and the socket
// takeover (src/api/socket_takeover.h) against a real httplib server on loopback.
#include "sandboxd/api/websocket.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "api/socket_takeover.h"
#include "integration/ws_client.h"

namespace sandboxd {
namespace {

constexpr WsMask kMask = {0x37, 0xfa, 0x21, 0x3d};

// Decodes `bytes` as a server decodes a client: whole, or one byte per feed.
struct Decoded {
  std::vector<WsMessage> messages;
  std::optional<WsError> error;
};
Decoded decode(std::string_view bytes, bool byte_by_byte = false,
               WsDecoder::Peer peer = WsDecoder::Peer::kClient,
               std::size_t cap = kWsDefaultMaxMessage) {
  WsDecoder dec(peer, cap);
  Decoded out;
  auto take = [&](std::vector<WsMessage> got) {
    for (auto& m : got) out.messages.push_back(std::move(m));
  };
  if (byte_by_byte) {
    for (char c : bytes) take(dec.feed(std::string_view(&c, 1)));
  } else {
    take(dec.feed(bytes));
  }
  out.error = dec.error();
  return out;
}

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

TEST(WebSocketHandshake, AcceptKeyIsTheRfc6455Sample) {
  EXPECT_EQ(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, ClientKeyMustBe24Base64CharactersOf16Bytes) {
  struct Case {
    const char* key;
    bool valid;
  };
  for (const Case& c : std::vector<Case>{
           {"dGhlIHNhbXBsZSBub25jZQ==", true},
           {"AAAAAAAAAAAAAAAAAAAAAA==", true},
           {"dGhlIHNhbXBsZSBub25jZQ=", false},    // 23 characters
           {"dGhlIHNhbXBsZSBub25jZQ===", false},  // 25
           {"dGhlIHNhbXBsZSBub25jZSE=", false},   // 17 bytes
           {"dGhlIHNhbXBsZSBub25j*Q==", false},   // not base64
           {"", false},
       }) {
    EXPECT_EQ(ws_valid_client_key(c.key), c.valid) << c.key;
  }
}

TEST(WsFrame, EncodesTheRfc6455Examples) {
  // RFC 6455 5.7: "Hello" unmasked, and masked with 37 fa 21 3d.
  EXPECT_EQ(hex(ws_frame(WsOpcode::kText, "Hello")), "810548656c6c6f");
  EXPECT_EQ(hex(ws_frame(WsOpcode::kText, "Hello", kMask)), "818537fa213d7f9f4d5158");
  EXPECT_EQ(hex(ws_frame(WsOpcode::kText, "Hel", std::nullopt, false)), "010348656c");
  EXPECT_EQ(hex(ws_frame(WsOpcode::kPing, "")), "8900");
}

TEST(WsFrame, LengthsUse7Then16Then64Bits) {
  struct Case {
    std::size_t size;
    std::string head;  // hex of the unmasked frame's first bytes
  };
  for (const Case& c : std::vector<Case>{
           {0, "8200"},
           {125, "827d"},
           {126, "827e007e"},
           {65535, "827effff"},
           {65536, "827f0000000000010000"},
       }) {
    std::string payload(c.size, 'x');
    std::string frame = ws_frame(WsOpcode::kBinary, payload);
    EXPECT_EQ(hex(frame.substr(0, c.head.size() / 2)), c.head) << c.size;
    EXPECT_EQ(frame.size(), c.head.size() / 2 + c.size);
    for (bool split : {false, true}) {
      Decoded d = decode(ws_frame(WsOpcode::kBinary, payload, kMask), split);
      ASSERT_FALSE(d.error) << c.size;
      ASSERT_EQ(d.messages.size(), 1u);
      EXPECT_EQ(d.messages[0].payload, payload);
      Decoded from_server = decode(frame, split, WsDecoder::Peer::kServer);
      ASSERT_EQ(from_server.messages.size(), 1u);
      EXPECT_EQ(from_server.messages[0].payload, payload);
    }
  }
}

TEST(WsDecoder, MaskingRoundTripsEveryByte) {
  std::string payload;
  for (int i = 0; i < 256; ++i) payload += static_cast<char>(i);
  std::string frame = ws_frame(WsOpcode::kBinary, payload, kMask);
  EXPECT_EQ(frame.find(payload), std::string::npos);  // the wire shows no plain bytes
  Decoded d = decode(frame);
  ASSERT_EQ(d.messages, (std::vector<WsMessage>{{WsOpcode::kBinary, payload}}));
}

TEST(WsDecoder, FeedsOfOneByteDecodeLikeOneFeed) {
  std::string stream =
      ws_frame(WsOpcode::kText, "caf\xc3", kMask, false) + ws_frame(WsOpcode::kPing, "p", kMask) +
      ws_frame(WsOpcode::kContinuation, "\xa9!", kMask) +
      ws_frame(WsOpcode::kBinary, std::string(300, '\0'), kMask) +
      ws_frame(WsOpcode::kPong, "", kMask) + ws_close_frame(kWsCloseNormal, "bye", kMask) +
      ws_frame(WsOpcode::kText, "after the close", kMask);
  Decoded whole = decode(stream);
  Decoded split = decode(stream, true);
  std::vector<WsMessage> want = {
      {WsOpcode::kPing, "p"},
      {WsOpcode::kText, "caf\xc3\xa9!"},
      {WsOpcode::kBinary, std::string(300, '\0')},
      {WsOpcode::kPong, ""},
      {WsOpcode::kClose, std::string("\x03\xe8", 2) + "bye"},
  };
  EXPECT_EQ(whole.messages, want);
  EXPECT_EQ(split.messages, want);
  EXPECT_FALSE(whole.error);
  EXPECT_FALSE(split.error);
}

TEST(WsDecoder, RefusesViolationsWithTheirCloseCode) {
  auto masked_text = [](std::string_view s, bool fin = true) {
    return ws_frame(WsOpcode::kText, s, kMask, fin);
  };
  std::string ok = masked_text("fine");
  std::string rsv = ok;
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  std::string bad_opcode = ok;
  bad_opcode[0] = static_cast<char>(0x83);
  std::string long_ping = ws_frame(WsOpcode::kPing, std::string(126, 'p'), kMask);
  std::string fragmented_ping = ws_frame(WsOpcode::kPing, "p", kMask, false);
  // A 64-bit length with its top bit set, followed by the mask.
  std::string huge = "\x82\xff\x80" + std::string(7, '\0') + "abcd";
  struct Case {
    const char* name;
    std::string bytes;
    uint16_t code;
  };
  for (const Case& c : std::vector<Case>{
           {"unmasked client frame", ws_frame(WsOpcode::kText, "hi"), kWsCloseProtocolError},
           {"reserved bit", rsv, kWsCloseProtocolError},
           {"unknown opcode", bad_opcode, kWsCloseProtocolError},
           {"control frame over 125 bytes", long_ping, kWsCloseProtocolError},
           {"fragmented control frame", fragmented_ping, kWsCloseProtocolError},
           {"length top bit", huge, kWsCloseProtocolError},
           {"continuation of nothing", ws_frame(WsOpcode::kContinuation, "x", kMask),
            kWsCloseProtocolError},
           {"new message inside a fragmented one", masked_text("a", false) + masked_text("b"),
            kWsCloseProtocolError},
           {"text not UTF-8", masked_text("\xff"), kWsCloseBadData},
           {"UTF-8 cut by the end of the message", masked_text("caf\xc3"), kWsCloseBadData},
           {"close of 1 byte", ws_frame(WsOpcode::kClose, "\x03", kMask), kWsCloseProtocolError},
           {"close code 1005 on the wire", ws_close_frame(kWsCloseNoStatus, "", kMask),
            kWsCloseProtocolError},
           {"close reason not UTF-8", ws_close_frame(kWsCloseNormal, "\xc0\xaf", kMask),
            kWsCloseBadData},
       }) {
    for (bool split : {false, true}) {
      Decoded d = decode(ok + c.bytes, split);
      ASSERT_TRUE(d.error) << c.name;
      EXPECT_EQ(d.error->code, c.code) << c.name;
      // The message before the violation still counts.
      EXPECT_EQ(d.messages, (std::vector<WsMessage>{{WsOpcode::kText, "fine"}})) << c.name;
    }
  }
}

TEST(WsDecoder, ServerFramesMustNotBeMasked) {
  Decoded d = decode(ws_frame(WsOpcode::kText, "hi", kMask), false, WsDecoder::Peer::kServer);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, kWsCloseProtocolError);
}

TEST(WsDecoder, RefusesAMessageOverTheCapBeforeItsPayloadArrives) {
  // Fragments of 40 bytes under a cap of 100: the third one crosses it.
  std::string frag = std::string(40, 'a');
  std::string stream = ws_frame(WsOpcode::kBinary, frag, kMask, false) +
                       ws_frame(WsOpcode::kContinuation, frag, kMask, false) +
                       ws_frame(WsOpcode::kContinuation, frag, kMask);
  Decoded d = decode(stream.substr(0, stream.size() - 40), false, WsDecoder::Peer::kClient, 100);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, kWsCloseTooBig);
  // Exactly the cap is fine.
  Decoded at_cap = decode(ws_frame(WsOpcode::kBinary, std::string(100, 'b'), kMask), true,
                          WsDecoder::Peer::kClient, 100);
  EXPECT_FALSE(at_cap.error);
  ASSERT_EQ(at_cap.messages.size(), 1u);
  // The default cap is 1 MiB, announced in a header alone.
  Decoded big =
      decode(ws_frame(WsOpcode::kBinary, std::string((1 << 20) + 1, 'c'), kMask).substr(0, 14));
  ASSERT_TRUE(big.error);
  EXPECT_EQ(big.error->code, kWsCloseTooBig);
}

TEST(WsDecoder, JoinsFragmentedTextAndChecksUtf8OnTheWhole) {
  // A 3-byte character split over three frames, with a ping in between.
  std::string stream = ws_frame(WsOpcode::kText, "\xe2", kMask, false) +
                       ws_frame(WsOpcode::kContinuation, "\x82", kMask, false) +
                       ws_frame(WsOpcode::kPing, "", kMask) +
                       ws_frame(WsOpcode::kContinuation, "\xac", kMask);
  for (bool split : {false, true}) {
    Decoded d = decode(stream, split);
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.messages,
              (std::vector<WsMessage>{{WsOpcode::kPing, ""}, {WsOpcode::kText, "\xe2\x82\xac"}}));
  }
}

TEST(WsClose, FramesAndParsesCodeAndReason) {
  Decoded d = decode(ws_close_frame(kWsCloseGoingAway, "sandbox stopped", kMask));
  ASSERT_EQ(d.messages.size(), 1u);
  auto close = ws_parse_close(d.messages[0].payload);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, kWsCloseGoingAway);
  EXPECT_EQ(close->reason, "sandbox stopped");
  EXPECT_EQ(ws_parse_close("")->code, kWsCloseNoStatus);
  EXPECT_FALSE(ws_parse_close("\x03"));
  EXPECT_FALSE(ws_parse_close(std::string("\x03\xe8\xff", 3)));
  // A long reason is cut to 123 bytes, never inside a character.
  std::string euros;
  for (int i = 0; i < 60; ++i) euros += "\xe2\x82\xac";
  std::string frame = ws_close_frame(kWsCloseNormal, euros);
  auto cut = ws_parse_close(decode(frame, false, WsDecoder::Peer::kServer).messages.at(0).payload);
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->reason.size(), 123u);
}

// A server whose only route takes its socket over, speaks raw bytes on it and shuts it
// down, as the terminal route does.
TEST(SocketTakeover, TheHandlerWritesOnTheRequestsOwnConnection) {
  httplib::Server server;
  std::string error;
  server.Get("/raw", [&](const httplib::Request& req, httplib::Response& res) {
    auto sock = take_request_socket(req);
    if (!sock) {
      error = sock.error().message();
      res.status = 500;
      return;
    }
    write_all(sock->get(), "HTTP/1.1 101 Switching Protocols\r\n\r\nhello");
    ::shutdown(sock->get(), SHUT_RDWR);
    res.status = 101;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread loop([&] { server.listen_after_bind(); });

  // Another connection to the same server, open at the same time, is not the one taken.
  Fd idle(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(idle.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_TRUE(write_all(client.get(), "GET /raw HTTP/1.1\r\nHost: x\r\n\r\n"));

  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{client.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(client.get(), buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  idle.reset();  // else the server's stop waits out its keep-alive
  server.stop();
  loop.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(got, "HTTP/1.1 101 Switching Protocols\r\n\r\nhello");
}

// The pieces together, as the terminal route will use them: the handshake answered on the
// taken socket, a message echoed, a close; and a refusal that stays plain HTTP.
TEST(WebSocketOverTakenSocket, TheTestClientTalksToAServerOnATakenSocket) {
  httplib::Server server;
  server.Get("/echo", [](const httplib::Request& req, httplib::Response& res) {
    std::string key = req.get_header_value("Sec-WebSocket-Key");
    if (req.get_header_value("Authorization") != "Bearer s3cret" || !ws_valid_client_key(key)) {
      res.status = 401;
      res.set_content("{\"error\":\"no\"}", "application/json");
      return;
    }
    auto sock = take_request_socket(req);
    if (!sock) return;
    write_all(sock->get(),
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: " +
                  ws_accept_key(key) + "\r\n\r\n" + ws_frame(WsOpcode::kPing, "are you there"));
    WsDecoder dec(WsDecoder::Peer::kClient);
    char buf[4096];
    for (ssize_t n; !dec.error() && (n = ::read(sock->get(), buf, sizeof buf)) > 0;) {
      for (const WsMessage& m : dec.feed(std::string_view(buf, static_cast<std::size_t>(n)))) {
        if (m.opcode == WsOpcode::kText)
          write_all(sock->get(), ws_frame(WsOpcode::kBinary, m.payload));
        if (m.opcode == WsOpcode::kClose) {
          write_all(sock->get(), ws_close_frame(kWsCloseNormal, "done"));
          ::shutdown(sock->get(), SHUT_RDWR);
        }
      }
    }
    res.status = 101;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread loop([&] { server.listen_after_bind(); });

  {
    testing_support::WsClient refused;
    auto no = refused.connect(port, "/echo");
    EXPECT_EQ(no.status, 401);
    EXPECT_EQ(no.body, "{\"error\":\"no\"}");
  }

  testing_support::WsClient ws;
  auto hs = ws.connect(port, "/echo", {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(hs.status, 101);
  EXPECT_TRUE(hs.accept_ok);
  ASSERT_TRUE(ws.send_text("hello"));
  EXPECT_TRUE(ws.output_until("hello")) << ws.output();
  ASSERT_TRUE(ws.send_close(kWsCloseNormal));
  auto close = ws.receive();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, WsOpcode::kClose);
  ASSERT_TRUE(ws.close_received());
  EXPECT_EQ(ws.close_received()->code, kWsCloseNormal);
  EXPECT_EQ(ws.close_received()->reason, "done");
  EXPECT_TRUE(ws.wait_eof());
  EXPECT_FALSE(ws.error());

  server.stop();
  loop.join();
}

}  // namespace
}  // namespace sandboxd
