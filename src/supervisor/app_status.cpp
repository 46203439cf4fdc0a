#include "supervisor/app_status.h"

#include <nlohmann/json.hpp>

namespace sandboxd {

using nlohmann::json;

const char* phase_name(AppPhase phase) {
  switch (phase) {
    case AppPhase::kNone: return "none";
    case AppPhase::kStarting: return "starting";
    case AppPhase::kListening: return "listening";
    case AppPhase::kCrashed: return "crashed";
  }
  return "none";
}

std::string render_app_status(const AppStatus& s) {
  json last_exit = nullptr;
  if (s.exit_code) {
    last_exit = {{"code", *s.exit_code}};
  } else if (s.exit_signal) {
    last_exit = {{"signal", *s.exit_signal}};
  }
  json j = {{"state", phase_name(s.phase)},   {"port", s.port},
            {"restarts", s.restarts},         {"pid", s.pid},
            {"started_at", s.started_at},     {"last_exit", last_exit},
            {"last_exit_at", s.last_exit_at}, {"reason", s.reason},
            {"updated_at", s.updated_at}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// The whitespace-separated field `index` of `line` ("" when it has fewer).
std::string_view field(std::string_view line, int index) {
  for (int i = 0;; ++i) {
    std::size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    line.remove_prefix(b);
    std::size_t e = std::min(line.find_first_of(" \t"), line.size());
    if (i == index) return line.substr(0, e);
    line.remove_prefix(e);
  }
}

// "0BB8" -> 3000; -1 unless 1 to 4 hex digits.
int parse_hex_port(std::string_view hex) {
  if (hex.empty() || hex.size() > 4) return -1;
  int v = 0;
  for (char c : hex) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

bool port_listens(std::string_view text, int port) {
  // Each line after the header: "sl local_address rem_address st ...", the local address
  // as HEXADDR:HEXPORT.
  while (!text.empty()) {
    std::size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    std::string_view local = field(line, 1);
    std::size_t colon = local.rfind(':');
    if (colon == std::string_view::npos || field(line, 3) != "0A") continue;
    if (parse_hex_port(local.substr(colon + 1)) == port) return true;
  }
  return false;
}

std::map<std::string, std::string> parse_env_records(std::string_view text) {
  std::map<std::string, std::string> out;
  std::size_t end;
  while ((end = text.find('\0')) != std::string_view::npos) {
    std::string_view record = text.substr(0, end);
    text.remove_prefix(end + 1);
    std::size_t eq = record.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    out[std::string(record.substr(0, eq))] = std::string(record.substr(eq + 1));
  }
  return out;
}

}  // namespace sandboxd
