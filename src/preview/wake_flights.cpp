#include "sandboxd/preview/wake_flights.h"

#include <system_error>
#include <thread>

namespace sandboxd {

struct WakeFlights::Flight {
  bool done = false;
  Result<std::string> result = Status(Code::kInternal, "wake did not finish");
};

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
    flight->result = Status(Code::kUnavailable, "sandboxd is shutting down");
    return flight;
  }
  try {
    std::thread([this, id, flight] {
      Result<std::string> r = wake_(id);
      std::lock_guard lock(mu_);
      flight->result = std::move(r);
      flight->done = true;
      in_flight_.erase(id);
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

Result<std::string> WakeFlights::wait(const std::shared_ptr<Flight>& flight,
                                      std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_until(lock, deadline, [&] { return flight->done || cancelled_; }))
    return Status(Code::kTimeout, "the sandbox did not wake up in time");
  if (!flight->done) return Status(Code::kUnavailable, "sandboxd is shutting down");
  return flight->result;
}

void WakeFlights::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

int WakeFlights::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

}  // namespace sandboxd
