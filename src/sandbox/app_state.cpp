#include "sandboxd/sandbox/app_state.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

namespace sandboxd {
namespace {

using nlohmann::json;

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

Status invalid(const std::string& msg) {
  return Status(Code::kInvalidArgument, "app state: " + msg);
}

// Reads obj[key] into `*out` when present: an integer in [lo, hi] (lo >= 0).
Status read_int(const json& obj, const char* key, int64_t lo, int64_t hi, int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::ok();
  if (!it->is_number_unsigned() || it->get<uint64_t>() > static_cast<uint64_t>(hi) ||
      it->get<int64_t>() < lo) {
    return invalid(std::string("\"") + key + "\" must be an integer in " + std::to_string(lo) +
                   ".." + std::to_string(hi));
  }
  *out = it->get<int64_t>();
  return Status::ok();
}

// `s` cut to at most `max` bytes, never inside a UTF-8 sequence.
std::string clamp_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

Status read_last_exit(const json& obj, AppState* st) {
  auto it = obj.find("last_exit");
  if (it == obj.end() || it->is_null()) return Status::ok();
  const char* shape = "\"last_exit\" must be null, {\"code\":0..255} or {\"signal\":1..127}";
  int64_t v = -1;
  if (!it->is_object() || it->size() != 1) return invalid(shape);
  if (it->contains("code")) {
    if (!read_int(*it, "code", 0, 255, &v).is_ok()) return invalid(shape);
    st->exit_code = static_cast<int>(v);
  } else if (it->contains("signal")) {
    if (!read_int(*it, "signal", 1, 127, &v).is_ok()) return invalid(shape);
    st->exit_signal = static_cast<int>(v);
  } else {
    return invalid(shape);
  }
  return Status::ok();
}

}  // namespace

Result<AppState> parse_app_state(std::string_view text) {
  if (text.size() > kAppStateMaxBytes)
    return invalid("over " + std::to_string(kAppStateMaxBytes) + " bytes");
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return invalid("not a JSON object");

  AppState st;
  auto state = j.find("state");
  if (state == j.end() || !state->is_string()) return invalid("\"state\" must be a string");
  st.state = state->get<std::string>();
  if (st.state != "none" && st.state != "starting" && st.state != "listening" &&
      st.state != "crashed") {
    return invalid("unknown \"state\"");
  }
  int64_t port = 0;
  if (auto s = read_int(j, "port", 0, 65535, &port); !s.is_ok()) return s;
  st.port = static_cast<int>(port);
  if (auto s = read_int(j, "restarts", 0, kMaxInt64, &st.restarts); !s.is_ok()) return s;
  if (auto s = read_int(j, "started_at", 0, kMaxInt64, &st.started_at); !s.is_ok()) return s;
  if (auto s = read_int(j, "last_exit_at", 0, kMaxInt64, &st.last_exit_at); !s.is_ok()) return s;
  if (auto s = read_int(j, "updated_at", 0, kMaxInt64, &st.updated_at); !s.is_ok()) return s;
  if (auto s = read_last_exit(j, &st); !s.is_ok()) return s;
  if (auto reason = j.find("reason"); reason != j.end()) {
    if (!reason->is_string()) return invalid("\"reason\" must be a string");
    st.reason = clamp_utf8(reason->get<std::string>(), kAppStateMaxReason);
  }
  return st;
}

}  // namespace sandboxd
