/**
 * Spec adherence (MCP 2025-11-25, server/tools.mdx "Tool", "Tool Names", "Output Schema";
 * basic/index.mdx "JSON Schema Usage"; schema.ts `ToolAnnotations`).
 */
import { ToolSchema } from '@modelcontextprotocol/sdk/types.js';
import { schemaProblems, validatorFor } from '../schema-check.js';
import { nameWords, quote } from '../text.js';
import type { RawFinding, ServerRule, ToolRule } from './types.js';

/** tools.mdx "Tool Names": 1–128 characters of A–Z a–z 0–9 _ - . */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const isObject = (v: unknown): v is { [k: string]: unknown } => v !== null && typeof v === 'object' && !Array.isArray(v);

export const toolName: ToolRule = {
  id: 'SG-SPEC-001',
  family: 'spec',
  level: 'warning',
  scope: 'tool',
  name: 'Tool name outside the spec pattern',
  why: 'MCP tool names should be 1–128 characters of letters, digits, "_", "-" and "."; clients and gateways that prefix or route by name break on anything else, and look-alike characters let one tool pass for another.',
  check(tool) {
    if (typeof tool.name !== 'string') return [{ pointer: '/name', message: 'the tool has no name', level: 'error' }];
    if (TOOL_NAME.test(tool.name)) return [];
    const bad = [...new Set([...tool.name].filter((c) => !/[A-Za-z0-9_.-]/.test(c)))].slice(0, 5);
    return [{ pointer: '/name', message: `name ${quote(tool.name)} ${tool.name.length > 128 ? `is ${tool.name.length} characters long` : `contains ${bad.map((c) => quote(c)).join(', ')}`}` }];
  },
};

export const inputSchemaMissing: ToolRule = {
  id: 'SG-SPEC-002',
  family: 'spec',
  level: 'error',
  scope: 'tool',
  name: 'inputSchema missing or not an object schema',
  why: 'A tool MUST have an inputSchema, a JSON Schema object with `type: "object"` at its root: without it an agent cannot know what to send, the gateway cannot check arguments, and SDK clients reject the server\'s whole tool list.',
  check(tool) {
    if (!Object.hasOwn(tool, 'inputSchema') || tool.inputSchema === undefined) return [{ pointer: '/inputSchema', message: 'no inputSchema' }];
    if (!isObject(tool.inputSchema)) return [{ pointer: '/inputSchema', message: `inputSchema is ${tool.inputSchema === null ? 'null' : typeof tool.inputSchema}, not a JSON Schema object` }];
    if (tool.inputSchema.type !== 'object') return [{ pointer: '/inputSchema/type', message: `the root of inputSchema has type ${JSON.stringify(tool.inputSchema.type) ?? '(none)'}, not "object"` }];
    return [];
  },
};

export const inputSchemaInvalid: ToolRule = {
  id: 'SG-SPEC-003',
  family: 'spec',
  level: 'error',
  scope: 'tool',
  name: 'inputSchema is not a valid JSON Schema',
  why: 'inputSchema must be valid under its dialect (2020-12 unless `$schema` says otherwise); an invalid schema validates nothing, so arguments reach the server unchecked.',
  check(tool) {
    if (!isObject(tool.inputSchema)) return [];
    return schemaProblems(tool.inputSchema).map((p) => ({ pointer: `/inputSchema${p.pointer}`, message: p.message }));
  },
};

export const outputSchemaInvalid: ToolRule = {
  id: 'SG-SPEC-004',
  family: 'spec',
  level: 'error',
  scope: 'tool',
  name: 'outputSchema invalid',
  why: 'When a tool declares an outputSchema it must be a valid JSON Schema with an object root; clients validate structured results against it, and skills read fields by it.',
  check(tool) {
    if (!Object.hasOwn(tool, 'outputSchema') || tool.outputSchema === undefined) return [];
    if (!isObject(tool.outputSchema)) return [{ pointer: '/outputSchema', message: 'outputSchema is not a JSON Schema object' }];
    const out: RawFinding[] = [];
    if (tool.outputSchema.type !== 'object') out.push({ pointer: '/outputSchema/type', message: `the root of outputSchema has type ${JSON.stringify(tool.outputSchema.type) ?? '(none)'}, not "object"` });
    out.push(...schemaProblems(tool.outputSchema).map((p) => ({ pointer: `/outputSchema${p.pointer}`, message: p.message })));
    return out;
  },
};

