#include "sandboxd/preview/http_head.h"

#include <cctype>
#include <charconv>

#include "sandboxd/base/text.h"

namespace sandboxd {

std::optional<PreviewHost> parse_preview_host(std::string_view host, std::string_view domain) {
  std::string h = to_lower(host);
  if (auto colon = h.rfind(':'); colon != std::string::npos) {
    std::string_view p = std::string_view(h).substr(colon + 1);
    if (p.empty() || p.find_first_not_of("0123456789") != std::string_view::npos) return {};
    h.resize(colon);
  }
  if (!h.empty() && h.back() == '.') h.pop_back();  // fully qualified form
  std::string suffix = ".preview." + to_lower(domain);
  if (domain.empty() || h.size() <= suffix.size() ||
      h.compare(h.size() - suffix.size(), suffix.size(), suffix) != 0)
    return {};
  std::string_view label = std::string_view(h).substr(0, h.size() - suffix.size());
  if (label.substr(0, 2) != "s-") return {};
  label.remove_prefix(2);
  auto dash = label.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 32) return {};
  std::string_view id = label.substr(0, dash);
  std::string_view port = label.substr(dash + 1);
  for (char c : id)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'z'))) return {};
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos ||
      port[0] == '0')
    return {};
  PreviewHost out;
  out.id = std::string(id);
  std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (out.port < 1 || out.port > 65535) return {};
  return out;
}

bool accepts_html(const http1::RequestHead& head) {
  auto accept = head.get("accept");
  if (!accept) return false;
  constexpr std::string_view kHtml = "text/html";
  for (std::size_t i = 0; i + kHtml.size() <= accept->size(); ++i)
    if (http1::iequals(accept->substr(i, kHtml.size()), kHtml)) return true;
  return false;
}

bool is_browser_navigation(const http1::RequestHead& head) {
  if (head.method() != "GET" && head.method() != "HEAD") return false;
  return !head.upgrade && accepts_html(head);
}

}  // namespace sandboxd
