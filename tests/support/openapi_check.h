// Checks JSON against api/openapi.json: a small JSON Schema (2020-12) validator for the
// subset the spec uses, and lookups of an operation's request and response schemas.
// Supported keywords: type (one or an array; "integer" is any number without a fraction),
// enum, const, properties, required, additionalProperties (bool or schema),
// propertyNames, minProperties, maxProperties, items, minItems, maxItems, uniqueItems,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength (in code
// points), pattern (std::regex ECMAScript, unanchored), allOf, anyOf, oneOf, not and
// local $ref ("#/..."); annotations (description, format, default, ...) are ignored. Any
// other keyword is reported as an error, so the spec cannot lean on one this validator
// would silently skip. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sandboxd::testing_support {

// The repository's api/openapi.json (null when it cannot be read or parsed).
nlohmann::json load_spec();

// The errors of `value` against `schema` ($refs resolve in `spec`), each "<JSON pointer
// into value>: <what is wrong>"; empty when it is valid.
std::vector<std::string> validate(const nlohmann::json& spec, const nlohmann::json& schema,
                                  const nlohmann::json& value);

// The errors of `body` as the application/json answer of operation `method`
// `path_template` (e.g. "GET", "/v1/sandboxes/{id}") with HTTP `status`, against that
// status's response (or "4XX"/"5XX", else "default"). An operation or response the spec
// lacks, or one without application/json content, is an error too.
std::vector<std::string> validate_response(const nlohmann::json& spec, const std::string& method,
                                           const std::string& path_template, int status,
                                           const nlohmann::json& body);

// The errors of `body` as the request body of `method` `path_template` sent as
// `content_type` (its application/json schema by default).
std::vector<std::string> validate_request(const nlohmann::json& spec, const std::string& method,
                                          const std::string& path_template,
                                          const nlohmann::json& body,
                                          const std::string& content_type = "application/json");

// Problems of the schemas themselves anywhere in `spec` (components, parameters, bodies,
// responses, headers): keywords the validator does not support, $refs that do not resolve,
// patterns std::regex rejects. Empty when every schema is usable.
std::vector<std::string> schema_problems(const nlohmann::json& spec);

// `target` of a local $ref ("#/components/schemas/Sandbox") in `spec`; null when it does
// not resolve.
nlohmann::json resolve_ref(const nlohmann::json& spec, const std::string& target);

}  // namespace sandboxd::testing_support
