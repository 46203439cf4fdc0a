#include "sandboxd/config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace sandboxd {
namespace {

using Env = std::map<std::string, std::string>;

TEST(LoadConfig, DefaultsMatchTheSpec) {
  auto c = load_config({});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->api_host, "127.0.0.1");
  EXPECT_EQ(c->api_port, 9090);
  EXPECT_EQ(c->data_dir, "/var/lib/sandboxed");
  EXPECT_FALSE(c->auth_disabled);
  EXPECT_TRUE(c->api_allowed_origins.empty());
  EXPECT_TRUE(c->api_hostnames.empty());
  EXPECT_EQ(c->task_retention_days, 30);
  EXPECT_EQ(c->task_max_finished, 100);
  EXPECT_EQ(c->instance, "default");
  EXPECT_EQ(c->preview_domain, "localhost");
  EXPECT_EQ(c->db_path(), "/var/lib/sandboxed/state/sandboxd.db");
  // Tenant containment is on by default.
  EXPECT_EQ(c->default_limits.disk_bytes, 1LL << 30);
  EXPECT_EQ(c->default_limits.cpu_millis, 1000);
  EXPECT_GE(c->max_limits.cpu_millis, 1000);
  EXPECT_EQ(c->egress, Egress::kPublic);
  EXPECT_TRUE(c->egress_allow.empty());
  EXPECT_EQ(c->isolation, Isolation::kRunc);
  EXPECT_EQ(c->uid_base, 0x70000000);
  EXPECT_EQ(c->max_sandboxes, 1000);
  EXPECT_EQ(c->max_running, 100);
}

TEST(LoadConfig, NamesUnknownVariablesWithTheClosestKnownOne) {
  auto c = load_config({{"SANDBOXD_IDLE_TRESHOLD_SECONDS", "60"},
                        {"SANDBOXED_SOMETHING_ELSE_ENTIRELY", "x"},
                        {"SANDBOXD_URL", "http://127.0.0.1:9090"},
                        {"SANDBOXED_IMAGE_SOURCE", "offline"},
                        {"PATH", "/usr/bin"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->unknown_vars,
            (std::vector<std::string>{
                "SANDBOXD_IDLE_TRESHOLD_SECONDS (did you mean SANDBOXD_IDLE_THRESHOLD_SECONDS?)",
                "SANDBOXED_SOMETHING_ELSE_ENTIRELY"}));
}

TEST(LoadConfig, EveryVariableOfTheEnvExampleIsKnown) {
  std::ifstream in(SANDBOXD_SOURCE_DIR "/.env.example");
  ASSERT_TRUE(in);
  Env env;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#", 0) == 0) line = line.substr(line.find_first_not_of("# "));
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    if (key.rfind("SANDBOXD_", 0) == 0 || key.rfind("SANDBOXED_", 0) == 0) env[key] = "";
  }
  ASSERT_GT(env.size(), 40u);
  auto c = load_config(env);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->unknown_vars.empty()) << testing::PrintToString(c->unknown_vars);
}

