/**
 * What a pin covers: the parts of a tool definition an agent reads or relies on — name, title,
 * description, inputSchema, outputSchema, annotations — hashed as SHA-256 over their RFC 8785
 * canonical JSON. `icons`, `execution` and `_meta` are left out: they change nothing the model
 * is told or may send.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../src/shared/canonical-json.js';

/** The pinned fields of a tool, those present. */
export interface PinnedDefinition {
  name: unknown;
  title?: unknown;
  description?: unknown;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

/** The fields a pin covers, in the order the issue names them. */
export const PINNED_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

/** The pinned fields of a tool as sent (absent fields stay absent, so adding one changes the hash). */
export function pinnedDefinition(tool: { readonly [key: string]: unknown }): PinnedDefinition {
  const out: { [key: string]: unknown } = {};
  for (const f of PINNED_FIELDS) if (Object.hasOwn(tool, f) && tool[f] !== undefined) out[f] = tool[f];
  return out as unknown as PinnedDefinition;
}

/**
 * `sha256:<hex>` of the canonical JSON of the tool's pinned fields.
 *
 * @example definitionHash({ name: 'echo', inputSchema: { type: 'object' } }) // 'sha256:…'
 */
export function definitionHash(tool: { readonly [key: string]: unknown }): string {
  return `sha256:${createHash('sha256').update(canonicalJson(pinnedDefinition(tool))).digest('hex')}`;
}

/** One field that differs between two definitions (for the audit trail's diff). */
export interface FieldChange {
  field: (typeof PINNED_FIELDS)[number];
  /** The approved value and the current one (absent = the field is not there). */
  before?: unknown;
  after?: unknown;
}

/** Which pinned fields differ, with both values (canonical JSON compared, so key order does not count). */
export function diffDefinitions(before: { readonly [key: string]: unknown } | undefined, after: { readonly [key: string]: unknown } | undefined): FieldChange[] {
  const a = before ? pinnedDefinition(before) : ({} as PinnedDefinition);
  const b = after ? pinnedDefinition(after) : ({} as PinnedDefinition);
  const changes: FieldChange[] = [];
  for (const field of PINNED_FIELDS) {
    const x = (a as unknown as Record<string, unknown>)[field];
    const y = (b as unknown as Record<string, unknown>)[field];
    const same = x === undefined || y === undefined ? x === y : canonicalJson(x) === canonicalJson(y);
    if (!same) changes.push({ field, ...(x !== undefined ? { before: x } : {}), ...(y !== undefined ? { after: y } : {}) });
  }
  return changes;
}
