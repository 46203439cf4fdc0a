#include "sandboxd/edge/edge_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "sandboxd/base/text.h"

namespace sandboxd {

PeerAddress PeerAddress::from(const sockaddr_storage& addr) {
  PeerAddress p;
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
      std::memcpy(p.bytes.data(), &a6.sin6_addr.s6_addr[12], 4);
      ::inet_ntop(AF_INET, &a6.sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      p.v6 = true;
      std::memcpy(p.bytes.data(), a6.sin6_addr.s6_addr, 16);
      ::inet_ntop(AF_INET6, &a6.sin6_addr, text, sizeof text);
    }
  } else if (addr.ss_family == AF_INET) {
    const auto& a4 = reinterpret_cast<const sockaddr_in&>(addr);
    std::memcpy(p.bytes.data(), &a4.sin_addr, 4);
    ::inet_ntop(AF_INET, &a4.sin_addr, text, sizeof text);
  }
  p.text = text;
  return p;
}

Result<TrustedProxies> TrustedProxies::parse(std::string_view list) {
  TrustedProxies out;
  for (const std::string& raw : split(list, ',')) {
    std::string entry = trim(raw);
    if (entry.empty()) continue;
    auto bad = [&] {
      return Status(Code::kInvalidArgument,
                    "trusted proxy \"" + entry + "\": expected an address or CIDR range");
    };
    Range r;
    std::string addr = entry;
    int max_prefix = 32;
    if (auto slash = entry.find('/'); slash != std::string::npos) {
      addr = entry.substr(0, slash);
      std::string bits = entry.substr(slash + 1);
      if (bits.empty() || bits.size() > 3 ||
          bits.find_first_not_of("0123456789") != std::string::npos)
        return bad();
      r.prefix = std::stoi(bits);
    } else {
      r.prefix = -1;
    }
    if (::inet_pton(AF_INET, addr.c_str(), r.bytes.data()) != 1) {
      if (::inet_pton(AF_INET6, addr.c_str(), r.bytes.data()) != 1) return bad();
      r.v6 = true;
      max_prefix = 128;
    }
    if (r.prefix < 0) r.prefix = max_prefix;
    if (r.prefix > max_prefix) return bad();
    out.ranges_.push_back(r);
  }
  return out;
}

bool TrustedProxies::contains(const PeerAddress& peer) const {
  for (const Range& r : ranges_) {
    if (r.v6 != peer.v6) continue;
    int full = r.prefix / 8, rest = r.prefix % 8;
    if (std::memcmp(r.bytes.data(), peer.bytes.data(), static_cast<std::size_t>(full)) != 0)
      continue;
    if (rest != 0) {
      auto mask = static_cast<uint8_t>(0xff << (8 - rest));
      if ((r.bytes[full] & mask) != (peer.bytes[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

bool EdgeLimits::take(std::unordered_map<std::string, int>& counts, const std::string& key,
                      int cap) {
  std::lock_guard lock(mu_);
  int& n = counts[key];  // caps are at least 1: a new key is never at its cap
  if (n >= cap) return false;
  ++n;
  return true;
}

void EdgeLimits::give(std::unordered_map<std::string, int>& counts, const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = counts.find(key);
  if (it != counts.end() && --it->second <= 0) counts.erase(it);
}

bool EdgeLimits::add_client(const std::string& client) {
  return take(clients_, client, per_client_);
}
void EdgeLimits::remove_client(const std::string& client) { give(clients_, client); }
bool EdgeLimits::begin_request(const std::string& sandbox) {
  return take(sandboxes_, sandbox, per_sandbox_);
}
void EdgeLimits::end_request(const std::string& sandbox) { give(sandboxes_, sandbox); }

}  // namespace sandboxd
