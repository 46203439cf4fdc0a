#!/usr/bin/env node
// Checks that src/types.ts covers api/openapi.json: every component schema has a type
// (by the same name, or the one ALIASES gives), and every property and string enum value
// of the schema (nested inline objects, items and allOf/oneOf/anyOf members included)
// appears in that type or in a type it refers to, transitively.
// Usage: node scripts/check-types.mjs [path/to/openapi.json]. Exits 1 naming what is missing.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const specPath = resolve(process.argv[2] ?? resolve(here, '../../../api/openapi.json'));
const typesPath = resolve(here, '../src/types.ts');

// Spec schema -> the TypeScript type that models it, where the names differ.
const ALIASES = {
  Error: 'ErrorBody',
  Limits: 'SandboxLimits',
  CreateSandbox: 'CreateSandboxRequest',
  PatchSandbox: 'UpdateSandboxRequest',
  Purge: 'PurgeResult',
  WriteFile: 'WriteFileRequest',
  CreateTask: 'CreateTaskRequest',
  CreateSnapshot: 'CreateSnapshotRequest',
  ForkSandbox: 'ForkRequest',
  RestoreSandbox: 'RestoreRequest',
};
// Schemas the SDK does not model.
const SKIP = new Set(['OpenApiDocument']);

const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const schemas = spec.components?.schemas ?? {};
const source = readFileSync(typesPath, 'utf8')
  .replace(/\/\*[\s\S]*?\*\//g, '')
  .replace(/\/\/.*$/gm, '');

// Every `export interface|type Name` with its text (header and body).
const decls = new Map();
const declRe = /export\s+(interface|type)\s+([A-Za-z_$][\w$]*)/g;
for (let m; (m = declRe.exec(source)); ) {
  const [, kind, name] = m;
  let i = m.index + m[0].length;
  let depth = 0;
  let end = source.length;
  for (; i < source.length; i++) {
    const c = source[i];
    if (c === '{' || c === '(' || c === '[' || c === '<') depth++;
    else if (c === '}' || c === ')' || c === ']' || (c === '>' && source[i - 1] !== '=')) {
      depth--;
      if (kind === 'interface' && depth === 0 && c === '}') {
        end = i + 1;
        break;
      }
    } else if (kind === 'type' && depth === 0 && c === ';') {
      end = i;
      break;
    }
  }
  decls.set(name, source.slice(m.index, end));
}

// The text of `name` and of every declared type it refers to, transitively.
function closure(name, seen = new Set()) {
  if (seen.has(name) || !decls.has(name)) return '';
  seen.add(name);
  const text = decls.get(name);
  let out = text;
  for (const id of text.match(/[A-Za-z_$][\w$]*/g) ?? []) {
    if (id !== name && decls.has(id)) out += '\n' + closure(id, seen);
  }
  return out;
}

function resolveRef(ref) {
  const prefix = '#/components/schemas/';
  if (!ref.startsWith(prefix)) throw new Error(`unsupported $ref ${ref}`);
  return schemas[ref.slice(prefix.length)];
}

// Property names and string enum values of a schema. A property's own $ref is another
// component, checked on its own; allOf/oneOf/anyOf members are followed.
function collect(schema, out, seen = new Set()) {
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return out;
  seen.add(schema);
  if (schema.$ref) collect(resolveRef(schema.$ref), out, seen);
  for (const v of schema.enum ?? []) if (typeof v === 'string') out.enums.add(v);
  for (const [prop, sub] of Object.entries(schema.properties ?? {})) {
    out.props.add(prop);
    if (!sub.$ref) collect(sub, out, seen);
  }
  if (schema.items && !schema.items.$ref) collect(schema.items, out, seen);
  if (typeof schema.additionalProperties === 'object' && !schema.additionalProperties.$ref)
    collect(schema.additionalProperties, out, seen);
  for (const key of ['allOf', 'oneOf', 'anyOf'])
    for (const member of schema[key] ?? []) collect(member, out, seen);
  return out;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const problems = [];
let checked = 0;
for (const [name, schema] of Object.entries(schemas)) {
  if (SKIP.has(name)) continue;
  const tsName = ALIASES[name] ?? name;
  if (!decls.has(tsName)) {
    problems.push(`${name}: no type ${tsName} in src/types.ts`);
    continue;
  }
  const text = closure(tsName);
  const { props, enums } = collect(schema, { props: new Set(), enums: new Set() });
  for (const p of props) {
    checked++;
    if (!new RegExp(`(^|[\\s{;,(|])['"]?${escape(p)}['"]?\\??\\s*:`).test(text))
      problems.push(`${name}.${p}: not a property of ${tsName} (or the types it uses)`);
  }
  for (const v of enums) {
    checked++;
    if (!text.includes(`'${v}'`) && !text.includes(`"${v}"`))
      problems.push(`${name}: enum value '${v}' missing from ${tsName} (or the types it uses)`);
  }
}
if (problems.length > 0) {
  console.error(`check-types: src/types.ts does not match ${specPath}:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `check-types: ${Object.keys(schemas).length - SKIP.size} schemas, ${checked} properties and enum values covered`,
);
