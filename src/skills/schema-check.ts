/**
 * Checks of the JSON Schemas analysts write in plan.yaml (`inputs`, each output): unknown
 * keywords with did-you-mean, and meta-schema violations mapped to the key that holds them.
 * Ajv alone ignores unknown keywords (`propertes:`) and reports meta-schema errors as a JSON
 * pointer; analysts need the line.
 */
import { ajv } from '../shared/json-schema.js';

/** Keywords of JSON Schema 2020-12 (core, applicator, validation, unevaluated, format, content, meta-data). */
export const SCHEMA_KEYWORDS = [
  '$schema', '$id', '$ref', '$defs', '$comment', '$anchor', '$dynamicRef', '$dynamicAnchor', '$vocabulary',
  'type', 'enum', 'const', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxContains', 'minContains',
  'maxProperties', 'minProperties', 'required', 'dependentRequired',
  'properties', 'patternProperties', 'additionalProperties', 'propertyNames', 'items', 'prefixItems', 'contains',
  'unevaluatedItems', 'unevaluatedProperties', 'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'dependentSchemas',
  'format', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly',
  'contentEncoding', 'contentMediaType', 'contentSchema', 'definitions',
] as const;

const KEYWORDS = new Set<string>(SCHEMA_KEYWORDS);
/** Keywords whose value is a map of name → schema. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** Keywords whose value is one schema. */
const SCHEMA_VALUES = new Set([
  'items', 'additionalProperties', 'unevaluatedItems', 'unevaluatedProperties', 'contains', 'propertyNames', 'not', 'if', 'then', 'else', 'contentSchema',
]);
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = new Set(['prefixItems', 'allOf', 'anyOf', 'oneOf']);

export type SchemaPath = Array<string | number>;

/** A problem inside a schema, at a path relative to the schema's root. */
export interface SchemaProblem {
  path: SchemaPath;
  /** True when the problem is the key itself (unknown keyword), not its value. */
  atKey: boolean;
  code: 'unknown-key' | 'schema-invalid';
  message: string;
  /** What was probably meant: a keyword for an unknown one, an allowed value for a wrong one. */
  suggestion?: string;
}

/**
 * Every unknown keyword in `schema` and below (vendor extensions `x-…` are allowed) and every
 * meta-schema violation (one per location); when there are none, what compiling still finds.
 */
export function checkSchema(schema: unknown, suggest: (word: string, candidates: Iterable<string>) => string | undefined): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  walk(schema, [], problems, suggest);
  if (!ajv.validateSchema(schema as object)) {
    const seen = new Set<string>();
    for (const e of ajv.errors ?? []) {
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      const path = e.instancePath
        .split('/')
        .slice(1)
        .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const where = path.length ? `\`${path.join('.')}\`` : 'the schema';
      const allowed = (e.params as { allowedValues?: unknown } | undefined)?.allowedValues;
      const value = valueAt(schema, path);
      const suggestion = Array.isArray(allowed) && typeof value === 'string' ? suggest(value, allowed.map(String)) : undefined;
      problems.push({
        path,
        atKey: false,
        code: 'schema-invalid',
        message: `${where} ${e.message ?? 'is invalid'}${Array.isArray(allowed) ? ` (${allowed.join(', ')})` : ''}`,
        ...(suggestion ? { suggestion } : {}),
      });
    }
    return problems;
  }
  if (problems.length > 0) return problems;
  try {
    ajv.compile(schema as object);
  } catch (err) {
    // Past the meta-schema, what is left is e.g. an unresolvable $ref or a bad regex.
    problems.push({ path: [], atKey: false, code: 'schema-invalid', message: (err as Error).message.split('\n')[0]! });
  }
  return problems;
}

function valueAt(root: unknown, path: SchemaPath): unknown {
  let v = root;
  for (const seg of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[seg] : undefined;
  return v;
}

function walk(node: unknown, path: SchemaPath, problems: SchemaProblem[], suggest: (word: string, candidates: Iterable<string>) => string | undefined): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (!KEYWORDS.has(key) && !key.startsWith('x-')) {
      const suggestion = suggest(key, KEYWORDS);
      problems.push({
        path: [...path, key],
        atKey: true,
        code: 'unknown-key',
        message: `unknown JSON Schema keyword "${key}"`,
        ...(suggestion ? { suggestion } : {}),
      });
      continue;
    }
    if (SCHEMA_MAPS.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [name, sub] of Object.entries(value as Record<string, unknown>)) walk(sub, [...path, key, name], problems, suggest);
    } else if (SCHEMA_VALUES.has(key)) {
      walk(value, [...path, key], problems, suggest);
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      value.forEach((sub, i) => walk(sub, [...path, key, i], problems, suggest));
    }
  }
}
