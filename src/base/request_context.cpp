#include "sandboxd/base/request_context.h"

namespace sandboxd {

std::string& current_request_id() {
  thread_local std::string id;
  return id;
}

}  // namespace sandboxd
