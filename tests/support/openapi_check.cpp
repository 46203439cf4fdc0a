#include "support/openapi_check.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>
#include <string_view>

namespace sandboxd::testing_support {
namespace {

using nlohmann::json;

// Keywords the validator checks, and keywords that only annotate (never fail); each list
// is space-separated with a space at both ends.
constexpr std::string_view kAssertions =
    " $ref type enum const properties required additionalProperties propertyNames "
    "minProperties maxProperties items minItems maxItems uniqueItems minimum maximum "
    "exclusiveMinimum exclusiveMaximum minLength maxLength pattern allOf anyOf oneOf not ";
constexpr std::string_view kAnnotations =
    " title description format default examples example readOnly writeOnly deprecated "
    "contentMediaType contentEncoding $comment ";

bool known_keyword(const std::string& key) {
  const std::string word = " " + key + " ";
  return kAssertions.find(word) != std::string_view::npos ||
         kAnnotations.find(word) != std::string_view::npos;
}

constexpr int kMaxDepth = 64;  // $ref cycles end here instead of overflowing the stack

std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// obj[key] when obj is an object that has it, else an empty object (never a temporary, so
// `for (... : member(o, "k").items())` is safe).
const json& member(const json& obj, const std::string& key) {
  static const json empty = json::object();
  if (!obj.is_object()) return empty;
  auto it = obj.find(key);
  return it == obj.end() ? empty : *it;
}

std::string shown(const json& v) {
  std::string s = v.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

bool has_type(const json& v, const std::string& type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

std::size_t code_points(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

class Validator {
 public:
  Validator(const json& spec, std::vector<std::string>& errors) : spec_(spec), errors_(errors) {}

  // Checks `value` (at JSON pointer `at`) against `schema`, adding what fails.
  void check(const json& schema, const json& value, const std::string& at, int depth = 0) {
    if (depth > kMaxDepth) return fail(at, "schema nesting too deep (a $ref cycle?)");
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(at, "no value is allowed here");
      return;
    }
    if (!schema.is_object()) return fail(at, "schema is not an object: " + shown(schema));
    for (auto it = schema.begin(); it != schema.end(); ++it)
      if (!known_keyword(it.key())) fail(at, "unsupported schema keyword '" + it.key() + "'");
    if (schema.contains("$ref")) check_ref(schema["$ref"], value, at, depth);
    if (schema.contains("type") && !check_type(schema["type"], value, at)) return;
    if (schema.contains("enum")) check_enum(schema["enum"], value, at);
    if (schema.contains("const") && !(schema["const"] == value))
      fail(at, shown(value) + " is not " + shown(schema["const"]));
    if (value.is_object()) check_object(schema, value, at, depth);
    if (value.is_array()) check_array(schema, value, at, depth);
    if (value.is_number()) check_number(schema, value, at);
    if (value.is_string()) check_string(schema, value.get<std::string>(), at);
    check_combinators(schema, value, at, depth);
  }

 private:
  void fail(const std::string& at, const std::string& what) {
    errors_.push_back((at.empty() ? "(root)" : at) + ": " + what);
  }

  // The errors `schema` finds in `value`, without adding them.
  std::vector<std::string> trial(const json& schema, const json& value, const std::string& at,
                                 int depth) {
    std::vector<std::string> errors;
    Validator(spec_, errors).check(schema, value, at, depth + 1);
    return errors;
  }

  void check_ref(const json& ref, const json& value, const std::string& at, int depth) {
    json target = ref.is_string() ? resolve_ref(spec_, ref.get<std::string>()) : json();
    if (target.is_null()) return fail(at, "$ref " + shown(ref) + " does not resolve");
    check(target, value, at, depth + 1);
  }

  bool check_type(const json& type, const json& value, const std::string& at) {
    std::vector<std::string> types;
    if (type.is_string()) types.push_back(type.get<std::string>());
    if (type.is_array())
      for (const auto& t : type)
        if (t.is_string()) types.push_back(t.get<std::string>());
    if (types.empty()) {
      fail(at, "bad type keyword " + shown(type));
      return false;
    }
    for (const auto& t : types)
      if (has_type(value, t)) return true;
    fail(at, shown(value) + " is not of type " + shown(type));
    return false;
  }

  void check_enum(const json& options, const json& value, const std::string& at) {
    if (!options.is_array()) return fail(at, "enum is not an array");
    for (const auto& o : options)
      if (o == value) return;
    fail(at, shown(value) + " is not one of " + shown(options));
  }

  void check_object(const json& schema, const json& value, const std::string& at, int depth) {
    if (schema.contains("required"))
      for (const auto& name : schema["required"])
        if (name.is_string() && !value.contains(name.get<std::string>()))
          fail(at, "missing required property '" + name.get<std::string>() + "'");
    const json props = schema.value("properties", json::object());
    for (const auto& [key, v] : value.items()) {
      const std::string here = at + "/" + pointer_token(key);
      if (props.contains(key)) {
        check(props[key], v, here, depth + 1);
      } else if (schema.contains("additionalProperties")) {
        const json& extra = schema["additionalProperties"];
        if (extra.is_boolean() && !extra.get<bool>())
          fail(at, "property '" + key + "' is not allowed");
        else
          check(extra, v, here, depth + 1);
      }
      if (schema.contains("propertyNames")) {
        for (auto& e : trial(schema["propertyNames"], key, here, depth))
          errors_.push_back(e + " (a property name)");
      }
    }
    if (schema.contains("maxProperties") &&
        value.size() > schema["maxProperties"].get<std::size_t>())
      fail(at, "more than " + shown(schema["maxProperties"]) + " properties");
    if (schema.contains("minProperties") &&
        value.size() < schema["minProperties"].get<std::size_t>())
      fail(at, "fewer than " + shown(schema["minProperties"]) + " properties");
  }

  void check_array(const json& schema, const json& value, const std::string& at, int depth) {
    if (schema.contains("items"))
      for (std::size_t i = 0; i < value.size(); ++i)
        check(schema["items"], value[i], at + "/" + std::to_string(i), depth + 1);
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<std::size_t>())
      fail(at, "more than " + shown(schema["maxItems"]) + " items");
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<std::size_t>())
      fail(at, "fewer than " + shown(schema["minItems"]) + " items");
    if (schema.value("uniqueItems", false))
      for (std::size_t i = 0; i < value.size(); ++i)
        for (std::size_t j = i + 1; j < value.size(); ++j)
          if (value[i] == value[j])
            fail(at, "items " + std::to_string(i) + " and " + std::to_string(j) + " are equal");
  }

  void check_number(const json& schema, const json& value, const std::string& at) {
    const double v = value.get<double>();
    auto bound = [&](const char* key) { return schema[key].get<double>(); };
    if (schema.contains("minimum") && v < bound("minimum"))
      fail(at, shown(value) + " is less than " + shown(schema["minimum"]));
    if (schema.contains("maximum") && v > bound("maximum"))
      fail(at, shown(value) + " is more than " + shown(schema["maximum"]));
    if (schema.contains("exclusiveMinimum") && v <= bound("exclusiveMinimum"))
      fail(at, shown(value) + " is not more than " + shown(schema["exclusiveMinimum"]));
    if (schema.contains("exclusiveMaximum") && v >= bound("exclusiveMaximum"))
      fail(at, shown(value) + " is not less than " + shown(schema["exclusiveMaximum"]));
  }

  void check_string(const json& schema, const std::string& s, const std::string& at) {
    const std::size_t n = code_points(s);
    if (schema.contains("maxLength") && n > schema["maxLength"].get<std::size_t>())
      fail(at, "longer than " + shown(schema["maxLength"]) + " characters");
    if (schema.contains("minLength") && n < schema["minLength"].get<std::size_t>())
      fail(at, "shorter than " + shown(schema["minLength"]) + " characters");
    if (!schema.contains("pattern")) return;
    try {
      std::regex re(schema["pattern"].get<std::string>(), std::regex::ECMAScript);
      if (!std::regex_search(s, re))
        fail(at, shown(json(s)) + " does not match " + shown(schema["pattern"]));
    } catch (const std::exception& e) {
      fail(at, "bad pattern " + shown(schema["pattern"]) + ": " + e.what());
    }
  }

  void check_combinators(const json& schema, const json& value, const std::string& at, int depth) {
    if (schema.contains("allOf"))
      for (const auto& sub : schema["allOf"]) check(sub, value, at, depth + 1);
    if (schema.contains("not") && trial(schema["not"], value, at, depth).empty())
      fail(at, shown(value) + " matches a schema it must not");
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!schema.contains(key)) continue;
      std::size_t matched = 0;
      std::string why;
      for (std::size_t i = 0; i < schema[key].size(); ++i) {
        auto errors = trial(schema[key][i], value, at, depth);
        if (errors.empty())
          ++matched;
        else
          why += (why.empty() ? "" : "; ") + std::to_string(i) + ": " + errors.front();
      }
      if (matched == 0) fail(at, "matches none of " + std::string(key) + " (" + why + ")");
      if (std::string(key) == "oneOf" && matched > 1)
        fail(at, "matches " + std::to_string(matched) + " schemas of oneOf, not exactly one");
    }
  }

