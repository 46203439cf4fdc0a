// The API's browser defences as tables: Host (DNS rebinding), Origin, Sec-Fetch-Site and
// media types.
#include "sandboxd/api/request_guard.h"

#include <gtest/gtest.h>

namespace sandboxd {
namespace {

TEST(RequestGuard, HostMustBeAnIpLiteralLocalhostOrAListedName) {
  const std::vector<std::string> names = {"api.example.com"};
  struct Case {
    const char* host;
    bool allowed;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"127.0.0.1", true},
           {"127.0.0.1:9090", true},
           {"10.1.2.3:9090", true},
           {"[::1]:9090", true},
           {"[::1]", true},
           {"localhost:9090", true},
           {"LOCALHOST", true},
           {"api.example.com:9090", true},
           {"API.Example.COM", true},
           {"", false},
           {"evil.test:9090", false},
           {"rebind.evil.test", false},
           {"s-web1-3000.preview.localhost:9090", false},
           {"example.com", false},
           {"127.0.0.1.evil.test", false},
           {"0x7f.1", false},
           {"127.1", false},
           {"[::1]x", false},
           {"[evil]:80", false},
           {"localhost:90x", false},
           {":9090", false},
       }) {
    EXPECT_EQ(host_allowed(c.host, names), c.allowed) << c.host;
  }
}

TEST(RequestGuard, OnlyListedOriginsAreAllowed) {
  const std::vector<std::string> allowed = {"https://app.example.com", "http://localhost:5173"};
  EXPECT_TRUE(origin_allowed("https://app.example.com", allowed));
  EXPECT_TRUE(origin_allowed("HTTPS://APP.EXAMPLE.COM", allowed));
  EXPECT_TRUE(origin_allowed("http://localhost:5173", allowed));
  EXPECT_FALSE(origin_allowed("http://app.example.com", allowed));
  EXPECT_FALSE(origin_allowed("https://app.example.com:8443", allowed));
  EXPECT_FALSE(origin_allowed("https://app.example.com.evil.test", allowed));
  EXPECT_FALSE(origin_allowed("null", allowed));
  EXPECT_FALSE(origin_allowed("", allowed));
  EXPECT_FALSE(origin_allowed("http://s-web1-3000.preview.localhost", {}));
}

TEST(RequestGuard, SameOriginIsExactlyTheHostOverHttpOrHttps) {
  struct Case {
    const char* origin;
    const char* host;
    bool same;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"http://127.0.0.1:9090", "127.0.0.1:9090", true},
           {"https://api.example.com", "api.example.com", true},
           {"HTTP://LOCALHOST:9090", "localhost:9090", true},
           {"http://127.0.0.1:9091", "127.0.0.1:9090", false},  // another port
           {"http://127.0.0.1", "127.0.0.1:9090", false},
           {"http://evil.test", "127.0.0.1:9090", false},
           {"ws://127.0.0.1:9090", "127.0.0.1:9090", false},
           {"http://127.0.0.1:9090/", "127.0.0.1:9090", false},
           {"null", "127.0.0.1:9090", false},
           {"http://", "", false},
       }) {
    EXPECT_EQ(same_origin(c.origin, c.host), c.same) << c.origin << " on " << c.host;
  }
}

TEST(RequestGuard, CrossSiteFetchesAreRecognised) {
  EXPECT_TRUE(cross_site_fetch("cross-site"));
  EXPECT_TRUE(cross_site_fetch("Same-Site"));
  EXPECT_FALSE(cross_site_fetch("same-origin"));
  EXPECT_FALSE(cross_site_fetch("none"));
  EXPECT_FALSE(cross_site_fetch(""));
}

TEST(RequestGuard, MediaTypesIgnoreCaseAndParameters) {
  EXPECT_TRUE(media_type_is("application/json", "application/json"));
  EXPECT_TRUE(media_type_is("Application/JSON; charset=utf-8", "application/json"));
  EXPECT_TRUE(media_type_is(" application/json ;charset=UTF-8", "application/json"));
  EXPECT_FALSE(media_type_is("text/plain", "application/json"));
  EXPECT_FALSE(media_type_is("application/x-www-form-urlencoded", "application/json"));
  EXPECT_FALSE(media_type_is("multipart/form-data; boundary=x", "application/json"));
  EXPECT_FALSE(media_type_is("application/jsonx", "application/json"));
  EXPECT_FALSE(media_type_is("text/plain; type=application/json", "application/json"));
  EXPECT_FALSE(media_type_is("", "application/json"));
}

}  // namespace
}  // namespace sandboxd
