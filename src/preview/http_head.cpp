#include "sandboxd/preview/http_head.h"

#include <cctype>
#include <charconv>

#include "sandboxd/base/text.h"

namespace sandboxd {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool contains_token(std::string_view list, std::string_view token) {
  std::string l = to_lower(list);
  return l.find(token) != std::string::npos;
}

}  // namespace

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

const std::string* RequestHead::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return &v;
  return nullptr;
}

HeadParse parse_request_head(std::string_view buf, RequestHead& out, std::size_t& head_len) {
  auto end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    // A bare LF (not after CR) or a NUL can never become a head we accept: fail now
    // rather than at the head deadline.
    for (std::size_t i = 0; i < buf.size(); ++i) {
      if (buf[i] == '\0' || (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')))
        return HeadParse::kBad;
    }
    return HeadParse::kIncomplete;
  }
  head_len = end + 4;
  std::string_view head = buf.substr(0, end);
  auto line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  auto sp1 = request_line.find(' ');
  auto sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return HeadParse::kBad;
  out = RequestHead{};
  out.method = std::string(request_line.substr(0, sp1));
  out.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  out.version = std::string(request_line.substr(sp2 + 1));
  if (out.method.empty() || out.target.empty()) return HeadParse::kBad;
  for (char c : out.method)
    if (!is_tchar(c)) return HeadParse::kBad;
  for (char c : out.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return HeadParse::kBad;
  if (out.version != "HTTP/1.1" && out.version != "HTTP/1.0") return HeadParse::kBad;
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    auto eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return HeadParse::kBad;
    std::string_view name = line.substr(0, colon);
    for (char c : name)
      if (!is_tchar(c)) return HeadParse::kBad;
    std::string_view value = trim_ows(line.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return HeadParse::kBad;
    out.headers.emplace_back(std::string(name), std::string(value));
  }
  return HeadParse::kOk;
}

bool is_upgrade(const RequestHead& head) {
  const std::string* connection = head.header("connection");
  return head.header("upgrade") && connection && contains_token(*connection, "upgrade");
}

std::string head_for_backend(const RequestHead& head) {
  const bool upgrade = is_upgrade(head);
  std::string out = head.method + " " + head.target + " " + head.version + "\r\n";
  for (const auto& [name, value] : head.headers) {
    if (!upgrade && (iequals(name, "connection") || iequals(name, "keep-alive") ||
                     iequals(name, "proxy-connection")))
      continue;
    out += name + ": " + value + "\r\n";
  }
  if (!upgrade) out += "Connection: close\r\n";
  return out + "\r\n";
}

std::optional<std::size_t> request_body_length(const RequestHead& head) {
  if (is_upgrade(head) || head.header("transfer-encoding")) return std::nullopt;
  const std::string* length = nullptr;
  for (const auto& [name, value] : head.headers) {
    if (!iequals(name, "content-length")) continue;
    if (length && *length != value) return std::nullopt;  // conflicting lengths
    length = &value;
  }
  if (!length) return 0;
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), n);
  if (ec != std::errc() || end != length->data() + length->size()) return std::nullopt;
  return n;
}

bool accepts_html(const RequestHead& head) {
  const std::string* accept = head.header("accept");
  return accept && contains_token(*accept, "text/html");
}

bool is_browser_navigation(const RequestHead& head) {
  if (head.method != "GET" && head.method != "HEAD") return false;
  return !head.header("upgrade") && accepts_html(head);
}

}  // namespace sandboxd