  const json& spec_;
  std::vector<std::string>& errors_;
};

// The operation object, or null.
json operation(const json& spec, const std::string& method, const std::string& path) {
  std::string m = method;
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  const json paths = spec.value("paths", json::object());
  if (!paths.contains(path) || !paths[path].contains(m)) return nullptr;
  return paths[path][m];
}

// `obj` itself, or what its $ref names.
json dereferenced(const json& spec, const json& obj) {
  if (obj.is_object() && obj.contains("$ref") && obj["$ref"].is_string())
    return resolve_ref(spec, obj["$ref"].get<std::string>());
  return obj;
}

// Schema walk for schema_problems: keywords, $refs and patterns of `schema` and below.
void schema_walk(const json& spec, const json& schema, const std::string& where,
                 std::vector<std::string>& out) {
  if (schema.is_boolean()) return;
  if (!schema.is_object()) {
    out.push_back(where + ": not a schema");
    return;
  }
  for (const auto& [key, v] : schema.items()) {
    const std::string here = where + "/" + pointer_token(key);
    if (!known_keyword(key)) out.push_back(where + ": unsupported schema keyword '" + key + "'");
    if (key == "$ref" && (!v.is_string() || resolve_ref(spec, v.get<std::string>()).is_null()))
      out.push_back(here + ": " + shown(v) + " does not resolve");
    if (key == "pattern") {
      try {
        std::regex re(v.get<std::string>(), std::regex::ECMAScript);
      } catch (const std::exception& e) {
        out.push_back(here + ": bad pattern: " + e.what());
      }
    }
    if (key == "properties")
      for (const auto& [name, sub] : v.items())
        schema_walk(spec, sub, here + "/" + pointer_token(name), out);
    if (key == "additionalProperties" || key == "propertyNames" || key == "items" || key == "not")
      schema_walk(spec, v, here, out);
    if (key == "allOf" || key == "anyOf" || key == "oneOf")
      for (std::size_t i = 0; i < v.size(); ++i)
        schema_walk(spec, v[i], here + "/" + std::to_string(i), out);
  }
}

