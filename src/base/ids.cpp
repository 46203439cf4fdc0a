#include "sandboxd/base/ids.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdlib>

namespace sandboxd {
namespace {

void fill_random(unsigned char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::abort();  // the kernel CSPRNG failing is not recoverable
    }
    got += static_cast<std::size_t>(r);
  }
}

}  // namespace

Result<std::string> normalize_id(std::string_view raw) {
  if (raw.empty() || raw.size() > kMaxIdLength) {
    return Status(Code::kInvalidArgument, "id must be 1 to 32 characters of [a-z0-9]");
  }
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return Status(Code::kInvalidArgument, "id must be 1 to 32 characters of [a-z0-9]");
    }
    out.push_back(c);
  }
  return out;
}

std::string new_ulid(int64_t unix_ms) {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::array<unsigned char, 16> bytes{};
  auto ms = static_cast<uint64_t>(unix_ms);
  for (int i = 5; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms & 0xff);
    ms >>= 8;
  }
  fill_random(bytes.data() + 6, 10);
  // 128 bits -> 26 base32 digits, most significant first (the first digit holds 3 bits).
  std::string out(26, '0');
  unsigned __int128 v = 0;
  for (unsigned char b : bytes) v = (v << 8) | b;
  for (int i = 25; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kAlphabet[static_cast<unsigned>(v & 31)];
    v >>= 5;
  }
  return out;
}

std::string random_hex(std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string bytes(n, '\0');
  fill_random(reinterpret_cast<unsigned char*>(bytes.data()), n);
  std::string out;
  out.reserve(n * 2);
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace sandboxd
