// What keeps one tenant or one client from taking the whole edge: caps on client
// connections per address and on requests in flight per sandbox, shared by every edge
// thread; and the trusted proxies whose forwarding headers are believed. Thread-safe.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

// A peer's address: its text (IPv4-mapped IPv6 becomes plain IPv4) and its bytes.
struct PeerAddress {
  std::string text;
  std::array<uint8_t, 16> bytes{};
  bool v6 = false;
  static PeerAddress from(const sockaddr_storage& addr);
};

class TrustedProxies {
 public:
  // A comma list of addresses or CIDR ranges, IPv4 or IPv6 ("10.0.0.0/8, ::1"); empty:
  // none. kInvalidArgument naming the bad entry.
  static Result<TrustedProxies> parse(std::string_view list);
  bool contains(const PeerAddress& peer) const;
  bool empty() const { return ranges_.empty(); }

 private:
  struct Range {
    std::array<uint8_t, 16> bytes{};
    bool v6 = false;
    int prefix = 0;
  };
  std::vector<Range> ranges_;
};

class EdgeLimits {
 public:
  EdgeLimits(int per_client, int per_sandbox)
      : per_client_(per_client), per_sandbox_(per_sandbox) {}

  // Counts a connection from `client`; false (and not counted) at the cap.
  bool add_client(const std::string& client);
  void remove_client(const std::string& client);
  // Counts a request (or tunnel) in flight to `sandbox`; false (not counted) at the cap.
  bool begin_request(const std::string& sandbox);
  void end_request(const std::string& sandbox);

 private:
  // Adds one to counts[key] unless it is at `cap`.
  bool take(std::unordered_map<std::string, int>& counts, const std::string& key, int cap);
  void give(std::unordered_map<std::string, int>& counts, const std::string& key);

  const int per_client_;
  const int per_sandbox_;
  std::mutex mu_;
  std::unordered_map<std::string, int> clients_;    // guarded by mu_
  std::unordered_map<std::string, int> sandboxes_;  // guarded by mu_
};

}  // namespace sandboxd
