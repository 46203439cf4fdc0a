// Migrations embedded into the binary at build time (private to store/).
#pragma once

#include <string>
#include <vector>

namespace sandboxd {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Every migration, ascending by version.
const std::vector<Migration>& embedded_migrations();

}  // namespace sandboxd
