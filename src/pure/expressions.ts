/**
 * Skill expressions: CEL (https://cel.dev), evaluated deterministically inside the workflow
 * and checked by the compiler. Never `eval`.
 *
 * The evaluation context is `{ inputs, steps }` where `steps.<id>` is
 * `{ output, skipped }` for every finished step.
 *
 * CEL keeps int and double apart (`1.5 * 2` is an error, `1.5 * 2.0` is not). JSON numbers
 * that are whole become CEL ints so that `inputs.amount * 2` works as analysts expect;
 * results come back as plain JSON numbers.
 *
 * Pure module: no Node built-ins, no I/O (it runs in the workflow sandbox).
 */
import { Environment } from '@marcbachmann/cel-js';
import type { ValueTemplate } from '../contracts/plan.js';
import type { Json } from '../contracts/json.js';

const env = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: true,
  limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
});

type Compiled = ReturnType<typeof env.parse>;
const cache = new Map<string, Compiled>();

/** Roots an expression may read. */
export const EXPRESSION_ROOTS = ['inputs', 'steps', 'user'] as const;

/** A CEL syntax error with the offset (0-based) inside the expression source. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}

/** Evaluation failed (missing key, type mismatch, …). */
export class ExpressionEvaluationError extends Error {
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(message);
    this.name = 'ExpressionEvaluationError';
  }
}

function compile(source: string): Compiled {
  let c = cache.get(source);
  if (!c) {
    try {
      c = env.parse(source);
    } catch (err) {
      const e = err as { message?: string; node?: { pos?: number } };
      const offset = typeof e.node?.pos === 'number' ? e.node.pos : source.length;
      throw new ExpressionSyntaxError(firstLine(e.message ?? String(err)), offset);
    }
    cache.set(source, c);
  }
  return c;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

/** What an expression reads: input names and step ids (first segment after the root). */
export interface ExpressionRefs {
  inputs: string[];
  steps: string[];
  /** Identifiers that are neither `inputs` nor `steps` (unknown variables). */
  unknownRoots: string[];
}

/** Parse `source` and list what it reads. Throws ExpressionSyntaxError. */
export function expressionRefs(source: string): ExpressionRefs {
  const ast = compile(source).ast as unknown;
  const refs = { inputs: new Set<string>(), steps: new Set<string>(), unknownRoots: new Set<string>() };
  const bound = new Set<string>();
  walk(ast, refs, bound);
  return { inputs: [...refs.inputs], steps: [...refs.steps], unknownRoots: [...refs.unknownRoots] };
}

interface AstNode {
  op: string;
  args: unknown;
}

function isNode(x: unknown): x is AstNode {
  return typeof x === 'object' && x !== null && 'op' in x && typeof (x as AstNode).op === 'string';
}

function walk(node: unknown, refs: { inputs: Set<string>; steps: Set<string>; unknownRoots: Set<string> }, bound: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, refs, bound);
    return;
  }
  if (!isNode(node)) return;
  // Field selection on a root: inputs.x / steps.y (also optional selection `.?`).
  if ((node.op === '.' || node.op === '.?') && Array.isArray(node.args)) {
    const [target, field] = node.args as [unknown, unknown];
    if (isNode(target) && target.op === 'id' && typeof field === 'string') {
      const root = target.args as string;
      if (root === 'inputs') refs.inputs.add(field);
      else if (root === 'steps') refs.steps.add(field);
      else if (root !== 'user' && !bound.has(root)) refs.unknownRoots.add(root);
      return;
    }
  }
  if (node.op === 'id') {
    const name = node.args as string;
    if (!bound.has(name) && name !== 'inputs' && name !== 'steps' && name !== 'user') refs.unknownRoots.add(name);
    return;
  }
  // Comprehension macros (all, exists, map, filter, …) bind an iteration variable.
  if (node.op === 'rcall' || node.op === 'call') {
    const args = node.args as unknown[];
    const macroVar = findMacroVariable(args);
    if (macroVar) {
      const inner = new Set(bound);
      inner.add(macroVar);
      walk(args, refs, inner);
      return;
    }
  }
  walk(node.args, refs, bound);
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter', 'transformList', 'transformMap']);

/** For `list.all(x, …)` the AST is `rcall [name, target, [id x, body]]`: return `x`. */
function findMacroVariable(args: unknown[]): string | undefined {
  const name = args[0];
  if (typeof name !== 'string' || !MACROS.has(name)) return undefined;
  const params = args[2];
  if (Array.isArray(params) && isNode(params[0]) && params[0].op === 'id') return params[0].args as string;
  return undefined;
}