// Every "$ref" anywhere in `node` must resolve.
void ref_walk(const json& spec, const json& node, const std::string& where,
              std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, v] : node.items()) {
      const std::string here = where + "/" + pointer_token(key);
      if (key == "$ref" && (!v.is_string() || resolve_ref(spec, v.get<std::string>()).is_null()))
        out.push_back(here + ": " + shown(v) + " does not resolve");
      ref_walk(spec, v, here, out);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      ref_walk(spec, node[i], where + "/" + std::to_string(i), out);
  }
}

// The schemas of a map of media types ({"application/json": {"schema": ...}}).
void content_walk(const json& spec, const json& content, const std::string& where,
                  std::vector<std::string>& out) {
  if (!content.is_object()) return;
  for (const auto& [type, media] : content.items())
    if (media.contains("schema"))
      schema_walk(spec, media["schema"], where + "/" + pointer_token(type) + "/schema", out);
}

void parameters_walk(const json& spec, const json& params, const std::string& where,
                     std::vector<std::string>& out) {
  if (!params.is_array()) return;
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i].contains("schema"))
      schema_walk(spec, params[i]["schema"], where + "/" + std::to_string(i) + "/schema", out);
}

void response_walk(const json& spec, const json& response, const std::string& where,
                   std::vector<std::string>& out) {
  content_walk(spec, response.value("content", json()), where + "/content", out);
  for (const auto& [name, header] : member(response, "headers").items())
    if (header.contains("schema"))
      schema_walk(spec, header["schema"], where + "/headers/" + name + "/schema", out);
}

}  // namespace

