#include "sandboxd/preview/wake_flights.h"

#include <system_error>
#include <thread>
#include <vector>

namespace sandboxd {

struct WakeFlights::Flight {
  bool done = false;
  Result<std::string> result = Status(Code::kInternal, "wake did not finish");
  std::vector<Landed> subscribers;  // called once it lands (or on cancel)
};

namespace {
const Status kShuttingDown(Code::kUnavailable, "sandboxd is shutting down");
}  // namespace

WakeFlights::~WakeFlights() {
  cancel();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return running_ == 0; });
}

std::shared_ptr<WakeFlights::Flight> WakeFlights::begin(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = in_flight_.find(id);
  if (it != in_flight_.end()) return it->second;
  auto flight = std::make_shared<Flight>();
  if (cancelled_) {  // shutting down: no new wakes
    flight->done = true;
    flight->result = kShuttingDown;
    return flight;
  }
  try {
    std::thread([this, id, flight] {
      Result<std::string> r = wake_(id);
      std::vector<Landed> subscribers;
      {
        std::lock_guard lock(mu_);
        flight->result = r;
        flight->done = true;
        subscribers.swap(flight->subscribers);
        in_flight_.erase(id);
      }
      for (auto& landed : subscribers) landed(r);
      std::lock_guard lock(mu_);
      --running_;
      cv_.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    flight->done = true;
    flight->result = Status(Code::kUnavailable, std::string("cannot start a wake: ") + e.what());
    return flight;
  }
  // The thread blocks on mu_ (held here) before it touches any of this.
  in_flight_[id] = flight;
  ++running_;
  ++started_;
  return flight;
}

void WakeFlights::subscribe(const std::shared_ptr<Flight>& flight, Landed landed) {
  Result<std::string> now = kShuttingDown;
  {
    std::lock_guard lock(mu_);
    if (flight->done) {
      now = flight->result;
    } else if (!cancelled_) {
      flight->subscribers.push_back(std::move(landed));
      return;
    }
  }
  landed(now);
}

void WakeFlights::cancel() {
  std::vector<Landed> subscribers;
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    for (auto& [id, flight] : in_flight_) {
      for (auto& landed : flight->subscribers) subscribers.push_back(std::move(landed));
      flight->subscribers.clear();
    }
  }
  for (auto& landed : subscribers) landed(kShuttingDown);
}

int WakeFlights::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

}  // namespace sandboxd