/** The data expressions are evaluated against. */
export interface ExpressionContext {
  inputs: { [key: string]: Json };
  steps: { [id: string]: { output: Json; skipped: boolean } };
  /** The user the run acts for (pinned at start): id, roles, groups and `users.<id>.attributes`. */
  user?: { id: string; roles: string[]; groups: string[]; attributes: { [key: string]: string } };
}

/** Whole JSON numbers become CEL ints (BigInt). */
function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toCel(x);
    return out;
  }
  return v;
}

/** CEL values back to JSON: BigInt → number, Map → object, Uint8Array → base64-less array. */
function fromCel(v: unknown): Json {
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(fromCel);
  if (v instanceof Map) {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of v) out[String(k)] = fromCel(x);
    return out;
  }
  if (v instanceof Uint8Array) return Array.from(v);
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromCel(x);
    return out;
  }
  return v as Json;
}

/** `inputs.x`, `steps.a.output.b`, `user.id`: a plain reference, the most common expression. */
const PLAIN_REFERENCE = /^\s*(?:inputs|steps|user)(?:\.[A-Za-z_][A-Za-z0-9_]*)+\s*$/;

/**
 * A plain reference read straight from the context, as CEL would give it; undefined when the
 * path does not lead to a value (CEL then evaluates it, and says what is missing).
 */
function readReference(source: string, ctx: ExpressionContext): Json | undefined {
  let v: unknown = ctx;
  for (const key of source.trim().split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v === undefined ? undefined : fromCel(v);
}

/** Evaluate one CEL expression. Throws ExpressionSyntaxError / ExpressionEvaluationError. */
export function evaluateExpression(source: string, ctx: ExpressionContext): Json {
  if (PLAIN_REFERENCE.test(source)) {
    const v = readReference(source, ctx);
    if (v !== undefined) return v;
  }
  const c = compile(source);
  try {
    return fromCel(c(toCel(ctx) as Record<string, unknown>));
  } catch (err) {
    throw new ExpressionEvaluationError(`${firstLine((err as Error).message ?? String(err))} in \`${source}\``, source);
  }
}

/** Evaluate a condition; anything but a boolean is an error (no truthiness surprises). */
export function evaluateCondition(source: string, ctx: ExpressionContext): boolean {
  const v = evaluateExpression(source, ctx);
  if (typeof v !== 'boolean') {
    throw new ExpressionEvaluationError(`condition \`${source}\` gave ${JSON.stringify(v)}, not true or false`, source);
  }
  return v;
}

/** Text form of a value inside `${{ }}` interpolation. */
export function stringify(v: Json): string {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** Build the value a template describes. */
export function renderTemplate(t: ValueTemplate, ctx: ExpressionContext): Json {
  switch (t.kind) {
    case 'literal':
      return t.value;
    case 'expr':
      return evaluateExpression(t.expr, ctx);
    case 'interp':
      return t.parts.map((p) => (typeof p === 'string' ? p : stringify(evaluateExpression(p.expr, ctx)))).join('');
    case 'object': {
      const out: { [k: string]: Json } = {};
      for (const [k, v] of Object.entries(t.entries)) out[k] = renderTemplate(v, ctx);
      return out;
    }
    case 'array':
      return t.items.map((i) => renderTemplate(i, ctx));
  }
}

const INTERP_RE = /\$\{\{([\s\S]*?)\}\}/g;

/**
 * A string as written in YAML → template. `"${{ expr }}"` alone keeps the value's type;
 * text around `${{ }}` makes an interpolated string; no `${{` → literal.
 * Offsets of each expression inside the string are returned for error positions.
 */
export function parseStringTemplate(text: string): { template: ValueTemplate; exprs: Array<{ expr: string; offset: number }> } {
  const exprs: Array<{ expr: string; offset: number }> = [];
  const parts: Array<string | { expr: string }> = [];
  let last = 0;
  for (const m of text.matchAll(INTERP_RE)) {
    const idx = m.index;
    if (idx > last) parts.push(text.slice(last, idx));
    const raw = m[1]!;
    const expr = raw.trim();
    exprs.push({ expr, offset: idx + 3 + (raw.length - raw.trimStart().length) });
    parts.push({ expr });
    last = idx + m[0].length;
  }
  if (exprs.length === 0) return { template: { kind: 'literal', value: text }, exprs };
  if (last < text.length) parts.push(text.slice(last));
  if (parts.length === 1 && typeof parts[0] !== 'string') return { template: { kind: 'expr', expr: exprs[0]!.expr }, exprs };
  return { template: { kind: 'interp', parts }, exprs };
}
