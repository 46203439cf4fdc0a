// The daemon's log: spdlog to stderr, UTC times, one line per record, in one of two
// formats (SANDBOXD_LOG_FORMAT):
//   text  2026-12-03T10:00:00.000Z info request_id=ab12 message
//   json  {"time":"2026-12-03T10:00:00.000Z","level":"info","msg":"message","request_id":"ab12"}
// A request's log line adds its fields (log_fields()) as keys of the JSON object; the
// text line carries them in its message already.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandboxd {

enum class LogFormat { kText, kJson };
// "text" or "json".
std::optional<LogFormat> parse_log_format(std::string_view text);

// Installs the default logger. `level` is one of spdlog's names (trace..off).
void setup_logging(const std::string& level, LogFormat format);

// Extra keys of the records the calling thread logs (in the JSON format): set them, log,
// then clear them (`log_fields() = {}`). Strings and integers.
struct LogFields {
  std::vector<std::pair<std::string, std::string>> text;
  std::vector<std::pair<std::string, int64_t>> numbers;
  bool empty() const { return text.empty() && numbers.empty(); }
};
LogFields& log_fields();

}  // namespace sandboxd
