// sandboxd_with_daemon CMD [ARG...]: runs CMD against a real sandboxd, for the SDKs' and
// the CLI's tests. Starts the integration harness's daemon (its own instance, network,
// data dir and loopback port; auth on) and the mock model server on the sandbox network's
// gateway (the daemon allows exactly that address and port), then runs CMD with
//   SANDBOXD_URL     the API's base URL (http://127.0.0.1:<port>)
//   SANDBOXD_TOKEN   a bearer token the API accepts
//   SANDBOXED_TEST_MODEL_URL  the mock model's base URL, as a sandbox reaches it
//   SANDBOXED_TEST_PREVIEW    the edge's loopback host:port (requests to it name their
//                             sandbox as Host: s-<id>-<port>.preview.localhost)
// and exits with CMD's exit code, after removing every container, network and directory
// the daemon made. Exits 125 when the daemon or the mock model does not come up.
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "integration/daemon.h"

extern char** environ;

using namespace sandboxd::testing_support;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sandboxd_with_daemon CMD [ARG...]\n");
    return 2;
  }
  Daemon d("with");
  if (!d.start()) {
    std::fprintf(stderr, "sandboxd_with_daemon: sandboxd did not start:\n%s\n", d.log().c_str());
    return 125;
  }
  const std::string gw = network_gateway(d.network());
  if (gw.empty()) {
    std::fprintf(stderr, "sandboxd_with_daemon: no gateway for network %s\n", d.network().c_str());
    return 125;
  }
  MockModel model(gw);
  if (!allow_model(d, model)) {
    std::fprintf(stderr, "sandboxd_with_daemon: sandboxd did not restart:\n%s\n", d.log().c_str());
    return 125;
  }
  ::setenv("SANDBOXD_URL", ("http://127.0.0.1:" + std::to_string(d.port())).c_str(), 1);
  ::setenv("SANDBOXD_TOKEN", d.token().c_str(), 1);
  ::setenv("SANDBOXED_TEST_MODEL_URL", model.base().c_str(), 1);
  ::setenv("SANDBOXED_TEST_PREVIEW", ("127.0.0.1:" + std::to_string(d.wake_port())).c_str(), 1);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, argv[1], nullptr, nullptr, argv + 1, environ) != 0) {
    std::perror("sandboxd_with_daemon: spawn");
    return 127;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (rc != 0)
    std::fprintf(stderr, "sandboxd_with_daemon: exit %d; sandboxd's log:\n%s\n", rc,
                 d.log().c_str());
  return rc;
}
