#include "sandboxd/preview/wake_flights.h"

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
  in_flight_[id] = flight;
  ++running_;
  ++started_;
  std::thread([this, id, flight] {
    Result<std::string> r = wake_(id);
    std::lock_guard lock(mu_);
    flight->result = std::move(r);
    flight->done = true;
    in_flight_.erase(id);
    --running_;
    cv_.notify_all();
  }).detach();
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
