// ApiServer: the REST API over cpp-httplib. Owns the HTTP server and its worker pool;
// handlers only decode, call SandboxService and encode (no docker or SQL here).
// start() binds and serves on a background thread; stop() lets in-flight requests
// finish, then returns. Not copyable; stop() is safe from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sandboxd/auth/auth.h"
#include "sandboxd/base/metrics.h"
#include "sandboxd/base/status.h"
#include "sandboxd/config/config.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/procs/process_service.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/tasks/task_service.h"

namespace sandboxd {

// One route as the OpenAPI spec (api/openapi.json) names it: the method and the path
// template, e.g. {"GET", "/v1/sandboxes/{id}"}. Legacy aliases (/sandbox/...) are not
// listed.
struct ApiRoute {
  std::string method;
  std::string path;
  bool operator==(const ApiRoute&) const = default;
};

class ApiServer {
 public:
  // Samples read at scrape time from a component that keeps its own (the edge).
  using SampleSource = std::function<std::vector<ScrapeSample>()>;
  // Without `tasks`, the task routes are not served; without `processes`, the
  // background-process routes. GET /metrics renders `metrics`, with what `samples` (when
  // set) returns.
  ApiServer(const Config& config, SandboxService& sandboxes, const Authenticator& auth,
            Clock& clock, Metrics& metrics, TaskService* tasks = nullptr,
            ProcessService* processes = nullptr, SampleSource samples = {});
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds host:port (port 0 picks a free one) and starts serving. kUnavailable when
  // the address cannot be bound.
  Status start(const std::string& host, int port);
  // The bound port (after start).
  int port() const;
  // Every route this server answers, in registration order.
  const std::vector<ApiRoute>& routes() const;
  // Stops accepting, waits for in-flight requests, joins the serving thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandboxd
