#include "sandboxd/preview/access_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace sandboxd {
namespace {

constexpr std::size_t kPollBudget = 8 << 20;
constexpr std::size_t kMaxLine = 64 << 10;

}  // namespace

std::string access_log_host(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return {};
  for (const char* key : {"RequestHost", "request_Host"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string() && !it->get<std::string>().empty())
      return it->get<std::string>();
  }
  return {};
}

AccessLogTailer::AccessLogTailer(std::string path, OnHost on_host, int64_t max_bytes)
    : path_(std::move(path)), on_host_(std::move(on_host)), max_bytes_(max_bytes) {}

AccessLogTailer::~AccessLogTailer() {
  if (fd_ >= 0) ::close(fd_);
}

int AccessLogTailer::poll() {
  int lines = 0;
  struct stat at_path {};
  bool exists = ::stat(path_.c_str(), &at_path) == 0;
  if (fd_ >= 0 && exists && (at_path.st_ino != ino_ || at_path.st_dev != dev_)) {
    // Rotated: finish the old file, then follow the new one from its start.
    lines += read_lines(kPollBudget);
    ::close(fd_);
    fd_ = -1;
    partial_.clear();
  }
  if (fd_ < 0 && exists) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) return lines;
    struct stat st {};
    ::fstat(fd_, &st);
    ino_ = st.st_ino;
    dev_ = st.st_dev;
    offset_ = started_ ? 0 : st.st_size;
  }
  started_ = true;
  if (fd_ < 0) return lines;
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size < offset_) {
    offset_ = 0;  // truncated in place (copytruncate)
    partial_.clear();
  }
  lines += read_lines(kPollBudget);
  truncate_if_over_cap();
  return lines;
}

void AccessLogTailer::truncate_if_over_cap() {
  struct stat st {};
  // Only at a line boundary with nothing left unread, so no line is cut in two.
  if (max_bytes_ <= 0 || offset_ <= max_bytes_ || !partial_.empty() || ::fstat(fd_, &st) != 0 ||
      st.st_size != offset_)
    return;
  // A second descriptor for writing: the tailer itself reads (and the file may be on a
  // read-only mount, in which case it is only followed).
  int wfd = ::open(path_.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat wst {};
  bool same = wfd >= 0 && ::fstat(wfd, &wst) == 0 && wst.st_ino == ino_ && wst.st_dev == dev_;
  bool ok = same && ::ftruncate(wfd, 0) == 0;
  int err = errno;
  if (wfd >= 0) ::close(wfd);
  if (ok) {
    offset_ = 0;
    return;
  }
  // A file replaced meanwhile (`!same` after a successful open) is the next poll's.
  if ((wfd < 0 || same) && !truncate_warned_) {
    truncate_warned_ = true;
    spdlog::warn("access log {}: cannot truncate it past {} bytes (a read-only mount?): {}", path_,
                 max_bytes_, std::strerror(err));
  }
}

int AccessLogTailer::read_lines(std::size_t budget) {
  int lines = 0;
  char buf[64 << 10];
  while (budget > 0) {
    ssize_t n = ::pread(fd_, buf, sizeof buf, offset_);
    if (n <= 0) break;
    offset_ += n;
    budget -= std::min<std::size_t>(budget, static_cast<std::size_t>(n));
    std::string_view chunk(buf, static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      auto nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        if (partial_.size() < kMaxLine) partial_.append(chunk);
        break;
      }
      if (partial_.size() < kMaxLine) partial_.append(chunk.substr(0, nl));
      chunk.remove_prefix(nl + 1);
      std::string host = access_log_host(partial_);
      partial_.clear();
      ++lines;
      if (!host.empty()) on_host_(host);
    }
  }
  return lines;
}

}  // namespace sandboxd
