// A raw HTTP/1.1 client for the edge's integration tests: connections from any
// 127.0.0.0/8 source, responses read with their framing and deadlines, and a slowloris
// driver. Traffic goes only to loopback.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sandboxd::testing_support {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The bound on one exchange with the edge: generous for a loaded 2-core machine.
constexpr seconds kExchange{10};

// Raises this process's open-file limit to at least `n` (beyond the hard limit as root);
// sandboxd, spawned afterwards, inherits it.
inline void raise_fd_limit(rlim_t n) {
  rlimit l{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &l), 0);
  if (l.rlim_cur >= n) return;
  rlimit want{n, std::max(l.rlim_max, n)};
  if (::setrlimit(RLIMIT_NOFILE, &want) != 0) {
    want = {l.rlim_max, l.rlim_max};
    ::setrlimit(RLIMIT_NOFILE, &want);
  }
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &l), 0);
  ASSERT_GE(l.rlim_cur, n) << "this test needs " << n << " open files (RLIMIT_NOFILE)";
}

// A TCP connection to 127.0.0.1:`port` from `source` (an address in 127.0.0.0/8; the
// kernel's choice when null), or -1. connect() and every send() wait at most 10 s.
inline int connect_to(int port, const char* source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (source != nullptr) {
    if (::inet_pton(AF_INET, source, &addr.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct Response {
  int status = 0;    // 0: no complete response before the deadline or the connection's end
  std::string head;  // the status line and fields; without a response, what was received
  std::map<std::string, std::string> fields;  // lower-case names; repeats joined by ", "
  std::string body;                           // decoded (chunked framing removed)

  std::string field(const std::string& lower_name) const {
    auto it = fields.find(lower_name);
    return it == fields.end() ? "" : it->second;
  }
  bool says_close() const {
    std::string v = field("connection");
    for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return v.find("close") != std::string::npos;
  }
};

// A raw HTTP/1.1 client connection to the edge: requests are written as given, responses
// are read with their framing (Content-Length, chunked, none, or until the server closes).
class Conn {
 public:
  explicit Conn(int port, const char* source = nullptr) : fd_(connect_to(port, source)) {}
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Writes all of `data`; false on a write error (e.g. the edge closed).
  bool send(std::string_view data) {
    while (fd_ >= 0 && !data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return fd_ >= 0;
  }
  // Reads the next response (an interim 1xx is one) to a request with `method`.
  Response read(std::string_view method, milliseconds timeout = kExchange) {
    auto deadline = Clock::now() + timeout;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(deadline)) return incomplete();
    Response r;
    r.head = buf_.substr(0, end + 2);
    if (r.head.rfind("HTTP/1.", 0) != 0 || r.head.size() < 12) return incomplete();
    r.status = std::atoi(r.head.c_str() + 9);
    for (std::size_t pos = r.head.find("\r\n") + 2; pos < r.head.size();) {
      std::size_t eol = r.head.find("\r\n", pos);
      std::string line = r.head.substr(pos, eol - pos);
      pos = eol + 2;
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::size_t vb = line.find_first_not_of(" \t", colon + 1);
      std::string value = vb == std::string::npos ? "" : line.substr(vb);
      std::string& slot = r.fields[name];
      slot += (slot.empty() ? "" : ", ") + value;
    }
    buf_.erase(0, end + 4);
    if (method == "HEAD" || r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (r.field("transfer-encoding").find("chunked") != std::string::npos) {
      if (!read_chunked(r.body, deadline)) return incomplete(r.head);
    } else if (!r.field("content-length").empty()) {
      std::size_t n = std::strtoull(r.field("content-length").c_str(), nullptr, 10);
      while (buf_.size() < n)
        if (!fill(deadline)) return incomplete(r.head);
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
    } else {
      while (fill(deadline)) {
      }
      if (!eof_) return incomplete(r.head);
      r.body.swap(buf_);
    }
    return r;
  }
  Response request(std::string_view data, std::string_view method = "GET") {
    if (!send(data)) return incomplete("(the request could not be sent)\r\n");
    return read(method);
  }
  // True when the edge ends the connection (EOF or reset) within `timeout`; bytes that
  // arrive first are kept in unread().
  bool wait_closed(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }
  // True when the connection is open and nothing arrived that was not read.
  bool quiet() {
    if (fd_ < 0 || eof_ || !buf_.empty()) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
  const std::string& unread() const { return buf_; }

 private:
  // Reads what arrives before `deadline`; false on timeout, EOF or error.
  bool fill(Clock::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;  // EOF or reset: the connection is over either way
      return false;
    }
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  bool read_chunked(std::string& body, Clock::time_point deadline) {
    for (;;) {
      std::size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos)
        if (!fill(deadline)) return false;
      if (eol == 0 || !std::isxdigit(static_cast<unsigned char>(buf_[0]))) return false;
      std::size_t size = std::strtoull(buf_.c_str(), nullptr, 16);
      buf_.erase(0, eol + 2);
      if (size == 0) break;
      while (buf_.size() < size + 2)
        if (!fill(deadline)) return false;
      if (buf_.compare(size, 2, "\r\n") != 0) return false;
      body.append(buf_, 0, size);
      buf_.erase(0, size + 2);
    }
    for (;;) {  // the trailer section, up to its empty line
      std::size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos)
        if (!fill(deadline)) return false;
      buf_.erase(0, eol + 2);
      if (eol == 0) return true;
    }
  }
  Response incomplete(const std::string& head = "") const {
    Response r;
    r.head = "no complete response; received: " + head + buf_ + (eof_ ? " (then EOF)" : "");
    return r;
  }

  int fd_;
  std::string buf_;
  bool eof_ = false;
};

// A GET of `target` for `host`; `fields` (each ending in CRLF) go after Host.
inline std::string get_request(const std::string& host, const std::string& target,
                               const std::string& fields = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + fields + "\r\n";
}

// One GET on a new connection from `source`.
inline Response fetch(int port, const std::string& host, const std::string& target,
                      const char* source = nullptr) {
  Conn c(port, source);
  return c.request(get_request(host, target));
}

inline std::string str(const nlohmann::json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string()
             ? object[key].get<std::string>()
             : "";
}

inline std::string hex(std::size_t n) {
  char out[32];
  std::snprintf(out, sizeof out, "%zx", n);
  return out;
}

// Slowloris clients of one host: each connection sends the start of a request head, then
// one more byte a second, never finishing it. A connection the edge ends is recorded and,
// until release(), replaced by a new one, so `n` stay open. Owns its sockets and thread.
class Slowloris {
 public:
  struct End {
    milliseconds after{0};  // from the connection's first byte
    std::string got;        // what the edge sent before it closed ("" when nothing)
  };

  Slowloris(int port, std::string host, int n) : port_(port), host_(std::move(host)) {
    for (int i = 0; i < n; ++i) open_one();
    held_ = static_cast<int>(victims_.size());
    thread_ = std::thread([this] { run(); });
  }
  ~Slowloris() {
    stop_ = true;
    thread_.join();
    for (const Victim& v : victims_) ::close(v.fd);
  }
  Slowloris(const Slowloris&) = delete;
  Slowloris& operator=(const Slowloris&) = delete;

  // Stops replacing the connections the edge ends.
  void release() { replace_ = false; }
  int held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }
  // Waits (up to `timeout`) until the edge ended every connection; the ends so far.
  std::vector<End> ends_once_all_ended(seconds timeout) {
    eventually([&] { return held() == 0; }, timeout);
    std::lock_guard<std::mutex> lock(mu_);
    return ends_;
  }

 private:
  struct Victim {
    int fd;
    Clock::time_point first_byte;
  };

  void open_one() {
    const std::string start = "GET /slow HTTP/1.1\r\nHost: " + host_ + "\r\nX-Slow: ";
    int fd = connect_to(port_, nullptr);
    auto first_byte = Clock::now();
    if (fd >= 0 && ::send(fd, start.data(), start.size(), MSG_NOSIGNAL) ==
                       static_cast<ssize_t>(start.size())) {
      victims_.push_back({fd, first_byte});
      return;
    }
    if (fd >= 0) ::close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    ends_.push_back({milliseconds(0), "(could not connect and send)"});
  }

  void run() {
    auto next_drip = Clock::now() + seconds(1);
    while (!stop_ && (replace_ || !victims_.empty())) {
      std::vector<pollfd> fds;
      for (const Victim& v : victims_) fds.push_back({v.fd, POLLIN, 0});
      auto wait = std::chrono::duration_cast<milliseconds>(next_drip - Clock::now()).count();
      ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait)));
      std::vector<Victim> open;
      int ended = 0;
      for (std::size_t i = 0; i < victims_.size(); ++i) {
        if (fds[i].revents == 0) {
          open.push_back(victims_[i]);
          continue;
        }
        char buf[512];
        ssize_t n = ::recv(victims_[i].fd, buf, sizeof buf, 0);
        ::close(victims_[i].fd);
        ++ended;
        std::lock_guard<std::mutex> lock(mu_);
        ends_.push_back(
            {std::chrono::duration_cast<milliseconds>(Clock::now() - victims_[i].first_byte),
             n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : ""});
      }
      victims_.swap(open);
      for (int i = 0; replace_ && i < ended; ++i) open_one();
      if (Clock::now() >= next_drip) {
        for (const Victim& v : victims_) ::send(v.fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        next_drip += seconds(1);
      }
      std::lock_guard<std::mutex> lock(mu_);
      held_ = static_cast<int>(victims_.size());
    }
  }

  const int port_;
  const std::string host_;
  std::vector<Victim> victims_;  // the thread's own once it runs
  std::atomic<bool> replace_{true};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  int held_ = 0;           // guarded by mu_
  std::vector<End> ends_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sandboxd::testing_support
