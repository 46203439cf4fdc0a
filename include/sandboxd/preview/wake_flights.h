// WakeFlights: single-flight wakes. However many requests for one sandbox arrive while
// it is being woken, the wake function runs once for it; every caller waits on that one
// flight with its own deadline. A finished flight is forgotten at once, so the next
// request after it (say, after another idle stop) starts a fresh one. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "sandboxd/base/status.h"

namespace sandboxd {

class WakeFlights {
 public:
  // `wake` brings a sandbox up and returns its address; it runs on a thread of its own.
  using WakeFn = std::function<Result<std::string>(const std::string& id)>;
  explicit WakeFlights(WakeFn wake) : wake_(std::move(wake)) {}
  // Cancels waiters and waits for running wakes to finish.
  ~WakeFlights();
  WakeFlights(const WakeFlights&) = delete;
  WakeFlights& operator=(const WakeFlights&) = delete;

  struct Flight;
  // The flight waking `id`, started now unless one is already in the air.
  std::shared_ptr<Flight> begin(const std::string& id);
  // Waits for `flight` until `deadline`: its address or error; kTimeout when the deadline
  // passes first, kUnavailable once cancel() was called.
  Result<std::string> wait(const std::shared_ptr<Flight>& flight,
                           std::chrono::steady_clock::time_point deadline);
  // Wakes every waiter with kUnavailable (shutdown); later waits fail at once.
  void cancel();
  // Wakes started so far (for tests and logs).
  int started() const;

 private:
  WakeFn wake_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // a flight landed, a thread finished, or cancel()
  std::map<std::string, std::shared_ptr<Flight>> in_flight_;
  int running_ = 0;
  int started_ = 0;
  bool cancelled_ = false;
};

}  // namespace sandboxd
