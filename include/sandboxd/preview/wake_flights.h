// WakeFlights: single-flight wakes. However many requests for one sandbox arrive while
// it is being woken, the wake function runs once for it; every caller subscribes to that
// one flight and keeps its own deadline. A finished flight is forgotten at once, so the
// next request after it (say, after another idle stop) starts a fresh one. Thread-safe.
#pragma once

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
  using Landed = std::function<void(const Result<std::string>& address)>;
  // Calls `landed` once with the flight's address or error: at once (on this thread) when
  // it has landed, else on the wake's thread when it lands, or with kUnavailable from
  // cancel(). Keep it short: hand the result to where it is needed.
  void subscribe(const std::shared_ptr<Flight>& flight, Landed landed);
  // Calls every subscriber with kUnavailable (shutdown); later subscribers get it at once.
  void cancel();
  // Wakes started so far (for tests and logs).
  int started() const;

 private:
  WakeFn wake_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // a wake thread finished
  std::map<std::string, std::shared_ptr<Flight>> in_flight_;
  int running_ = 0;
  int started_ = 0;
  bool cancelled_ = false;
};

}  // namespace sandboxd
