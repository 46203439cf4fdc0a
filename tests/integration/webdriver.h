// A minimal W3C WebDriver client for browser tests: starts `chromedriver` (Debian's
// chromium-driver, the same version as chromium) on a free loopback port and opens one
// headless Chromium session. Element commands take a CSS selector and act on its first
// match. Every command waits at most 60 s for chromedriver; a failed one records error()
// and returns false/""/null. The destructor ends the session and chromedriver.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "integration/daemon.h"

namespace sandboxd::testing_support {

class WebDriver {
 public:
  // The Enter key, for send_keys() and type().
  static constexpr const char* kEnter = "\xEE\x80\x87";  // U+E007

  // chromedriver's own output goes to `log_path`.
  explicit WebDriver(const std::string& log_path = "/dev/null") {
    port_ = free_port();
    std::string port_arg = "--port=" + std::to_string(port_);
    std::vector<char*> argv = {const_cast<char*>("chromedriver"), port_arg.data(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = ::posix_spawnp(&pid_, "chromedriver", &fa, nullptr, argv.data(), ::environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      error_ = "cannot run chromedriver (tests/run.sh installs chromium-driver)";
      return;
    }
    http_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    http_->set_read_timeout(60, 0);
    bool up = eventually(
        [&] {
          auto r = http_->Get("/status");
          return r && r->status == 200;
        },
        std::chrono::seconds(20));
    if (!up) {
      error_ = "chromedriver did not answer on port " + std::to_string(port_);
      return;
    }
    nlohmann::json options = {
        {"binary", "/usr/bin/chromium"},
        {"args",
         {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync"}}};
    nlohmann::json caps = {{"capabilities",
                            {{"alwaysMatch",
                              {{"browserName", "chrome"},
                               {"unhandledPromptBehavior", "accept"},
                               {"goog:loggingPrefs", {{"browser", "ALL"}}},
                               {"goog:chromeOptions", options}}}}}};
    auto session = request("POST", "/session", caps);
    if (session && session->contains("sessionId")) session_ = (*session)["sessionId"];
  }

  ~WebDriver() {
    if (!session_.empty()) request("DELETE", "/session/" + session_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  // True once the browser session is open.
  bool ok() const { return !session_.empty(); }
  // Why the last command (or the start) failed.
  const std::string& error() const { return error_; }

  // Loads `url` and waits for its document to finish loading.
  bool navigate(const std::string& url) { return command("POST", "/url", {{"url", url}}); }

  // The WebDriver id of the first element matching `css`, or "" when none does.
  std::string find(const std::string& css) {
    auto v = request("POST", path("/element"), {{"using", "css selector"}, {"value", css}});
    if (!v || !v->is_object() || v->empty()) return "";
    return v->begin()->get<std::string>();  // {"element-6066-11e4-a52e-4f735466cecf": id}
  }

  // Clicks (in its centre, scrolled into view) the first element matching `css`.
  bool click(const std::string& css) { return element_command(css, "/click", {}); }
  // Focuses the first element matching `css` and types `text` into it.
  bool send_keys(const std::string& css, const std::string& text) {
    return element_command(css, "/value", {{"text", text}});
  }
  // Types `text` into whatever has the focus (key down and up per character), as for a
  // terminal's hidden textarea, which element commands may call not interactable.
  bool type(const std::string& text) {
    nlohmann::json keys = nlohmann::json::array();
    for (const std::string& ch : utf8_chars(text)) {
      keys.push_back({{"type", "keyDown"}, {"value", ch}});
      keys.push_back({{"type", "keyUp"}, {"value", ch}});
    }
    nlohmann::json actions = {
        {"actions", {{{"type", "key"}, {"id", "keyboard"}, {"actions", keys}}}}};
    return command("POST", "/actions", actions);
  }

  // The rendered text of the first element matching `css` ("" when none).
  std::string text(const std::string& css) {
    std::string id = find(css);
    if (id.empty()) return "";
    auto v = request("GET", path("/element/" + id + "/text"));
    return v && v->is_string() ? v->get<std::string>() : "";
  }

  // Runs `script` (a function body; `arguments` holds `args`) in the page; its return
  // value, or null on error.
  nlohmann::json execute(const std::string& script,
                         const nlohmann::json& args = nlohmann::json::array()) {
    auto v = request("POST", path("/execute/sync"), {{"script", script}, {"args", args}});
    return v ? *v : nlohmann::json(nullptr);
  }

  // Writes a PNG of the viewport to `file`.
  bool screenshot(const std::string& file) {
    auto v = request("GET", path("/screenshot"));
    if (!v || !v->is_string()) return false;
    std::ofstream out(file, std::ios::binary);
    out << base64_decode(v->get<std::string>());
    return static_cast<bool>(out);
  }

  // The browser console's entries since the last call ([{level, message, timestamp}]).
  nlohmann::json browser_log() {
    auto v = request("POST", path("/se/log"), {{"type", "browser"}});
    return v && v->is_array() ? *v : nlohmann::json::array();
  }

 private:
  std::string path(const std::string& rest) const { return "/session/" + session_ + rest; }

  bool command(const std::string& method, const std::string& rest, const nlohmann::json& body) {
    return request(method, path(rest), body).has_value();
  }

  bool element_command(const std::string& css, const std::string& rest,
                       const nlohmann::json& body) {
    std::string id = find(css);
    if (id.empty()) return false;
    return command("POST", "/element/" + id + rest, body);
  }

  // The answer's "value", or nullopt (and error_) when chromedriver refused or failed.
  std::optional<nlohmann::json> request(const std::string& method, const std::string& p,
                                        const nlohmann::json& body = nullptr) {
    if (!http_) return std::nullopt;
    auto r = method == "GET" ? http_->Get(p)
             : method == "DELETE"
                 ? http_->Delete(p)
                 : http_->Post(p, body.is_null() ? "{}" : body.dump(), "application/json");
    if (!r) {
      error_ = method + " " + p + ": no answer from chromedriver";
      return std::nullopt;
    }
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (r->status != 200 || !j.is_object() || !j.contains("value")) {
      error_ = method + " " + p + ": HTTP " + std::to_string(r->status) + " " + r->body;
      return std::nullopt;
    }
    return j["value"];
  }

  static std::vector<std::string> utf8_chars(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
      auto c = static_cast<unsigned char>(s[i]);
      std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      out.push_back(s.substr(i, n));
      i += n;
    }
    return out;
  }

  static std::string base64_decode(const std::string& in) {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned bits = 0;
    int count = 0;
    for (char c : in) {
      auto v = kAlphabet.find(c);
      if (v == std::string::npos) continue;  // '=' padding, line breaks
      bits = (bits << 6) | static_cast<unsigned>(v);
      count += 6;
      if (count >= 8) {
        count -= 8;
        out.push_back(static_cast<char>((bits >> count) & 0xFF));
      }
    }
    return out;
  }

  int port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<httplib::Client> http_;
  std::string session_;
  std::string error_;
};

}  // namespace sandboxd::testing_support