json load_spec() {
  std::ifstream in(SANDBOXD_SOURCE_DIR "/api/openapi.json");
  if (!in) return nullptr;
  std::stringstream text;
  text << in.rdbuf();
  json spec = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  return spec.is_discarded() ? json(nullptr) : spec;
}

json resolve_ref(const json& spec, const std::string& target) {
  if (target.rfind("#/", 0) != 0) return nullptr;
  try {
    const json::json_pointer ptr(target.substr(1));
    return spec.contains(ptr) ? spec.at(ptr) : json(nullptr);
  } catch (const json::exception&) {
    return nullptr;
  }
}

std::vector<std::string> validate(const json& spec, const json& schema, const json& value) {
  std::vector<std::string> errors;
  Validator(spec, errors).check(schema, value, "");
  return errors;
}

std::vector<std::string> validate_response(const json& spec, const std::string& method,
                                           const std::string& path_template, int status,
                                           const json& body) {
  const std::string what = method + " " + path_template + " " + std::to_string(status);
  json op = operation(spec, method, path_template);
  if (op.is_null()) return {"no operation " + method + " " + path_template + " in the spec"};
  const json responses = op.value("responses", json::object());
  const std::string code = std::to_string(status);
  const std::string range = code.substr(0, 1) + "XX";
  json response;
  if (responses.contains(code))
    response = responses[code];
  else if (responses.contains(range))
    response = responses[range];
  else if (status >= 400 && responses.contains("default"))
    response = responses["default"];
  else
    return {what + ": status not documented"};
  response = dereferenced(spec, response);
  if (!response.is_object()) return {what + ": the response's $ref does not resolve"};
  const json content = response.value("content", json::object());
  if (!content.contains("application/json") || !content["application/json"].contains("schema"))
    return {what + ": no application/json schema documented"};
  auto errors = validate(spec, content["application/json"]["schema"], body);
  for (auto& e : errors) e = what + ": " + e;
  return errors;
}

std::vector<std::string> validate_request(const json& spec, const std::string& method,
                                          const std::string& path_template, const json& body,
                                          const std::string& content_type) {
  const std::string what = method + " " + path_template + " request";
  json op = operation(spec, method, path_template);
  if (op.is_null()) return {"no operation " + method + " " + path_template + " in the spec"};
  json request = dereferenced(spec, op.value("requestBody", json()));
  if (!request.is_object()) return {what + ": no request body documented"};
  const json content = request.value("content", json::object());
  if (!content.contains(content_type) || !content[content_type].contains("schema"))
    return {what + ": no " + content_type + " schema documented"};
  auto errors = validate(spec, content[content_type]["schema"], body);
  for (auto& e : errors) e = what + ": " + e;
  return errors;
}

std::vector<std::string> schema_problems(const json& spec) {
  std::vector<std::string> out;
  ref_walk(spec, spec, "", out);
  const json components = spec.value("components", json::object());
  for (const auto& [name, schema] : member(components, "schemas").items())
    schema_walk(spec, schema, "/components/schemas/" + pointer_token(name), out);
  for (const auto& [name, p] : member(components, "parameters").items())
    if (p.contains("schema"))
      schema_walk(spec, p["schema"], "/components/parameters/" + name + "/schema", out);
  for (const auto& [name, h] : member(components, "headers").items())
    if (h.contains("schema"))
      schema_walk(spec, h["schema"], "/components/headers/" + name + "/schema", out);
  for (const auto& [name, r] : member(components, "responses").items())
    response_walk(spec, r, "/components/responses/" + name, out);
  for (const auto& [path, item] : member(spec, "paths").items()) {
    const std::string at = "/paths/" + pointer_token(path);
    parameters_walk(spec, item.value("parameters", json()), at + "/parameters", out);
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters" || !op.is_object()) continue;
      const std::string here = at + "/" + method;
      parameters_walk(spec, op.value("parameters", json()), here + "/parameters", out);
      if (op.contains("requestBody"))
        content_walk(spec, op["requestBody"].value("content", json()),
                     here + "/requestBody/content", out);
      for (const auto& [status, r] : member(op, "responses").items())
        response_walk(spec, r, here + "/responses/" + status, out);
    }
  }
  return out;
}

}  // namespace sandboxd::testing_support
