// Operator subcommands of the sandboxd binary: `sandboxd doctor` (is this host ready to
// run sandboxes, and if not, what to fix) and `sandboxd ls` (the sandboxes in the
// database). The logic takes the OS seams so it is unit-testable with fakes; main.cpp
// wires the real ones and prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sandboxd/config/config.h"
#include "sandboxd/os/memory.h"
#include "sandboxd/os/process_runner.h"
#include "sandboxd/store/records.h"

namespace sandboxd {

struct DoctorCheck {
  enum class Level { kOk, kWarn, kFail };
  std::string name;  // docker, image, network, data dir, disk, memory, api
  Level level = Level::kOk;
  std::string detail;  // what was found
  std::string fix;     // what to do about it (empty when nothing)
};

// Answers whether sandboxd answers GET /healthz at host:port (a seam for tests).
using HealthProbe = bool (*)(const std::string& host, int port);
bool probe_healthz(const std::string& host, int port);

// Checks the Docker engine, the sandbox image, the sandbox network, the data dir's
// permissions, its free disk, memory headroom and whether the daemon answers.
std::vector<DoctorCheck> run_doctor(const Config& config, ProcessRunner& runner,
                                    MemoryProbe& memory, HealthProbe healthz);
// One line per check ("ok", "WARN", "FAIL"), each failure or warning followed by its fix.
std::string format_doctor(const std::vector<DoctorCheck>& checks);
// 1 when any check failed, else 0.
int doctor_exit_code(const std::vector<DoctorCheck>& checks);

}  // namespace sandboxd
