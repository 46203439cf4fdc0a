#include "sandboxd/api/request_guard.h"

#include <arpa/inet.h>

#include <algorithm>

#include "sandboxd/base/text.h"

namespace sandboxd {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool host_allowed(const std::string& host_header, const std::vector<std::string>& names) {
  std::string host = to_lower(trim(host_header));
  if (host.empty()) return false;
  unsigned char addr[16];
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return false;
    std::string rest = host.substr(close + 1);
    if (!rest.empty() &&
        (rest[0] != ':' || rest.find_first_not_of("0123456789", 1) != std::string::npos))
      return false;
    return ::inet_pton(AF_INET6, host.substr(1, close - 1).c_str(), addr) == 1;
  }
  if (auto colon = host.find(':'); colon != std::string::npos) {
    if (host.find_first_not_of("0123456789", colon + 1) != std::string::npos) return false;
    host.resize(colon);
  }
  if (host.empty()) return false;
  return ::inet_pton(AF_INET, host.c_str(), addr) == 1 || host == "localhost" ||
         contains(names, host);
}

bool origin_allowed(const std::string& origin, const std::vector<std::string>& allowed) {
  std::string o = to_lower(trim(origin));
  return !o.empty() && o != "null" && contains(allowed, o);
}

bool same_origin(const std::string& origin, const std::string& host_header) {
  std::string o = to_lower(trim(origin)), h = to_lower(trim(host_header));
  return !h.empty() && (o == "http://" + h || o == "https://" + h);
}

bool cross_site_fetch(const std::string& sec_fetch_site) {
  std::string v = to_lower(trim(sec_fetch_site));
  return v == "cross-site" || v == "same-site";
}

bool media_type_is(const std::string& content_type, const std::string& type) {
  return to_lower(trim(content_type.substr(0, content_type.find(';')))) == type;
}

}  // namespace sandboxd
