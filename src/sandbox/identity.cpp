#include "sandboxd/sandbox/identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sandboxd/os/fd.h"
#include "sandboxd/sandbox/sandbox_spec.h"

namespace sandboxd {
namespace {

// Replaces `path` atomically with `content`, mode `mode`, owned by `owner` (-1: root's).
Status write_file(const std::string& path, const std::string& content, mode_t mode = 0644,
                  int64_t owner = -1) {
  const std::string tmp = path + ".new";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  bool ok = fd.ok() && write_all(fd.get(), content) &&
            (owner < 0 ||
             ::fchown(fd.get(), static_cast<uid_t>(owner), static_cast<gid_t>(owner)) == 0) &&
            ::fchmod(fd.get(), mode) == 0;
  if (ok && ::rename(tmp.c_str(), path.c_str()) == 0) return {};
  Status st(Code::kInternal, "write " + path + ": " + std::strerror(errno));
  ::unlink(tmp.c_str());
  return st;
}

}  // namespace

std::string identity_passwd(int64_t uid) {
  const std::string u = std::to_string(uid);
  return "root:x:0:0:root:/root:/usr/sbin/nologin\n"
         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
         "sandbox:x:" +
         u + ":" + u + ":sandbox:" + kSandboxHome + ":/bin/bash\n";
}

std::string identity_group(int64_t uid) {
  return "root:x:0:\nnogroup:x:65534:\nsandbox:x:" + std::to_string(uid) + ":\n";
}

std::string env_records(const std::map<std::string, std::string>& env) {
  std::string out;
  for (const auto& [k, v] : env) {
    out += k;
    out += '=';
    out += v;
    out += '\0';
  }
  return out;
}

Status write_identity(const std::string& dir, const std::string& id, int64_t uid,
                      const std::map<std::string, std::string>& env) {
  const std::string own = dir + "/" + id;
  std::error_code ec;
  std::filesystem::create_directories(own + "/run", ec);
  if (ec) return Status(Code::kInternal, "create " + own + "/run: " + ec.message());
  if (auto s = write_file(own + "/passwd", identity_passwd(uid)); !s.is_ok()) return s;
  if (auto s = write_file(own + "/group", identity_group(uid)); !s.is_ok()) return s;
  return write_file(own + "/run/env", env_records(env), 0400, uid);
}

Status remove_identity(const std::string& dir, const std::string& id) {
  std::error_code ec;
  std::filesystem::remove_all(dir + "/" + id, ec);
  if (ec) return Status(Code::kInternal, "remove " + dir + "/" + id + ": " + ec.message());
  return {};
}

}  // namespace sandboxd
