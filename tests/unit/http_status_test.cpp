#include "sandboxd/api/http_status.h"

#include <gtest/gtest.h>

namespace sandboxd {
namespace {

struct Mapping {
  Code code;
  int api;
  int edge;
};

constexpr Mapping kMappings[] = {
    {Code::kOk, 200, 503},           {Code::kInvalidArgument, 400, 400},
    {Code::kUnauthorized, 401, 503}, {Code::kForbidden, 403, 503},
    {Code::kNotFound, 404, 404},     {Code::kConflict, 409, 503},
    {Code::kTooLarge, 413, 503},     {Code::kUnsupportedMediaType, 415, 503},
    {Code::kUnavailable, 503, 503},  {Code::kTimeout, 504, 503},
    {Code::kInternal, 500, 503},
};

TEST(HttpStatus, MapsEveryCodeForTheApiAndTheEdge) {
  for (const auto& m : kMappings) {
    EXPECT_EQ(http_status(m.code), m.api) << code_name(m.code);
    EXPECT_EQ(edge_http_status(m.code), m.edge) << code_name(m.code);
  }
}

TEST(HttpStatus, CodeForHttpInvertsTheMappingOfEveryError) {
  for (const auto& m : kMappings) {
    if (m.code == Code::kOk) continue;
    EXPECT_EQ(code_for_http(m.api), m.code) << m.api;
  }
  EXPECT_EQ(code_for_http(405), Code::kNotFound);
  EXPECT_EQ(code_for_http(431), Code::kInvalidArgument);
  EXPECT_EQ(code_for_http(502), Code::kInternal);
}

}  // namespace
}  // namespace sandboxd
