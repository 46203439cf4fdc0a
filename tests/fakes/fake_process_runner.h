// FakeProcessRunner: records every spec it is asked to run and answers from scripted
// replies matched by argv prefix (the first match wins; unmatched argv exit 0, no output).
#pragma once

#include <mutex>
#include <vector>

#include "sandboxd/os/process_runner.h"

namespace sandboxd {

class FakeProcessRunner final : public ProcessRunner {
 public:
  struct Reply {
    std::vector<std::string> prefix;
    ProcessOutput output;
  };

  void on(std::vector<std::string> prefix, int exit_code, std::string out = "",
          std::string err = "") {
    ProcessOutput o;
    o.exit_code = exit_code;
    o.stdout_data = std::move(out);
    o.stderr_data = std::move(err);
    std::lock_guard lock(mu_);
    replies_.push_back({std::move(prefix), std::move(o)});
  }

  Result<ProcessOutput> run(const ProcessSpec& spec) override {
    std::lock_guard lock(mu_);
    calls_.push_back(spec);
    for (const auto& r : replies_) {
      if (r.prefix.size() <= spec.argv.size() &&
          std::equal(r.prefix.begin(), r.prefix.end(), spec.argv.begin())) {
        return r.output;
      }
    }
    ProcessOutput ok;
    ok.exit_code = 0;
    return ok;
  }

  std::vector<ProcessSpec> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<Reply> replies_;
  std::vector<ProcessSpec> calls_;
};

}  // namespace sandboxd
