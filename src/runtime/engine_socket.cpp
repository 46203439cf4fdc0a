#include "runtime/engine_socket.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandboxd/os/fd.h"

namespace sandboxd {

Status engine_post(const std::string& socket_path, const std::string& path,
                   std::chrono::seconds timeout, const std::string& what) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    return Status(Code::kInvalidArgument, what + ": socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.ok()) return Status(Code::kUnavailable, what + ": socket: " + std::strerror(errno));
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Status(Code::kUnavailable,
                  what + ": connect " + socket_path + ": " + std::strerror(errno));
  const std::string req = "POST " + path +
                          " HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n";
  if (!write_all(fd.get(), req))
    return Status(Code::kUnavailable, what + ": write: " + std::strerror(errno));
  // HTTP/1.0 with Connection: close: the answer ends when the engine closes.
  std::string answer;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      if (answer.size() < 64 * 1024) answer.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status(Code::kUnavailable, what + ": read: " + std::strerror(errno));
    break;
  }
  // "HTTP/1.x NNN ..."
  if (answer.size() < 12 || answer.compare(0, 5, "HTTP/") != 0)
    return Status(Code::kUnavailable, what + ": no HTTP answer from " + socket_path);
  const int code = std::atoi(answer.substr(9, 3).c_str());
  if (code >= 200 && code < 300) return {};
  std::string body;
  if (auto at = answer.find("\r\n\r\n"); at != std::string::npos) body = answer.substr(at + 4);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  const std::string msg = what + ": " + body.substr(0, 500);
  if (code == 404) return Status(Code::kNotFound, msg);
  if (code == 409) return Status(Code::kConflict, msg);
  return Status(Code::kUnavailable, msg + " (HTTP " + std::to_string(code) + ")");
}

}  // namespace sandboxd
