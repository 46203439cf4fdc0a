#include "sandboxd/os/memory.h"

#include <fstream>
#include <sstream>

namespace sandboxd {

Result<MemInfo> parse_meminfo(const std::string& text) {
  MemInfo m;
  std::istringstream in(text);
  std::string key, unit;
  int64_t kib = 0;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemTotal:")
      m.total_bytes = kib * 1024;
    else if (key == "MemAvailable:")
      m.available_bytes = kib * 1024;
  }
  if (m.total_bytes <= 0) return Status(Code::kInternal, "meminfo: no MemTotal");
  return m;
}

Result<MemInfo> ProcMemoryProbe::read() {
  std::ifstream f(path_);
  if (!f) return Status(Code::kUnavailable, "cannot read " + path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_meminfo(ss.str());
}

}  // namespace sandboxd
