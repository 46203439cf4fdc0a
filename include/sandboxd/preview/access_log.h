// AccessLogTailer: follows Traefik's JSON access log so preview traffic that Traefik
// routes straight to a sandbox (bypassing the wake listener) still counts as activity.
// Each poll() reads what was appended since the last one (the first poll starts at the
// end of the file: history is not activity now), follows rotation (a new file at the
// path) and truncation, and reports each line's request host. Traefik cannot rotate
// it by itself, so once everything is read and the file is larger than `max_bytes`, the
// tailer truncates it to 0: Traefik opens it O_APPEND, so its next line starts the file
// again (a line written between the last read and the truncation is lost; activity is
// recorded per second anyway). Not thread-safe: one poller (a Periodic) owns it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace sandboxd {

// The request host of one Traefik JSON access-log line ("RequestHost", else the kept
// "request_Host" header); empty when the line is not such a record.
std::string access_log_host(std::string_view line);

class AccessLogTailer {
 public:
  using OnHost = std::function<void(const std::string& host)>;
  // `max_bytes` 0: never truncate.
  AccessLogTailer(std::string path, OnHost on_host, int64_t max_bytes = 0);
  ~AccessLogTailer();
  AccessLogTailer(const AccessLogTailer&) = delete;
  AccessLogTailer& operator=(const AccessLogTailer&) = delete;

  // Reads and reports new lines (at most a few MiB per call). Returns the lines read.
  int poll();

 private:
  int read_lines(std::size_t budget);
  // Truncates the file to 0 when everything was read and it is over max_bytes_.
  void truncate_if_over_cap();

  std::string path_;
  OnHost on_host_;
  int64_t max_bytes_;
  bool truncate_warned_ = false;  // a failed truncation is logged once
  int fd_ = -1;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  off_t offset_ = 0;
  bool started_ = false;  // the first poll happened (later files are read from their start)
  std::string partial_;   // an unfinished last line
};

}  // namespace sandboxd
