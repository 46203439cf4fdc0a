#include "sandboxd/api/terminal_tickets.h"

#include "sandboxd/base/ids.h"

namespace sandboxd {

std::string TerminalTickets::issue(std::string_view sandbox_id, std::string_view actor) {
  std::string ticket = random_hex(32);
  std::lock_guard lock(mu_);
  evict(cap_ > 0 ? cap_ - 1 : 0);
  order_.push_back(ticket);
  tickets_[ticket] = Entry{TerminalTicket{std::string(sandbox_id), std::string(actor)},
                           clock_.steady_now() + ttl_, std::prev(order_.end())};
  return ticket;
}

std::optional<TerminalTicket> TerminalTickets::redeem(std::string_view ticket,
                                                      std::string_view sandbox_id) {
  std::lock_guard lock(mu_);
  auto it = tickets_.find(std::string(ticket));
  if (it == tickets_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  order_.erase(entry.order);
  tickets_.erase(it);
  if (clock_.steady_now() >= entry.expires || entry.grant.sandbox_id != sandbox_id)
    return std::nullopt;
  return std::move(entry.grant);
}

void TerminalTickets::evict(std::size_t keep) {
  const auto now = clock_.steady_now();
  while (!order_.empty()) {
    auto it = tickets_.find(order_.front());
    if (tickets_.size() <= keep && it->second.expires > now) break;
    tickets_.erase(it);
    order_.pop_front();
  }
}

}  // namespace sandboxd
