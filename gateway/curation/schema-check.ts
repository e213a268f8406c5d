/**
 * Is a tool's schema a valid JSON Schema? Under its own dialect: `$schema` when it names one
 * Ajv knows (draft-07, 2019-09, 2020-12), else 2020-12 (MCP basic/index.mdx "Schema Dialect").
 * A fresh Ajv per schema: tools may reuse `$id`s, and one server's schema must not resolve
 * references against another's.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export that TypeScript's NodeNext view types as the module.
const addFormats = addFormatsModule as unknown as <T>(ajv: T) => T;

type AnyAjv = Ajv | Ajv2019 | Ajv2020;

const DIALECTS: ReadonlyArray<readonly [RegExp, () => AnyAjv]> = [
  [/^https?:\/\/json-schema\.org\/draft-07\/schema#?$/, () => addFormats(new Ajv({ allErrors: true, strict: false, logger: false }))],
  [/^https?:\/\/json-schema\.org\/draft\/2019-09\/schema#?$/, () => addFormats(new Ajv2019({ allErrors: true, strict: false, logger: false }))],
  [/^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/, () => addFormats(new Ajv2020({ allErrors: true, strict: false, logger: false }))],
];

function ajvFor(schema: { [k: string]: unknown }): AnyAjv | string {
  const declared = schema.$schema;
  if (declared === undefined) return addFormats(new Ajv2020({ allErrors: true, strict: false, logger: false }));
  if (typeof declared !== 'string') return '`$schema` is not a string';
  const d = DIALECTS.find(([re]) => re.test(declared));
  return d ? d[1]() : `unsupported dialect ${JSON.stringify(declared.slice(0, 80))} (supported: draft-07, 2019-09, 2020-12)`;
}

/** Why the schema is not valid (empty when it is), each with a pointer inside the schema. */
export function schemaProblems(schema: { [k: string]: unknown }): Array<{ pointer: string; message: string }> {
  const ajv = ajvFor(schema);
  if (typeof ajv === 'string') return [{ pointer: '/$schema', message: ajv }];
  try {
    if (!ajv.validateSchema(schema)) {
      return (ajv.errors ?? []).slice(0, 5).map((e) => ({ pointer: e.instancePath, message: `${e.instancePath || '/'} ${e.message ?? 'is invalid'}` }));
    }
    ajv.compile(schema);
    return [];
  } catch (err) {
    return [{ pointer: '', message: (err as Error).message.split('\n')[0]!.slice(0, 300) }];
  }
}

/** A validator for a schema known to be valid, or undefined when it cannot be compiled. */
export function validatorFor(schema: { [k: string]: unknown }): ValidateFunction | undefined {
  const ajv = ajvFor(schema);
  if (typeof ajv === 'string') return undefined;
  try {
    return ajv.compile(schema);
  } catch {
    return undefined;
  }
}
