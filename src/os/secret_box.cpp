#include "sandboxd/os/secret_box.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "sandboxd/os/fd.h"

namespace sandboxd {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kVersion = "v1:";

Status os_error(const std::string& what, int err) {
  return Status(Code::kInternal, what + ": " + std::strerror(err));
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

std::string to_hex(const std::vector<unsigned char>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
  if (hex.size() % 2) return false;
  auto nibble = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return true;
}

// Makes the key file unless it exists: a complete key appears at `path` or nothing does.
Status create_key(const std::string& path) {
  unsigned char key[kKeyBytes];
  if (RAND_bytes(key, sizeof key) != 1) return Status(Code::kInternal, "no random bytes");
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return os_error("create " + tmp, errno);
  bool ok = write_all(fd, std::string_view(reinterpret_cast<const char*>(key), sizeof key)) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  OPENSSL_cleanse(key, sizeof key);
  if (ok && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    ok = false;
    err = errno;
  }
  ::unlink(tmp.c_str());
  if (!ok) return os_error("write " + path, err);
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  if (int d = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return {};
}

}  // namespace

Result<SecretBox> SecretBox::open(const std::string& path, bool create) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create) {
    if (auto s = create_key(path); !s.is_ok()) return s;
    fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0 && errno == ENOENT) return Status(Code::kNotFound, "no key at " + path);
  if (fd < 0) return os_error("open " + path, errno);
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (regular && ((st.st_mode & 077) != 0 || st.st_uid != ::geteuid())) {
    ::close(fd);
    return Status(Code::kInternal,
                  path + " must be mode 0600 and owned by uid " + std::to_string(::geteuid()));
  }
  SecretBox box;
  bool ok = regular && st.st_size == static_cast<off_t>(kKeyBytes) &&
            ::read(fd, box.key_.data(), kKeyBytes) == static_cast<ssize_t>(kKeyBytes);
  ::close(fd);
  if (!ok) return Status(Code::kInternal, path + " is not a 32-byte key file");
  return box;
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

Result<std::string> SecretBox::seal(std::string_view plain, std::string_view context) const {
  std::vector<unsigned char> out(kNonceBytes + plain.size() + kTagBytes);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  auto* ct = out.data() + kNonceBytes;
  bool ok =
      ctx && RAND_bytes(out.data(), kNonceBytes) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), out.data()) &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &n,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) &&
      EVP_EncryptUpdate(ctx.get(), ct, &n, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) &&
      EVP_EncryptFinal_ex(ctx.get(), ct + n, &n) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          ct + plain.size()) == 1;
  if (!ok) return Status(Code::kInternal, "seal: OpenSSL failed");
  return std::string(kVersion) + to_hex(out);
}

Result<std::string> SecretBox::unseal(std::string_view sealed, std::string_view context) const {
  std::vector<unsigned char> in;
  if (sealed.substr(0, kVersion.size()) != kVersion ||
      !from_hex(sealed.substr(kVersion.size()), in) || in.size() < kNonceBytes + kTagBytes)
    return Status(Code::kInvalidArgument, "unseal: not a sealed value");
  const std::size_t len = in.size() - kNonceBytes - kTagBytes;
  std::string plain(len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  Ctx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), in.data()) &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &n,
                              reinterpret_cast<const unsigned char*>(context.data()),
                              static_cast<int>(context.size())) &&
            EVP_DecryptUpdate(ctx.get(), out, &n, in.data() + kNonceBytes, static_cast<int>(len)) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                                in.data() + kNonceBytes + len) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), out + n, &n) == 1;
  if (!ok) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return Status(Code::kInvalidArgument, "unseal: wrong key or changed value");
  }
  return plain;
}

Result<const SecretBox*> ValueSealer::box(bool create) {
  std::lock_guard lock(mu_);
  if (box_) return &*box_;
  auto box = SecretBox::open(key_path_, create);
  if (!box) return box.error();
  box_.emplace(std::move(*box));
  return &*box_;
}

Result<std::string> ValueSealer::seal(const std::vector<std::string>& values,
                                      std::string_view context) {
  if (values.empty()) return std::string();
  std::string plain;
  for (const auto& v : values) plain += v + '\0';
  auto b = box(/*create=*/true);
  auto sealed = b ? (*b)->seal(plain, context) : Result<std::string>(b.error());
  std::fill(plain.begin(), plain.end(), '\0');
  return sealed;
}

Result<std::vector<std::string>> ValueSealer::unseal(const std::string& sealed,
                                                     std::string_view context) {
  std::vector<std::string> values;
  if (sealed.empty()) return values;
  auto b = box(/*create=*/false);
  auto plain = b ? (*b)->unseal(sealed, context) : Result<std::string>(b.error());
  if (!plain) return plain.error();
  for (std::size_t at = 0, nul; (nul = plain->find('\0', at)) != std::string::npos; at = nul + 1)
    values.push_back(plain->substr(at, nul - at));
  std::fill(plain->begin(), plain->end(), '\0');
  return values;
}

}  // namespace sandboxd
