#include "socket_takeover.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace sandboxd {
namespace {

struct Endpoint {
  std::string addr;
  int port = -1;
};

// An address as httplib spells it (numeric, getnameinfo) and its port; nullopt for a
// socket that is not IPv4/IPv6 or not connected.
std::optional<Endpoint> endpoint(const sockaddr_storage& ss, socklen_t len) {
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) return std::nullopt;
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) != 0)
    return std::nullopt;
  int port = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port)
                                     : ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return Endpoint{host, port};
}

std::optional<Endpoint> local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return endpoint(ss, len);
}

std::optional<Endpoint> peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return endpoint(ss, len);
}

// The local port is compared first: other connections (the edge's, the API's) mostly
// differ there, and skip getpeername.
bool carries(int fd, const httplib::Request& req) {
  auto local = local_of(fd);
  if (!local || local->port != req.local_port || local->addr != req.local_addr) return false;
  auto peer = peer_of(fd);
  return peer && peer->port == req.remote_port && peer->addr == req.remote_addr;
}

bool is_socket(int dir_fd, const char* name) {
  char target[64];
  ssize_t n = ::readlinkat(dir_fd, name, target, sizeof target - 1);
  return n > 0 && std::string_view(target, static_cast<std::size_t>(n)).starts_with("socket:");
}

}  // namespace

Result<Fd> take_request_socket(const httplib::Request& req) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return Status(Code::kInternal, "take request socket: cannot list /proc/self/fd");
  Fd found;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
    if (!is_socket(::dirfd(dir), e->d_name) || !carries(static_cast<int>(fd), req)) continue;
    Fd dup(::fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0));
    if (dup.ok() && carries(dup.get(), req)) {
      found = std::move(dup);
      break;
    }
  }
  ::closedir(dir);
  if (!found.ok())
    return Status(Code::kInternal, "take request socket: no socket carries " + req.remote_addr +
                                       ":" + std::to_string(req.remote_port));
  return found;
}

}  // namespace sandboxd
