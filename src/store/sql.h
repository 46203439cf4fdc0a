// SQL text shared by the Store's translation units.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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

// "UPDATE <table> SET c1 = ?, c2 = ?, ... WHERE id = ?" for a comma-separated column list.
inline std::string update_by_id_sql(const std::string& table, const std::string& columns) {
  std::string set;
  for (const std::string& col : split_list(columns))
    set += (set.empty() ? "" : ", ") + col + " = ?";
  return "UPDATE " + table + " SET " + set + " WHERE id = ?";
}

}  // namespace sandboxd
