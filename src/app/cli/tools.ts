import type { Command } from 'commander';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { JsonSchema } from '../../contracts/json.js';
import { didYouMean } from '../../shared/diagnostics.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

/** One argument of a tool, as a skill author writes it under `with:`. */
export interface ToolArgument {
  name: string;
  /** The JSON Schema type in short: `string`, `integer`, `"a" | "b"`, `list of string`. */
  type: string;
  required: boolean;
  description?: string;
  /** Limits in short: `1..120`, `pattern ^C-\d{4}$`, `default 36`. */
  constraints?: string;
}

/** One field of a tool's result, as an expression reads it: `steps.<id>.output.<path>`. */
export interface ToolOutputField {
  /** `name`, `accounts[].balance`. */
  path: string;
  type: string;
  description?: string;
}

/** What `skillgate tools --json` says about one tool. */
export interface ToolListing {
  name: string;
  /** What a plan's `tool:` names: `<server>.<tool>`. */
  ref: string;
  title?: string;
  description?: string;
  /** `readOnlyHint: true`: it only reads. Steps with tools that do not may not run in parallel unordered. */
  readOnly: boolean;
  arguments: ToolArgument[];
  /** Absent when the tool declares no `outputSchema` (its result is read unchecked). */
  output?: ToolOutputField[];
  annotations: { [key: string]: unknown };
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
}

/** One server in `skillgate tools --json`: its tools, or why they could not be listed. */
export type ServerListing = { server: string; tools: ToolListing[] } | { server: string; error: string };

/**
 * `skillgate tools [server] [--json]`: every configured server's tools with what a skill author
 * needs — arguments and their types, the fields of the result, the annotations. A server that
 * cannot be reached is reported (exit 1), the others are still listed.
 */
export function register(program: Command): void {
  program
    .command('tools')
    .description("list the configured servers' tools: arguments with their types, output fields, annotations")
    .argument('[server]', 'only this server (default: every server of skillgate.yaml)')
    .option('--json', 'print the result as JSON')
    .option('-v, --verbose', 'show upstream server logs')
    .action(async (server: string | undefined, opts: { json?: boolean; verbose?: boolean }, cmd: Command) => {
      const loaded = configFrom(cmd);
      const configured = Object.keys(loaded.config.servers);
      if (server !== undefined && !configured.includes(server)) {
        const guess = didYouMean(server, configured);
        throw new CliError(`unknown server "${server}"${guess ? ` (did you mean "${guess}"?)` : ''}\n  servers in ${loaded.file}: ${configured.join(', ') || '(none)'}`, 1);
      }
      const [{ fetchCatalog }, { withPool }] = await Promise.all([import('../../skills/catalog.js'), import('./connections.js')]);
      const names = server ? [server] : configured;
      const catalog = await withPool(loaded, (pool) => fetchCatalog(pool, names), opts.verbose);
      const listings: ServerListing[] = names.map((name) => {
        const entry = catalog.get(name);
        if (!entry || 'error' in entry) return { server: name, error: entry?.error ?? 'its tools were not listed' };
        return { server: name, tools: entry.tools.map((t) => listTool(name, t)) };
      });
      if (opts.json) process.stdout.write(`${JSON.stringify({ servers: listings }, null, 2)}\n`);
      else process.stdout.write(formatListings(listings));
      process.exitCode = listings.some((l) => 'error' in l) ? 1 : 0;
    });
}

/** A tool as `skillgate tools` shows it. */
function listTool(server: string, tool: Tool): ToolListing {
  const input = tool.inputSchema as JsonSchema;
  const required = new Set(Array.isArray(input.required) ? input.required.map(String) : []);
  const props = objectOf(input.properties);
  const { title: _title, ...annotations } = tool.annotations ?? {};
  const output = tool.outputSchema as JsonSchema | undefined;
  return {
    name: tool.name,
    ref: `${server}.${tool.name}`,
    ...(tool.title ? { title: tool.title } : {}),
    ...(tool.description ? { description: tool.description } : {}),
    readOnly: tool.annotations?.readOnlyHint === true,
    arguments: Object.entries(props).map(([name, s]) => {
      const constraints = constraintsOf(s);
      return {
        name,
        type: typeText(s),
        required: required.has(name),
        ...(typeof s.description === 'string' ? { description: s.description } : {}),
        ...(constraints ? { constraints } : {}),
      };
    }),
    ...(output ? { output: outputFields(output, '', 0) } : {}),
    annotations,
    inputSchema: input,
    ...(output ? { outputSchema: output } : {}),
  };
}

