// SQL text shared by the Store's translation units.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/base/text.h"

namespace sandboxd {

// A SQLite failure of operation `op`, as the Store reports it.
inline Status db_error(const std::string& op, const std::exception& e) {
  return Status(Code::kInternal, "sqlite " + op + ": " + e.what());
}

// The enum a text column holds; throws (a db_error to the caller) on a word the domain
// does not know, which only a newer sandboxd or a hand edit could have written.
template <class E>
E column_enum(const std::string& text, std::optional<E> (*parse)(std::string_view),
              const char* column) {
  if (auto v = parse(text)) return *v;
  throw std::runtime_error(std::string("unknown ") + column + " '" + text + "'");
}

// Every row of `q` through `read`. A row that cannot be read (a word the domain does not
// know, bad JSON) is logged and skipped: one bad row must not stop the reconciler, the
// reapers and every listing.
template <class Read>
auto read_rows(SQLite::Statement& q, Read read, const char* what) {
  std::vector<decltype(read(q))> out;
  while (q.executeStep()) {
    try {
      out.push_back(read(q));
    } catch (const std::exception& e) {
      spdlog::error("{}: skipping unreadable row {}: {}", what, q.getColumn(0).getString(),
                    e.what());
    }
  }
  return out;
}

// "UPDATE <table> SET c1 = ?, c2 = ?, ... WHERE id = ?" for a comma-separated column list.
// "?, ?, ..." for `n` bound values.
inline std::string placeholders(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

inline std::string update_by_id_sql(const std::string& table, const std::string& columns) {
  std::string set;
  for (const std::string& col : split_list(columns))
    set += (set.empty() ? "" : ", ") + col + " = ?";
  return "UPDATE " + table + " SET " + set + " WHERE id = ?";
}

}  // namespace sandboxd
