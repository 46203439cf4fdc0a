#!/usr/bin/env python3
"""Renders docs/api.md, the API reference, from api/openapi.json.

  python3 scripts/gen-api-docs.py           writes docs/api.md
  python3 scripts/gen-api-docs.py --check   exit 1 when docs/api.md is not what the spec
                                            renders to (the spec changed, or the file was
                                            edited by hand)

Standard library only. The output depends on nothing but the spec, so it is stable.
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SPEC = os.path.join(ROOT, "api", "openapi.json")
OUT = os.path.join(ROOT, "docs", "api.md")
METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]


def cell(text):
    """Text fit for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n\n", "<br>").replace("\n", " ").strip()


def anchor(kind, name):
    return kind + "-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class Renderer:
    def __init__(self, spec):
        self.spec = spec
        self.schemas = spec.get("components", {}).get("schemas", {})

    def resolve(self, obj):
        """obj, or what its local $ref names."""
        while isinstance(obj, dict) and "$ref" in obj:
            node = self.spec
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def link(self, ref):
        name = ref.rsplit("/", 1)[-1]
        return "[%s](#%s)" % (name, anchor("schema", name))

    # ---- types

    def type_of(self, s):
        """A short Markdown rendering of a schema's type."""
        if s is True or s == {}:
            return "any"
        if not isinstance(s, dict):
            return "never"
        if "$ref" in s:
            return self.link(s["$ref"])
        if "const" in s:
            return "`%s`" % json.dumps(s["const"])
        if "enum" in s:
            return " \\| ".join("`%s`" % json.dumps(v) for v in s["enum"])
        for key in ("oneOf", "anyOf"):
            if key in s:
                return " \\| ".join(self.type_of(sub) for sub in s[key])
        if "allOf" in s:
            return " & ".join(self.type_of(sub) for sub in s["allOf"])
        types = s.get("type", "any")
        types = types if isinstance(types, list) else [types]
        out = []
        for t in types:
            if t == "array":
                out.append("array of " + self.type_of(s.get("items", {})))
            elif t == "object" and isinstance(s.get("additionalProperties"), dict):
                out.append("map of " + self.type_of(s["additionalProperties"]))
            elif t in ("integer", "number", "string") and "format" in s:
                out.append("%s (%s)" % (t, s["format"]))
            else:
                out.append(t)
        return " \\| ".join(out)

    @staticmethod
    def constraints(s):
        """The schema's bounds and patterns, in words."""
        if not isinstance(s, dict):
            return ""
        out = []
        lo, hi = s.get("minimum"), s.get("maximum")
        if lo is not None and hi is not None:
            out.append("%s..%s" % (lo, hi))
        elif lo is not None:
            out.append("at least %s" % lo)
        elif hi is not None:
            out.append("at most %s" % hi)
        if "minLength" in s:
            out.append("at least %s characters" % s["minLength"])
        if "maxLength" in s:
            out.append("at most %s characters" % s["maxLength"])
        if s.get("minItems") == 1:
            out.append("not empty")
        elif "minItems" in s:
            out.append("at least %s items" % s["minItems"])
        if "maxItems" in s:
            out.append("at most %s items" % s["maxItems"])
        if s.get("uniqueItems"):
            out.append("no duplicates")
        if "maxProperties" in s:
            out.append("at most %s keys" % s["maxProperties"])
        if "pattern" in s:
            out.append("pattern `%s`" % s["pattern"])
        names = s.get("propertyNames", {})
        if isinstance(names, dict) and "pattern" in names:
            out.append("keys match `%s`" % names["pattern"])
        if "default" in s:
            out.append("default `%s`" % json.dumps(s["default"]))
        return "; ".join(out)

    def describe(self, s):
        s = s if isinstance(s, dict) else {}
        text = s.get("description", "")
        if "$ref" in s and not text:
            text = self.resolve(s).get("description", "") if isinstance(
                self.resolve(s), dict) else ""
        bounds = self.constraints(s)
        return cell(text + (" (%s)" % bounds if bounds else ""))

    def fields(self, schema):
        """(properties, required) of an object schema, allOf parts merged."""
        schema = self.resolve(schema)
        props, required = {}, []
        for part in schema.get("allOf", []):
            p, r = self.fields(part)
            props.update(p)
            required += r
        props.update(schema.get("properties", {}))
        required += schema.get("required", [])
        return props, required

    def field_rows(self, schema, prefix=""):
        """Table rows of an object's fields; an inline object's fields follow as a.b."""
        props, required = self.fields(schema)
        rows = []
        for name, sub in props.items():
            rows.append("| `%s%s` | %s | %s | %s |" % (
                prefix, name, self.type_of(sub), "yes" if name in required else "no",
                self.describe(sub)))
            if isinstance(sub, dict) and "$ref" not in sub and "properties" in sub:
                rows += self.field_rows(sub, prefix + name + ".")
        return rows

    def field_table(self, schema, request):
        rows = self.field_rows(schema)
        if not rows:
            return []
        return ["| Field | Type | %s | Description |" % ("Required" if request else "Always"),
                "|---|---|---|---|"] + rows

    # ---- operations

    def operations(self):
        for path, item in self.spec.get("paths", {}).items():
            for method in METHODS:
                if method in item:
                    yield path, method, item, item[method]

    def parameters(self, item, op):
        params = [self.resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
        if not params:
            return []
        rows = ["**Parameters**", "", "| Name | In | Type | Required | Description |",
                "|---|---|---|---|---|"]
        for p in params:
            rows.append("| `%s` | %s | %s | %s | %s |" % (
                p["name"], p["in"], self.type_of(p.get("schema", {})),
                "yes" if p.get("required") else "no",
                cell(p.get("description", "") + (
                    " (%s)" % self.constraints(p.get("schema", {}))
                    if self.constraints(p.get("schema", {})) else ""))))
        return rows + [""]

    def request_body(self, op):
        body = self.resolve(op.get("requestBody"))
        if not body:
            return []
        rows = []
        content = body.get("content", {})
        kinds = ", ".join("`%s`" % t for t in content)
        rows.append("**Request body** (%s; %s)" % (
            kinds, "required" if body.get("required") else "optional"))
        rows.append("")
        if body.get("description"):
            rows += [body["description"], ""]
        shown = set()
        for media_type, media in content.items():
            schema = media.get("schema", {})
            key = json.dumps(schema, sort_keys=True)
            if key in shown:
                continue
            shown.add(key)
            target = self.resolve(schema)
            if "$ref" in schema:
                rows.append(("`%s`: %s. %s" % (media_type, self.type_of(schema),
                                                 target.get("description", ""))).rstrip())
                rows.append("")
                rows += self.field_table(schema, request=True)
            else:
                rows.append("`%s`: %s" % (media_type, self.type_of(schema)))
            rows.append("")
        return rows

    def responses(self, op):
        rows = ["**Responses**", "", "| Status | Body | Description |", "|---|---|---|"]
        for status, resp in op.get("responses", {}).items():
            r = self.resolve(resp)
            bodies = []
            for media_type, media in r.get("content", {}).items():
                t = self.type_of(media.get("schema", {}))
                bodies.append("%s `%s`" % (t, media_type) if media_type != "application/json"
                              else t)
            if "$ref" in resp:
                # A shared error answer: its first words, linked to the Errors section.
                name = resp["$ref"].rsplit("/", 1)[-1]
                desc = "[%s](#%s)" % (r.get("description", name).split(":")[0],
                                      anchor("response", name))
            else:
                desc = r.get("description", "")
                extra = [h for h in r.get("headers", {}) if h != "X-Request-Id"]
                if extra:
                    desc += " Headers: " + ", ".join("`%s`" % h for h in extra) + "."
            rows.append("| %s | %s | %s |" % (status, cell(", ".join(bodies) or "none"),
                                              cell(desc)))
        return rows + [""]

    def errors_section(self):
        responses = self.spec.get("components", {}).get("responses", {})
        if not responses:
            return []
        rows = ["## Errors", "",
                "Every error answer has the [Error](#schema-error) shape; the operations link "
                "here.", "", "| Answer | What it means | Headers |", "|---|---|---|"]
        for name, r in responses.items():
            headers = ", ".join("`%s`" % h for h in r.get("headers", {}))
            rows.append('| <a id="%s"></a>%s | %s | %s |' % (
                anchor("response", name), name, cell(r.get("description", "")), headers))
        return rows + [""]

    def security(self, op):
        sec = op.get("security", self.spec.get("security", []))
        if not sec:
            return "none"
        if {} in sec:
            return "optional bearer token"
        names = [n for req in sec for n in req]
        if len(names) > 1:
            return " or ".join("bearer token" if n == "bearerAuth" else "`%s`" % n for n in names)
        return "bearer token"

    def linked(self, text):
        """text with each CamelCase schema name (TaskEventDone, ...) linked to its section."""
        def repl(m):
            name = m.group(0)
            return "[%s](#%s)" % (name, anchor("schema", name)) if name in self.schemas else name
        return re.sub(r"(?<![`\w])[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+(?![`\w])", repl, text)

    def operation(self, path, method, item, op):
        rows = ['<a id="%s"></a>' % anchor("op", op["operationId"]), "",
                "### %s" % op.get("summary", op["operationId"]), "",
                "`%s %s` (operationId `%s`; auth: %s)" % (
                    method.upper(), path, op["operationId"], self.security(op)), ""]
        if op.get("description"):
            rows += [self.linked(op["description"]), ""]
        rows += self.parameters(item, op)
        rows += self.request_body(op)
        rows += self.responses(op)
        return rows

    # ---- schemas

    def schema_section(self, name, schema):
        rows = ['<a id="%s"></a>' % anchor("schema", name), "", "### %s" % name, ""]
        if schema.get("description"):
            rows += [schema["description"], ""]
        for key in ("oneOf", "anyOf"):
            if key in schema:
                rows.append("One of:" if key == "oneOf" else "Any of:")
                rows.append("")
                for sub in schema[key]:
                    line = "- " + self.type_of(sub)
                    target = self.resolve(sub)
                    if isinstance(target, dict) and "properties" in target and "$ref" not in sub:
                        line += ": " + ", ".join("`%s` %s" % (k, self.type_of(v))
                                                 for k, v in target["properties"].items())
                    rows.append(line)
                rows.append("")
        table = self.field_table(schema, request=schema.get("additionalProperties") is False)
        if table:
            if schema.get("additionalProperties") is False:
                rows += ["Other fields are refused (400).", ""]
            rows += table + [""]
        elif not any(k in schema for k in ("oneOf", "anyOf")):
            rows += ["Type: %s%s" % (self.type_of(schema), (
                " (%s)" % self.constraints(schema)) if self.constraints(schema) else ""), ""]
        return rows

    # ---- document

    def render(self):
        info = self.spec.get("info", {})
        out = ["# %s reference" % info.get("title", "API"), "",
               "<!-- Generated from api/openapi.json by scripts/gen-api-docs.py: do not edit. -->",
               "",
               "Version %s (OpenAPI %s). Generated from [api/openapi.json](../api/openapi.json), "
               "which the server also serves at `GET /v1/openapi.json`; regenerate with "
               "`python3 scripts/gen-api-docs.py`." % (info.get("version", "?"),
                                                       self.spec.get("openapi", "?")), ""]
        if info.get("description"):
            out += [info["description"], ""]
        servers = self.spec.get("servers", [])
        if servers:
            out += ["Default server: `%s`." % servers[0]["url"], ""]
        schemes = self.spec.get("components", {}).get("securitySchemes", {})
        for name, scheme in schemes.items():
            if scheme.get("type") == "apiKey":
                kind = "the %s parameter `%s`" % (scheme.get("in"), scheme.get("name"))
            else:
                kind = "HTTP %s" % scheme.get("scheme", scheme.get("type"))
            out += ["Authentication (`%s`): %s. %s" % (name, kind, scheme.get("description", "")),
                    ""]

        by_tag = {}
        for path, method, item, op in self.operations():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append(
                (path, method, item, op))
        tags = [t["name"] for t in self.spec.get("tags", [])]
        tags += [t for t in by_tag if t not in tags]
        descriptions = {t["name"]: t.get("description", "") for t in self.spec.get("tags", [])}

        out += ["## Contents", ""]
        for tag in tags:
            if tag not in by_tag:
                continue
            out.append("- %s" % tag.capitalize())
            for path, method, _, op in by_tag[tag]:
                out.append("  - [`%s %s`](#%s): %s" % (
                    method.upper(), path, anchor("op", op["operationId"]),
                    op.get("summary", "")))
        out += ["- [Errors](#errors)", "- [Schemas](#schemas)", ""]

        for tag in tags:
            if tag not in by_tag:
                continue
            out += ["## %s" % tag.capitalize(), ""]
            if descriptions.get(tag):
                out += [descriptions[tag], ""]
            for entry in by_tag[tag]:
                out += self.operation(*entry)

        out += self.errors_section()
        out += ["## Schemas", ""]
        for name, schema in self.schemas.items():
            out += self.schema_section(name, schema)
        while out and out[-1] == "":
            out.pop()
        return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when docs/api.md is stale instead of writing it")
    parser.add_argument("--spec", default=SPEC, help="the OpenAPI file (default api/openapi.json)")
    parser.add_argument("--out", default=OUT, help="the Markdown file (default docs/api.md)")
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as f:
        text = Renderer(json.load(f)).render()
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print("%s is stale: run python3 scripts/gen-api-docs.py" % os.path.relpath(args.out),
                  file=sys.stderr)
            return 1
        print("%s is up to date" % os.path.relpath(args.out))
        return 0
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
