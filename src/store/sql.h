// SQL text shared by the Store's translation units.
#pragma once

#include <exception>
#include <string>

#include "sandboxd/base/status.h"

namespace sandboxd {

// A SQLite failure of operation `op`, as the Store reports it.
inline Status db_error(const std::string& op, const std::exception& e) {
  return Status(Code::kInternal, "sqlite " + op + ": " + e.what());
}

// "UPDATE <table> SET c1 = ?, c2 = ?, ... WHERE id = ?" for a comma-separated column list.
inline std::string update_by_id_sql(const std::string& table, const std::string& columns) {
  std::string set;
  std::size_t start = 0;
  while (start < columns.size()) {
    std::size_t comma = columns.find(',', start);
    std::string col =
        columns.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    col.erase(0, col.find_first_not_of(' '));
    set += (set.empty() ? "" : ", ") + col + " = ?";
    start = comma == std::string::npos ? columns.size() : comma + 1;
  }
  return "UPDATE " + table + " SET " + set + " WHERE id = ?";
}

}  // namespace sandboxd
