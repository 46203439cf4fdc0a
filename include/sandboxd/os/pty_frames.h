// The framing of `sandbox-run pty`'s stdin: `[u8 type][u32 BE length][payload]`, where
// type 'i' carries input bytes for the terminal and 'r' a resize (u16 BE cols, u16 BE
// rows). Header-only and standard C++ only, so sandbox-init (which links none of
// sandboxd's libraries) shares it with sandboxd. A PtyFrameDecoder is not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sandboxd {

inline constexpr char kPtyInput = 'i';
inline constexpr char kPtyResize = 'r';
// The largest payload a frame may carry; pty_input_frames splits longer input.
inline constexpr std::size_t kPtyMaxPayload = 64 * 1024;

namespace pty_frames_detail {
inline void put_be(std::string& out, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
inline uint32_t get_be(std::string_view in, std::size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}
inline std::string frame(char type, std::string_view payload) {
  std::string out(1, type);
  put_be(out, static_cast<uint32_t>(payload.size()), 4);
  return out.append(payload);
}
}  // namespace pty_frames_detail

// `bytes` as input frames of at most kPtyMaxPayload each (nothing for no bytes).
inline std::string pty_input_frames(std::string_view bytes) {
  std::string out;
  for (std::size_t at = 0; at < bytes.size(); at += kPtyMaxPayload)
    out += pty_frames_detail::frame(kPtyInput, bytes.substr(at, kPtyMaxPayload));
  return out;
}

inline std::string pty_resize_frame(uint16_t cols, uint16_t rows) {
  std::string payload;
  pty_frames_detail::put_be(payload, cols, 2);
  pty_frames_detail::put_be(payload, rows, 2);
  return pty_frames_detail::frame(kPtyResize, payload);
}

struct PtyFrame {
  char type = kPtyInput;
  std::string input;  // kPtyInput
  uint16_t cols = 0;  // kPtyResize
  uint16_t rows = 0;  // kPtyResize
  bool operator==(const PtyFrame&) const = default;
};

// Turns the stream back into frames, however it is split across feeds. Frames of an
// unknown type are skipped (a newer sandboxd may send more kinds); a payload over
// kPtyMaxPayload or a resize that is not 4 bytes is an error that ends decoding.
class PtyFrameDecoder {
 public:
  // Appends `bytes` and returns the frames they complete, in order; nothing once failed().
  std::vector<PtyFrame> feed(std::string_view bytes) {
    std::vector<PtyFrame> out;
    if (failed_) return out;
    buf_.append(bytes);
    std::size_t pos = 0;
    while (buf_.size() - pos >= 5) {
      const char type = buf_[pos];
      const uint32_t len = pty_frames_detail::get_be(buf_, pos + 1, 4);
      if (len > kPtyMaxPayload || (type == kPtyResize && len != 4)) {
        failed_ = true;
        break;
      }
      if (buf_.size() - pos - 5 < len) break;
      std::string_view payload = std::string_view(buf_).substr(pos + 5, len);
      if (type == kPtyInput) {
        out.push_back({.type = kPtyInput, .input = std::string(payload), .cols = 0, .rows = 0});
      } else if (type == kPtyResize) {
        out.push_back({.type = kPtyResize,
                       .input = {},
                       .cols = static_cast<uint16_t>(pty_frames_detail::get_be(payload, 0, 2)),
                       .rows = static_cast<uint16_t>(pty_frames_detail::get_be(payload, 2, 2))});
      }
      pos += 5 + len;
    }
    buf_.erase(0, pos);
    return out;
  }
  bool failed() const { return failed_; }

 private:
  std::string buf_;
  bool failed_ = false;
};

}  // namespace sandboxd
