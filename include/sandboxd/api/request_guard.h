// Browser defences of the REST API, as pure functions of request headers, so that no web
// page can drive the API whatever the auth setting: a foreign Host (DNS rebinding), a
// foreign Origin (cross-site fetch) and a body that is not the route's media type (a
// "simple" no-cors request) are each refused before any work. Thread-safe.
#pragma once

#include <string>
#include <vector>

namespace sandboxd {

// True when the Host header value (optionally with ":port") names an IP literal (IPv4
// dotted quad, or IPv6 in brackets), `localhost`, or one of `names` (lower case), compared
// case-insensitively. An empty value is refused.
bool host_allowed(const std::string& host_header, const std::vector<std::string>& names);

// True when `origin` is exactly one of `allowed` (lower case), compared case-insensitively.
// "null" (sandboxed frames, files) is never allowed.
bool origin_allowed(const std::string& origin, const std::vector<std::string>& allowed);

// True when `origin` is this API's own origin: http:// or https:// and exactly the Host
// header (which must already have passed host_allowed, so a rebinding name never does),
// compared case-insensitively. The web console's own requests (/console) are these.
bool same_origin(const std::string& origin, const std::string& host_header);

// True when a Sec-Fetch-Site value says a browser sent the request on behalf of another
// site (cross-site or same-site). Absent, `same-origin` and `none` (typed by the user)
// are not.
bool cross_site_fetch(const std::string& sec_fetch_site);

// True when a Content-Type value has the media type `type` (lower case), compared
// case-insensitively, with or without parameters such as charset.
bool media_type_is(const std::string& content_type, const std::string& type);

}  // namespace sandboxd
