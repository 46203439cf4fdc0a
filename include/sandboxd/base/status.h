// Status and Result<T>: the error currency of sandboxd. No exception crosses a public
// header of ours; functions that can fail return one of these. Value types, not
// thread-safe to mutate concurrently.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sandboxd {

enum class Code {
  kOk,
  kInvalidArgument,       // bad input from a caller -> 400
  kNotFound,              // -> 404
  kConflict,              // state does not allow the operation -> 409
  kTooLarge,              // body or content over a limit -> 413
  kUnauthorized,          // -> 401
  kForbidden,             // refused whoever asks (foreign Origin or Host) -> 403
  kUnsupportedMediaType,  // a body of a type the route does not take -> 415
  kUnavailable,           // a dependency (dockerd, disk) is down or at capacity -> 503
  kCapacity,              // an operator's cap (SANDBOXD_MAX_SANDBOXES/_RUNNING) is reached -> 429
  kTimeout,               // -> 504
  kInternal,              // -> 500
};

// Stable lower-case name of a code, used as the `code` of JSON error bodies.
const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Same code, message prefixed with "<context>: ".
  Status with_context(const std::string& context) const {
    return {code_, context + ": " + message_};
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // The error; only valid when !has_value().
  const Status& error() const { return std::get<Status>(v_); }
  // The error, or ok when there is a value (for callers that only need the outcome).
  Status error_or_ok() const { return has_value() ? Status() : error(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sandboxd