function objectOf(v: unknown): { [k: string]: JsonSchema } {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as { [k: string]: JsonSchema }) : {};
}

/** A JSON Schema's type in short, as analysts read it. */
function typeText(s: JsonSchema | undefined): string {
  if (!s || typeof s !== 'object') return 'any';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  for (const k of ['anyOf', 'oneOf'] as const) {
    const alts = s[k];
    if (Array.isArray(alts)) return alts.map((a) => typeText(a as JsonSchema)).join(' | ');
  }
  const t = s.type;
  if (Array.isArray(t)) return t.map((x) => typeText({ ...s, type: x })).join(' | ');
  if (t === 'array') return `list of ${typeText(s.items as JsonSchema | undefined)}`;
  if (t === 'object' || (t === undefined && s.properties)) {
    const keys = Object.keys(objectOf(s.properties));
    return keys.length ? `object {${keys.join(', ')}}` : 'object';
  }
  return typeof t === 'string' ? t : 'any';
}

/** Limits worth knowing before a run refuses them. */
function constraintsOf(s: JsonSchema): string | undefined {
  const out: string[] = [];
  const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const min = num('minimum');
  const max = num('maximum');
  const xmin = num('exclusiveMinimum');
  const xmax = num('exclusiveMaximum');
  if (min !== undefined && max !== undefined) out.push(`${min}..${max}`);
  else if (min !== undefined) out.push(`>= ${min}`);
  else if (max !== undefined) out.push(`<= ${max}`);
  if (xmin !== undefined) out.push(`> ${xmin}`);
  if (xmax !== undefined) out.push(`< ${xmax}`);
  const minL = num('minLength');
  const maxL = num('maxLength');
  if (minL !== undefined || maxL !== undefined) out.push(`length ${minL ?? 0}..${maxL ?? ''}`.replace(/\.\.$/, '+'));
  if (typeof s.pattern === 'string') out.push(`pattern ${s.pattern}`);
  if (typeof s.format === 'string') out.push(`format ${s.format}`);
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`);
  return out.length ? out.join(', ') : undefined;
}

/** The fields of a result, nested ones as `a.b` and list items as `a[].b` (three levels deep). */
function outputFields(s: JsonSchema, prefix: string, depth: number): ToolOutputField[] {
  const out: ToolOutputField[] = [];
  for (const [name, sub] of Object.entries(objectOf(s.properties))) {
    const path = `${prefix}${name}`;
    out.push({ path, type: typeText(sub), ...(typeof sub.description === 'string' ? { description: sub.description } : {}) });
    if (depth >= 2) continue;
    if (sub.properties) out.push(...outputFields(sub, `${path}.`, depth + 1));
    const items = sub.type === 'array' ? (sub.items as JsonSchema | undefined) : undefined;
    if (items && typeof items === 'object' && items.properties) out.push(...outputFields(items, `${path}[].`, depth + 1));
  }
  return out;
}

/** Columns padded to their widest cell. */
function table(rows: string[][], indent: string): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) => `${indent}${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

/** The text form of `skillgate tools`. */
function formatListings(listings: ServerListing[]): string {
  const lines: string[] = [];
  for (const l of listings) {
    if ('error' in l) {
      lines.push(`${l.server}: unreachable — ${l.error}`, `    hint: start it, or fix servers.${l.server} in skillgate.yaml (\`--verbose\` shows its log)`, '');
      continue;
    }
    lines.push(`${l.server}: ${l.tools.length} tool${l.tools.length === 1 ? '' : 's'}`, '');
    for (const t of l.tools) {
      lines.push(`  ${t.ref}${t.title ? ` — ${t.title}` : ''}  [${t.readOnly ? 'read-only' : 'changes state'}]`);
      if (t.description) lines.push(`    ${t.description}`);
      if (t.arguments.length) {
        lines.push('    arguments (with:):');
        lines.push(...table(t.arguments.map((a) => [`${a.name}${a.required ? '*' : ''}`, a.type, [a.constraints, a.description].filter(Boolean).join(' — ')]), '      '));
      } else {
        lines.push('    arguments: none');
      }
      if (t.output) {
        lines.push('    output (steps.<id>.output.…):');
        lines.push(...table(t.output.map((f) => [f.path, f.type, f.description ?? '']), '      '));
      } else {
        lines.push('    output: not declared (read unchecked)');
      }
      const ann = Object.entries(t.annotations);
      if (ann.length) lines.push(`    annotations: ${ann.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}`);
      lines.push('');
    }
  }
  lines.push('* required argument');
  return `${lines.join('\n')}\n`;
}