export const examplesMismatch: ToolRule = {
  id: 'SG-SPEC-005',
  family: 'spec',
  level: 'warning',
  scope: 'tool',
  name: 'Documented example does not match its schema',
  why: 'Examples are what a model imitates: an example the schema refuses teaches the model to send calls that fail (or documents results the tool does not give).',
  check(tool) {
    const out: RawFinding[] = [];
    for (const field of ['inputSchema', 'outputSchema'] as const) {
      const schema = tool[field];
      if (!isObject(schema) || !Array.isArray(schema.examples) || schemaProblems(schema).length) continue;
      const validate = validatorFor(schema);
      if (!validate) continue;
      schema.examples.forEach((ex, i) => {
        if (!validate(ex)) out.push({ pointer: `/${field}/examples/${i}`, message: `example ${i} is refused by ${field}: ${validate.errors?.[0]?.instancePath || '/'} ${validate.errors?.[0]?.message ?? ''}`.trim() });
      });
    }
    return out;
  },
};

export const resultMismatch: ToolRule = {
  id: 'SG-SPEC-006',
  family: 'spec',
  level: 'error',
  scope: 'tool',
  name: 'Real result does not match outputSchema',
  why: 'A server that declares an outputSchema MUST return structured content that conforms to it; the tool was called with its own documented example (read-only tools only) and its answer did not.',
  check(tool, ctx) {
    const probe = typeof tool.name === 'string' ? ctx.probes?.get(tool.name) : undefined;
    if (!probe || !isObject(tool.outputSchema)) return [];
    if ('error' in probe) return [{ pointer: '/outputSchema', message: `calling it with its documented example failed: ${probe.error}`, level: 'warning' }];
    const r = probe.result as { structuredContent?: unknown; isError?: unknown };
    if (r.isError === true) return [{ pointer: '/outputSchema', message: 'its documented example was answered with isError', level: 'warning' }];
    if (r.structuredContent === undefined) return [{ pointer: '/outputSchema', message: 'the result of its documented example has no structuredContent' }];
    const validate = validatorFor(tool.outputSchema);
    if (validate && !validate(r.structuredContent)) {
      return [{ pointer: `/outputSchema`, message: `the result of its documented example is refused by outputSchema: ${validate.errors?.[0]?.instancePath || '/'} ${validate.errors?.[0]?.message ?? ''}`.trim() }];
    }
    return [];
  },
};

