/**
 * The one Ajv of the product: JSON Schema 2020-12 (what MCP tool schemas use), formats,
 * every error, defaults filled in. Callers that must not have their data changed validate a
 * copy (`useDefaults` writes defaults into the value being validated).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export that TypeScript's NodeNext view types as the module.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export const ajv = addFormats(new Ajv2020({ allErrors: true, strict: false, validateSchema: true, useDefaults: true }));