TEST(LoadConfig, ReadsTheLogFormat) {
  EXPECT_EQ(load_config({})->log_format, LogFormat::kText);
  EXPECT_EQ(load_config({{"SANDBOXD_LOG_FORMAT", "json"}})->log_format, LogFormat::kJson);
  auto bad = load_config({{"SANDBOXD_LOG_FORMAT", "xml"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("SANDBOXD_LOG_FORMAT"), std::string::npos);
}

TEST(LoadConfig, ReadsTheContainmentKnobs) {
  auto c = load_config({{"SANDBOXD_DEFAULT_DISK", "2g"},
                        {"SANDBOXD_MAX_DISK", "10g"},
                        {"SANDBOXD_DEFAULT_CPUS", "0.5"},
                        {"SANDBOXD_MAX_CPUS", "1.5"},
                        {"SANDBOXD_EGRESS", "none"},
                        {"SANDBOXD_EGRESS_ALLOW", "10.0.0.5:443, 192.168.1.0/24"},
                        {"SANDBOXD_RUNTIME", "gvisor"},
                        {"SANDBOXD_UID_BASE", "200000"},
                        {"SANDBOXD_MAX_SANDBOXES", "50"},
                        {"SANDBOXD_MAX_RUNNING", "10"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->default_limits.disk_bytes, 2LL << 30);
  EXPECT_EQ(c->max_limits.disk_bytes, 10LL << 30);
  EXPECT_EQ(c->default_limits.cpu_millis, 500);
  EXPECT_EQ(c->max_limits.cpu_millis, 1500);
  EXPECT_EQ(c->egress, Egress::kNone);
  ASSERT_EQ(c->egress_allow.size(), 2u);
  EXPECT_EQ(c->egress_allow[0].cidr, "10.0.0.5/32");
  EXPECT_EQ(c->egress_allow[0].port, 443);
  EXPECT_EQ(c->isolation, Isolation::kGvisor);
  EXPECT_EQ(c->uid_base, 200000);
  EXPECT_EQ(c->max_sandboxes, 50);
  EXPECT_EQ(c->max_running, 10);
}

TEST(LoadConfig, ThePreviewEdgeListensOnLoopbackByDefaultAndIsConfigurable) {
  auto d = load_config({});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->wake_host, "127.0.0.1");
  EXPECT_EQ(d->wake_port, 9091);
  EXPECT_EQ(d->wake_timeout_s, 60);
  EXPECT_TRUE(d->docker_events);
  auto c = load_config({{"SANDBOXD_WAKE_BIND", "0.0.0.0:80"},
                        {"SANDBOXD_WAKE_TIMEOUT_SECONDS", "30"},
                        {"SANDBOXD_DOCKER_EVENTS", "false"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->wake_host, "0.0.0.0");
  EXPECT_EQ(c->wake_port, 80);
  EXPECT_EQ(c->wake_timeout_s, 30);
  EXPECT_FALSE(c->docker_events);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"SANDBOXD_WAKE_BIND", "nowhere"},
           {"SANDBOXD_WAKE_BIND", "127.0.0.1:9090"},  // the API's address
           {"SANDBOXD_WAKE_TIMEOUT_SECONDS", "0"}}) {
    auto bad = load_config({{key, value}});
    ASSERT_FALSE(bad) << key << "=" << value;
    EXPECT_NE(bad.error().message().find(key), std::string::npos) << bad.error().message();
  }
}

TEST(LoadConfig, ReadsTheEdgeTimeoutsCapsAndTrustedProxies) {
  auto d = load_config({});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->edge_threads, 0);
  EXPECT_EQ(d->wake_max_connections, 16384);
  EXPECT_EQ(d->edge_max_connections_per_client, 256);
  EXPECT_EQ(d->edge_max_requests_per_sandbox, 512);
  EXPECT_EQ(d->edge_header_timeout_s, 15);
  EXPECT_EQ(d->edge_idle_timeout_s, 60);
  EXPECT_EQ(d->edge_upstream_timeout_s, 60);
  EXPECT_EQ(d->edge_trusted_proxies, "");
  auto c = load_config({{"SANDBOXD_EDGE_THREADS", "3"},
                        {"SANDBOXD_EDGE_MAX_CONNECTIONS_PER_CLIENT", "20"},
                        {"SANDBOXD_EDGE_MAX_REQUESTS_PER_SANDBOX", "10"},
                        {"SANDBOXD_EDGE_HEADER_TIMEOUT_SECONDS", "5"},
                        {"SANDBOXD_EDGE_IDLE_TIMEOUT_SECONDS", "7"},
                        {"SANDBOXD_EDGE_UPSTREAM_TIMEOUT_SECONDS", "9"},
                        {"SANDBOXD_EDGE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->edge_threads, 3);
  EXPECT_EQ(c->edge_max_connections_per_client, 20);
  EXPECT_EQ(c->edge_max_requests_per_sandbox, 10);
  EXPECT_EQ(c->edge_header_timeout_s, 5);
  EXPECT_EQ(c->edge_idle_timeout_s, 7);
  EXPECT_EQ(c->edge_upstream_timeout_s, 9);
  EXPECT_EQ(c->edge_trusted_proxies, "127.0.0.1, 10.0.0.0/8,::1");
}

TEST(LoadConfig, ReadsEveryLimitAndBind) {
  auto c = load_config({{"SANDBOXED_API_BIND", "127.0.0.2:7000"},
                        {"SANDBOXED_DATA_DIR", "/srv/sbx/"},
                        {"SANDBOXD_DEFAULT_MEMORY", "512m"},
                        {"SANDBOXD_MAX_MEMORY", "1g"},
                        {"SANDBOXD_DEFAULT_PIDS", "100"},
                        {"SANDBOXD_DEFAULT_NOFILE", "2048"},
                        {"SANDBOXD_INSTANCE", "test-1"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->api_host, "127.0.0.2");
  EXPECT_EQ(c->api_port, 7000);
  EXPECT_EQ(c->data_dir, "/srv/sbx");
  EXPECT_EQ(c->default_limits.memory_bytes, 512LL << 20);
  EXPECT_EQ(c->max_limits.memory_bytes, 1LL << 30);
  EXPECT_EQ(c->default_limits.pids, 100);
  EXPECT_EQ(c->default_limits.nofile, 2048);
  EXPECT_EQ(c->instance, "test-1");
}

TEST(LoadConfig, BadValuesAreErrorsNamingTheVariable) {
  const std::vector<Env> cases = {
      {{"SANDBOXED_API_BIND", "nonsense"}},
      {{"SANDBOXED_API_BIND", "127.0.0.1:99999"}},
      {{"SANDBOXD_API_AUTH_DISABLED", "maybe"}},
      {{"SANDBOXD_DEFAULT_PIDS", "12abc"}},
      {{"SANDBOXD_DEFAULT_MEMORY", "lots"}},
      {{"SANDBOXD_INSTANCE", "Bad_Name"}},
      {{"SANDBOXD_NETWORK", "bad name"}},
      {{"SANDBOXED_DATA_DIR", "relative/path"}},
      {{"SANDBOXD_LOG_LEVEL", "loud"}},
      {{"SANDBOXD_DEFAULT_MEMORY", "16g"}, {"SANDBOXD_MAX_MEMORY", "8g"}},
      {{"SANDBOXED_DATA_DIR", "/srv/a:b"}},
      {{"SANDBOXD_MEM_REFUSE_PCT", "20"}, {"SANDBOXD_MEM_HEADROOM_PCT", "15"}},
      {{"SANDBOXD_MAX_CONCURRENT_EXECS", "30"}, {"SANDBOXD_HTTP_THREADS", "32"}},
      {{"SANDBOXD_DEFAULT_DISK", "1m"}},
      {{"SANDBOXD_DEFAULT_DISK", "20g"}, {"SANDBOXD_MAX_DISK", "10g"}},
      {{"SANDBOXD_DEFAULT_CPUS", "1.2345"}},
      {{"SANDBOXD_DEFAULT_CPUS", "4"}, {"SANDBOXD_MAX_CPUS", "2"}},
      {{"SANDBOXD_MAX_CPUS", "0"}},
      {{"SANDBOXD_EGRESS", "lan"}},
      {{"SANDBOXD_EGRESS_ALLOW", "metadata.internal:80"}},
      {{"SANDBOXD_RUNTIME", "kata"}},
      {{"SANDBOXD_UID_BASE", "1000"}},
      {{"SANDBOXD_MAX_RUNNING", "20"}, {"SANDBOXD_MAX_SANDBOXES", "10"}},
      {{"SANDBOXD_EDGE_THREADS", "-1"}},
      {{"SANDBOXD_EDGE_MAX_CONNECTIONS_PER_CLIENT", "0"}},
      {{"SANDBOXD_EDGE_MAX_REQUESTS_PER_SANDBOX", "many"}},
      {{"SANDBOXD_EDGE_HEADER_TIMEOUT_SECONDS", "0"}},
      {{"SANDBOXD_EDGE_IDLE_TIMEOUT_SECONDS", "0"}},
      {{"SANDBOXD_EDGE_UPSTREAM_TIMEOUT_SECONDS", "0"}},
      {{"SANDBOXD_EDGE_TRUSTED_PROXIES", "10.0.0.0/33"}},
      {{"SANDBOXD_EDGE_TRUSTED_PROXIES", "traefik.internal"}},
  };
  for (const auto& env : cases) {
    auto c = load_config(env);
    ASSERT_FALSE(c) << env.begin()->first;
    EXPECT_EQ(c.error().code(), Code::kInvalidArgument);
    EXPECT_NE(c.error().message().find(env.begin()->first), std::string::npos)
        << c.error().message();
  }
}

TEST(LoadConfig, ExecCapIs32OrLessToLeaveConnectionThreadsFree) {
  EXPECT_EQ(load_config({})->max_concurrent_execs, 32);
  EXPECT_EQ(load_config({{"SANDBOXD_HTTP_THREADS", "16"}})->max_concurrent_execs, 12);
  EXPECT_EQ(load_config({{"SANDBOXD_MAX_CONCURRENT_EXECS", "5"}})->max_concurrent_execs, 5);
}

TEST(LoadConfig, ParsesTokensWithColonOrEquals) {
  auto c = load_config({{"SANDBOXD_API_AUTH_DISABLED", "false"},
                        {"SANDBOXD_API_TOKENS", "ci:0123456789abcdef:x, ops=fedcba9876543210"}});
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->tokens.size(), 2u);
  EXPECT_EQ(c->tokens[0].name, "ci");
  EXPECT_EQ(c->tokens[0].secret, "0123456789abcdef:x");
  EXPECT_EQ(c->tokens[1].name, "ops");
}

TEST(LoadConfig, ServingNeedsATokenUnlessAuthIsExplicitlyDisabled) {
  auto by_default = load_config({});
  ASSERT_TRUE(by_default);
  Status refused = check_serve_auth(*by_default);
  EXPECT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("SANDBOXD_API_TOKENS"), std::string::npos);
  EXPECT_FALSE(check_serve_auth(*load_config({{"SANDBOXD_API_AUTH_DISABLED", "false"}})).is_ok());
  EXPECT_TRUE(check_serve_auth(*load_config({{"SANDBOXD_API_AUTH_DISABLED", "true"}})).is_ok());
  EXPECT_TRUE(
      check_serve_auth(*load_config({{"SANDBOXD_API_TOKENS", "a:0123456789abcdef"}})).is_ok());
  auto short_secret = load_config({{"SANDBOXD_API_TOKENS", "a:short"}});
  ASSERT_FALSE(short_secret);
  EXPECT_NE(short_secret.error().message().find("SANDBOXD_API_TOKENS"), std::string::npos);
  // The secret is never echoed in the error.
  EXPECT_EQ(short_secret.error().message().find("short\""), std::string::npos);
}

TEST(LoadConfig, AuthMayBeDisabledOnlyOnALoopbackBind) {
  auto refused =
      load_config({{"SANDBOXED_API_BIND", "0.0.0.0:9090"}, {"SANDBOXD_API_AUTH_DISABLED", "true"}});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("SANDBOXD_API_AUTH_DISABLED"), std::string::npos);
  // The old escape hatch is an error, not silently ignored.
  auto hatch = load_config({{"SANDBOXED_API_BIND", "0.0.0.0:9090"},
                            {"SANDBOXD_API_AUTH_DISABLED", "true"},
                            {"SANDBOXD_ALLOW_PUBLIC_UNAUTHENTICATED", "true"}});
  ASSERT_FALSE(hatch);
  EXPECT_TRUE(load_config(
      {{"SANDBOXED_API_BIND", "127.0.0.1:9090"}, {"SANDBOXD_API_AUTH_DISABLED", "true"}}));
  EXPECT_TRUE(load_config(
      {{"SANDBOXED_API_BIND", "0.0.0.0:9090"}, {"SANDBOXD_API_TOKENS", "a:0123456789abcdef"}}));
}

TEST(LoadConfig, ReadsAllowedOriginsAndApiHostNames) {
  auto c = load_config(
      {{"SANDBOXD_API_ALLOWED_ORIGINS", " https://App.Example.com, http://localhost:5173 "},
       {"SANDBOXD_API_HOSTNAMES", "sandboxd.internal,API.example.com"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->api_allowed_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:5173"}));
  EXPECT_EQ(c->api_hostnames, (std::vector<std::string>{"sandboxd.internal", "api.example.com"}));
  auto ports = load_config({{"SANDBOXD_API_ALLOWED_ORIGINS",
                             "https://a.example:443,http://b.example:80,http://[::1]:3000"}});
  ASSERT_TRUE(ports) << ports.error().message();
  EXPECT_EQ(
      ports->api_allowed_origins,
      (std::vector<std::string>{"https://a.example", "http://b.example", "http://[::1]:3000"}));
  for (const char* bad :
       {"app.example.com", "https://app.example.com/", "ftp://x", "https://",
        "https://a.com:99999x", "*", "http://[::1", "http://[x]:80", "http://[::1]x"}) {
    auto r = load_config({{"SANDBOXD_API_ALLOWED_ORIGINS", bad}});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("SANDBOXD_API_ALLOWED_ORIGINS"), std::string::npos);
  }
  EXPECT_FALSE(load_config({{"SANDBOXD_API_HOSTNAMES", "evil.test/x"}}));
}

TEST(ParseSize, AcceptsSuffixesAndRejectsGarbage) {
  EXPECT_EQ(*parse_size("1048576"), 1048576);
  EXPECT_EQ(*parse_size("64k"), 64 << 10);
  EXPECT_EQ(*parse_size("512M"), 512LL << 20);
  EXPECT_EQ(*parse_size("2gb"), 2LL << 30);
  for (const char* bad : {"", "g", "1.5g", "-1", "12x", "99999999999999999999"})
    EXPECT_FALSE(parse_size(bad)) << bad;
}

TEST(ReadEnvFile, ParsesCommentsQuotesAndExport) {
  std::string path = testing::TempDir() + "/sandboxd-env-test";
  {
    std::ofstream f(path);
    f << "# comment\n\nexport A=1\nB=\"two words\"\nC='x # y'\nD=plain # trailing\n"
      << "E=\"quoted\" # note\n";
  }
  auto env = read_env_file(path);
  ASSERT_TRUE(env) << env.error().message();
  EXPECT_EQ((*env)["A"], "1");
  EXPECT_EQ((*env)["B"], "two words");
  EXPECT_EQ((*env)["C"], "x # y");
  EXPECT_EQ((*env)["D"], "plain");
  EXPECT_EQ((*env)["E"], "quoted");
  {
    std::ofstream f(path);
    f << "NOEQUALS\n";
  }
  EXPECT_FALSE(read_env_file(path));
  {
    std::ofstream f(path);
    f << "A=\"unterminated\n";
  }
  EXPECT_FALSE(read_env_file(path));
  std::remove(path.c_str());
  EXPECT_TRUE(read_env_file(path)->empty());  // a missing file is empty
}

}  // namespace
}  // namespace sandboxd