export const annotationsMissing: ToolRule = {
  id: 'SG-SPEC-007',
  family: 'spec',
  level: 'warning',
  scope: 'tool',
  name: 'No annotations',
  why: 'Without `readOnlyHint` / `destructiveHint` a client cannot tell a lookup from a deletion, so it either asks for confirmation on everything or on nothing; skills run read-only steps differently.',
  check(tool) {
    if (isObject(tool.annotations) && ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'].some((k) => Object.hasOwn(tool.annotations as object, k))) return [];
    return [{ pointer: '/annotations', message: 'no behaviour hints (readOnlyHint, destructiveHint, idempotentHint, openWorldHint)' }];
  },
};

export const annotationsContradict: ToolRule = {
  id: 'SG-SPEC-008',
  family: 'spec',
  level: 'warning',
  scope: 'tool',
  name: 'Contradictory annotations',
  why: 'A tool cannot both leave its environment unchanged (`readOnlyHint: true`) and destroy things (`destructiveHint: true`); clients pick one of the two, and either way someone is misled.',
  check(tool) {
    const a = isObject(tool.annotations) ? tool.annotations : {};
    if (a.readOnlyHint === true && a.destructiveHint === true) return [{ pointer: '/annotations/destructiveHint', message: 'readOnlyHint and destructiveHint are both true' }];
    return [];
  },
};

/** Verbs that destroy or undo (a name word, or the first word of the description). */
const DESTRUCTIVE = new Set(['delete', 'remove', 'drop', 'destroy', 'erase', 'purge', 'wipe', 'truncate', 'overwrite', 'kill', 'terminate', 'revoke', 'reset', 'uninstall', 'cancel', 'deletes', 'removes', 'drops', 'destroys', 'erases', 'purges', 'wipes', 'truncates', 'overwrites', 'kills', 'terminates', 'revokes', 'resets', 'cancels', 'rm', 'del']);

export const destructiveUndeclared: ToolRule = {
  id: 'SG-SPEC-009',
  family: 'spec',
  level: 'warning',
  scope: 'tool',
  name: 'Sounds destructive, not declared destructive',
  why: 'Clients ask the user before calling a tool marked `destructiveHint: true` (and not read-only); a tool that deletes or overwrites without saying so is run without that confirmation. The spec\'s default is not enough: say it explicitly.',
  check(tool) {
    const name = typeof tool.name === 'string' ? tool.name : '';
    const first = typeof tool.description === 'string' ? (tool.description.trim().split(/\s+/)[0] ?? '').toLowerCase().replace(/[^a-z]/g, '') : '';
    const word = nameWords(name).find((w) => DESTRUCTIVE.has(w)) ?? (DESTRUCTIVE.has(first) ? first : undefined);
    if (!word) return [];
    const a = isObject(tool.annotations) ? tool.annotations : {};
    if (a.readOnlyHint !== true && a.destructiveHint === true) return [];
    const how = a.readOnlyHint === true ? 'is marked readOnlyHint: true' : a.destructiveHint === false ? 'is marked destructiveHint: false' : 'has no destructiveHint';
    return [{ pointer: '/annotations', message: `"${word}" says it destroys or undoes something, but it ${how}` }];
  },
};

export const duplicateNames: ServerRule = {
  id: 'SG-SPEC-010',
  family: 'spec',
  level: 'error',
  scope: 'server',
  name: 'Two tools with the same name',
  why: 'Tool names must be unique within a server: a call by name reaches one of them, and which one is up to the client.',
  check(ctx) {
    const seen = new Map<string, number>();
    const out: RawFinding[] = [];
    ctx.inventory.tools.forEach((t, i) => {
      if (typeof t.name !== 'string') return;
      const first = seen.get(t.name);
      if (first !== undefined) out.push({ tool: t.name, pointer: `/tools/${i}/name`, message: `"${t.name}" is also tool ${first} of the list` });
      else seen.set(t.name, i);
    });
    return out;
  },
};

export const listNotParsable: ServerRule = {
  id: 'SG-SPEC-011',
  family: 'spec',
  level: 'error',
  scope: 'server',
  name: 'Tool list refused by MCP clients',
  why: 'A tool that does not conform to MCP\'s Tool type makes SDK clients (and this gateway) reject the server\'s whole tools/list answer: no tool of the server can be served until it is fixed.',
  check(ctx) {
    const out: RawFinding[] = [];
    ctx.inventory.tools.forEach((t, i) => {
      const r = ToolSchema.safeParse(t);
      if (!r.success) {
        const issue = r.error.issues[0];
        const path = issue?.path.map((p) => `/${String(p)}`).join('') ?? '';
        out.push({ ...(typeof t.name === 'string' ? { tool: t.name } : {}), pointer: `/tools/${i}${path}`, message: `tool ${i}${typeof t.name === 'string' ? ` ("${t.name}")` : ''} is not an MCP Tool: ${path || '/'} ${issue?.message ?? ''}`.trim() });
      }
    });
    return out;
  },
};

export const SPEC_RULES = [toolName, inputSchemaMissing, inputSchemaInvalid, outputSchemaInvalid, examplesMismatch, resultMismatch, annotationsMissing, annotationsContradict, destructiveUndeclared, duplicateNames, listNotParsable] as const;
