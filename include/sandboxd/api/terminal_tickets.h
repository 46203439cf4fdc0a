// Short-lived, single-use tickets that let a browser open a terminal WebSocket, which
// cannot carry an Authorization header: issued to an authenticated actor for one
// sandbox, redeemed on the upgrade request. Kept in memory only (a restart voids them).
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sandboxd/os/clock.h"

namespace sandboxd {

struct TerminalTicket {
  std::string sandbox_id;
  std::string actor;
  bool operator==(const TerminalTicket&) const = default;
};

class TerminalTickets {
 public:
  explicit TerminalTickets(Clock& clock, std::chrono::milliseconds ttl = std::chrono::seconds(30),
                           std::size_t cap = 1000)
      : clock_(clock), ttl_(ttl), cap_(cap) {}

  // A new ticket (64 lower-case hex characters from the kernel's CSPRNG) for `actor` to
  // open `sandbox_id`'s terminal within ttl(). Past the cap the oldest ticket is dropped.
  std::string issue(std::string_view sandbox_id, std::string_view actor);
  // Consumes `ticket` whatever the outcome: its grant when it was issued for `sandbox_id`
  // and has not expired, else nullopt.
  std::optional<TerminalTicket> redeem(std::string_view ticket, std::string_view sandbox_id);
  // How long a ticket lives (for the `expires_at` shown to the client).
  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  struct Entry {
    TerminalTicket grant;
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator order;
  };
  // Drops expired tickets, then the oldest until at most `keep` remain; mu_ held.
  void evict(std::size_t keep);

  Clock& clock_;
  const std::chrono::milliseconds ttl_;
  const std::size_t cap_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> tickets_;  // guarded by mu_
  std::list<std::string> order_;                    // guarded by mu_; oldest first
};

}  // namespace sandboxd
