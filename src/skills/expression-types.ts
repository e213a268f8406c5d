/**
 * Static types of skill expressions: what an expression reads (`inputs.x`, `steps.y.output.z`)
 * is typed from the inputs' JSON Schema and the tools' `outputSchema`s, and CEL's own type
 * checker does the rest. It finds what otherwise fails only at run time: a number compared
 * with a text, an `if:` that is not true or false, a decimal mixed with a whole number, a
 * field a tool never returns, a value of one type wired into an argument of another.
 *
 * The runtime (src/pure/expressions.ts) reads every value as `dyn` and turns whole JSON
 * numbers into CEL ints, others into doubles. So this checker
 *  - types a JSON Schema `number` both ways: an expression that fails only one way fails only
 *    for some values — a warning that says for which;
 *  - types objects as `map<string, dyn>` (their fields are checked here, against the schema),
 *    so that no difference between CEL structs and the runtime's maps can make a false alarm;
 *  - accepts what the runtime accepts on `dyn` values although CEL's checker refuses it on
 *    typed ones: `==`/`!=`/`in` across int and double and against null, lists and maps, and
 *    ternaries whose branches differ (`skipped ? null : output.x`).
 */
import { Environment } from '@marcbachmann/cel-js';
import { didYouMean } from '../shared/diagnostics.js';
import type { JsonSchema } from '../contracts/json.js';

/** What one step's `output` is, as far as the compiler knows. */
export interface StepShape {
  /** JSON Schema of `steps.<id>.output`; absent when unknown (read as `dyn`). */
  output?: JsonSchema;
  /** Who produces it, for messages: `core-banking.get_customer`, `an approval`. */
  source: string;
}

/** Everything an expression may read, typed. */
export interface ExpressionScope {
  /** The inputs' JSON Schema (`type: object`); absent when it is unusable (inputs read as `dyn`). */
  inputs?: JsonSchema;
  /** Step id → its output's shape; steps not listed are read as `dyn`. */
  steps: ReadonlyMap<string, StepShape>;
}

/** How the value of an expression is used, which decides which type it must have. */
export type ExpressionUse =
  | { kind: 'condition' }
  | { kind: 'argument'; argument: string; tool: string; schema: JsonSchema }
  | { kind: 'value' };

/** A problem found at `offset` (0-based, inside the expression's source). */
export interface TypeProblem {
  offset: number;
  severity: 'error' | 'warning';
  code: 'expr-type' | 'if-not-boolean' | 'argument-type' | 'step-field-unknown' | 'output-field-unknown' | 'output-field-undeclared' | 'user-field-unknown';
  message: string;
  hint?: string;
}

/** The output of an approval step (an ApprovalRecord, src/contracts/run.ts). */
export const APPROVAL_OUTPUT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: { approvedBy: { type: 'string' }, decision: { type: 'string' }, comment: {}, at: { type: 'integer' } },
  required: ['approvedBy', 'decision', 'comment', 'at'],
  additionalProperties: false,
};

const OPTIONS = { homogeneousAggregateLiterals: false, enableOptionalTypes: true } as const;
const parser = new Environment({ ...OPTIONS, unlistedVariablesAreDyn: true });

/** A value read: `inputs.amount`, `steps.score.output.score`, … replaced by one typed variable. */
interface Read {
  start: number;
  end: number;
  /** The path as written, for messages: `inputs.amount`. */
  path: string;
  /** The schema type that decides the CEL type: `number` has two (int, double). */
  cel: string;
}

interface AstNode {
  op: string;
  args: unknown;
  start: number;
  end: number;
}

function isNode(x: unknown): x is AstNode {
  return typeof x === 'object' && x !== null && typeof (x as AstNode).op === 'string';
}

/** `a.b.c` rooted at `inputs` or `steps`: its segments (root first) and each segment's node. */
function chainOf(node: AstNode): Array<{ name: string; node: AstNode }> | undefined {
  if (node.op === 'id') return node.args === 'inputs' || node.args === 'steps' || node.args === 'user' ? [{ name: node.args, node }] : undefined;
  if (node.op !== '.' || !Array.isArray(node.args)) return undefined;
  const [target, field] = node.args as [unknown, unknown];
  if (!isNode(target) || typeof field !== 'string') return undefined;
  const head = chainOf(target);
  return head ? [...head, { name: field, node }] : undefined;
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter', 'transformList', 'transformMap']);

/** Every maximal chain an expression reads (a macro's own variables are not roots). */
function collectChains(node: unknown, bound: ReadonlySet<string>, out: Array<Array<{ name: string; node: AstNode }>>): void {
  if (Array.isArray(node)) {
    for (const n of node) collectChains(n, bound, out);
    return;
  }
  if (!isNode(node)) return;
  const chain = chainOf(node);
  if (chain && !bound.has(chain[0]!.name)) {
    out.push(chain);
    return;
  }
  const args = Array.isArray(node.args) ? (node.args as unknown[]) : [];
  // has(a.b.c) needs a field selection as its argument: the chain read is `a.b`.
  if (node.op === 'call' && args[0] === 'has' && Array.isArray(args[1])) {
    const sel = (args[1] as unknown[])[0];
    if (isNode(sel) && sel.op === '.' && Array.isArray(sel.args)) {
      collectChains((sel.args as unknown[])[0], bound, out);
      return;
    }
  }
  if ((node.op === 'rcall' || node.op === 'call') && typeof args[0] === 'string' && MACROS.has(args[0])) {
    const params = args[2];
    const v = Array.isArray(params) && isNode(params[0]) && params[0].op === 'id' ? (params[0].args as string) : undefined;
    if (v) {
      collectChains(args.slice(1), new Set([...bound, v]), out);
      return;
    }
  }
  collectChains(node.args, bound, out);
}

function schemaType(s: JsonSchema | undefined): string | undefined {
  if (!s) return undefined;
  if (typeof s.type === 'string') return s.type;
  if (s.type === undefined && s.properties && typeof s.properties === 'object' && !Array.isArray(s.properties)) return 'object';
  return undefined;
}

/** The CEL type of a value with JSON Schema `s` as the runtime sees it (`number` decided per mode). */
function celTypeOf(s: JsonSchema | undefined): string {
  switch (schemaType(s)) {
    case 'integer':
      return 'int';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'object':
      return 'map<string, dyn>';
    case 'array': {
      const items = s!.items as JsonSchema | undefined;
      const t = items && typeof items === 'object' && !Array.isArray(items) ? celTypeOf(items) : 'dyn';
      // A list of numbers may hold ints and doubles at once: its items stay dyn.
      return `list<${t === 'int' || t === 'string' || t === 'bool' ? t : 'dyn'}>`;
    }
    default:
      return 'dyn';
  }
}

const KIND_WORDS: Record<string, string> = {
  string: 'a text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/** A CEL type in an analyst's words: `double` → "a decimal number (double)". */
function describe(t: string): string {
  if (t === 'int') return 'a whole number (int)';
  if (t === 'double') return 'a decimal number (double)';
  if (t === 'string') return 'a text (string)';
  if (t === 'bool') return 'true or false (bool)';
  if (t === 'null') return 'null';
  if (t.startsWith('list<')) return `a list (${t})`;
  if (t.startsWith('map<')) return `an object (${t})`;
  return t;
}

interface Resolved {
  /** Problems of the path itself (reported whatever the types). */
  problems: TypeProblem[];
  /** The chain's value, or undefined when the chain cannot be read (an error above). */
  read?: Read;
}

/** Type one chain against the scope; report fields that do not exist. */
function resolveChain(chain: Array<{ name: string; node: AstNode }>, scope: ExpressionScope, source: string): Resolved {
  const root = chain[0]!;
  const text = (i: number) => source.slice(root.node.start, chain[i]!.node.end);
  const fieldAt = (i: number) => chain[i]!.node.end - chain[i]!.name.length;
  const last = chain.length - 1;
  const read = (schema: JsonSchema | undefined, upTo: number): Read => ({ start: root.node.start, end: chain[upTo]!.node.end, path: text(upTo), cel: celTypeOf(schema) });
  if (chain.length === 1) return { problems: [], read: { start: root.node.start, end: root.node.end, path: root.name, cel: 'map<string, dyn>' } };

  if (root.name === 'user') {
    // The run's user: id, roles, groups, attributes (users.<id>.attributes, strings).
    const field = chain[1]!.name;
    const cel: Record<string, string> = { id: 'string', roles: 'list<string>', groups: 'list<string>', attributes: 'map<string, string>' };
    if (!Object.hasOwn(cel, field)) {
      return { problems: [{ offset: fieldAt(1), severity: 'error', code: 'user-field-unknown', message: `\`user\` has no field "${field}"`, hint: 'the user has `id`, `roles`, `groups` and `attributes` (users.<id>.attributes in skillgate.yaml)' }] };
    }
    if (chain.length === 2) return { problems: [], read: { ...read(undefined, 1), cel: cel[field]! } };
    if (field === 'attributes' && chain.length === 3) return { problems: [], read: { ...read(undefined, 2), cel: 'string' } };
    return { problems: [{ offset: fieldAt(2), severity: 'error', code: 'user-field-unknown', message: `\`${text(1)}\` has no field "${chain[2]!.name}"` }] };
  }

  let schema: JsonSchema | undefined;
  let from: number;
  let warnOpen: boolean;
  let owner: string;
  if (root.name === 'inputs') {
    const props = scope.inputs?.properties as { [k: string]: JsonSchema } | undefined;
    schema = props && Object.hasOwn(props, chain[1]!.name) ? props[chain[1]!.name] : undefined;
    from = 2;
    warnOpen = false;
    owner = `input "${chain[1]!.name}"`;
  } else {
    const id = chain[1]!.name;
    if (chain.length === 2) return { problems: [], read: read({ type: 'object' }, 1) };
    const field = chain[2]!.name;
    if (field === 'skipped') {
      if (chain.length > 3) {
        return { problems: [{ offset: fieldAt(3), severity: 'error', code: 'step-field-unknown', message: `\`${text(2)}\` is true or false; it has no field "${chain[3]!.name}"`, hint: `read the step's result as \`steps.${id}.output.${chain[3]!.name}\`` }] };
      }
      return { problems: [], read: { ...read(undefined, 2), cel: 'bool' } };
    }
    if (field !== 'output') {
      const rest = chain.slice(2).map((c) => c.name).join('.');
      return {
        problems: [
          {
            offset: fieldAt(2),
            severity: 'error',
            code: 'step-field-unknown',
            message: `\`${text(last)}\` reads "${field}" of the step itself; a step has only \`output\` (its result) and \`skipped\``,
            hint: `write \`steps.${id}.output.${rest}\``,
          },
        ],
      };
    }
    const shape = scope.steps.get(id);
    schema = shape?.output;
    from = 3;
    warnOpen = true;
    owner = shape?.source ?? `step "${id}"`;
  }

  for (let i = from; i <= last; i++) {
    if (!schema) return { problems: [], read: read(undefined, last) };
    const name = chain[i]!.name;
    const t = schemaType(schema);
    if (t === 'object') {
      const props = (schema.properties ?? {}) as { [k: string]: JsonSchema };
      if (Object.hasOwn(props, name)) {
        schema = props[name];
        continue;
      }
      const fields = Object.keys(props);
      const closed = schema.additionalProperties === false && schema.patternProperties === undefined;
      const guess = didYouMean(name, fields);
      const hint = guess ? `did you mean "${text(i - 1)}.${guess}"?` : `its fields: ${fields.join(', ') || '(none)'}`;
      if (closed) {
        return { problems: [{ offset: fieldAt(i), severity: 'error', code: 'output-field-unknown', message: `\`${text(i - 1)}\` has no field "${name}" (${owner} declares ${fields.length ? fields.map((f) => `"${f}"`).join(', ') : 'none'} and no others)`, hint }] };
      }
      const extra = schema.additionalProperties;
      if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
        schema = extra;
        continue;
      }
      if (warnOpen && fields.length > 0) {
        return { problems: [{ offset: fieldAt(i), severity: 'warning', code: 'output-field-undeclared', message: `\`${text(i - 1)}\` does not declare a field "${name}" (${owner} declares ${fields.map((f) => `"${f}"`).join(', ')})`, hint: `${hint}${guess ? '' : '.'} If the field may be absent, test it first: \`has(${text(i)})\`` }], read: read(undefined, last) };
      }
      return { problems: [], read: read(undefined, last) };
    }
    if (t === 'string' || t === 'integer' || t === 'number' || t === 'boolean' || t === 'array') {
      const hint = t === 'array' ? `read one item (\`${text(i - 1)}[0].${name}\`) or all of them (\`${text(i - 1)}.map(x, x.${name})\`)` : `\`${text(i - 1)}\` is the value itself`;
      return { problems: [{ offset: fieldAt(i), severity: 'error', code: 'output-field-unknown', message: `\`${text(i - 1)}\` is ${KIND_WORDS[t]}; it has no field "${name}"`, hint }] };
    }
    schema = undefined;
  }
  return { problems: [], read: read(schema, last) };
}

/** Environments by their variable types: building one costs about a millisecond. */
const envCache = new Map<string, Environment>();

function environment(vars: ReadonlyArray<[string, string]>): Environment {
  const key = vars.map(([n, t]) => `${n}:${t}`).join(',');
  let env = envCache.get(key);
  if (!env) {
    env = new Environment({ ...OPTIONS, unlistedVariablesAreDyn: false });
    // The runtime compares ints with doubles (heterogeneous equality): so does this checker.
    env.registerOperator('double == int', () => false);
    env.registerOperator('double in list<int>', () => false);
    env.registerOperator('int in list<double>', () => false);
    for (const [n, t] of vars) env.registerVariable(n, t);
    if (envCache.size > 500) envCache.clear();
    envCache.set(key, env);
  }
  return env;
}

const PRIMITIVES = new Set(['int', 'uint', 'double', 'string', 'bool', 'bytes']);
const OVERLOAD_RE = /^no such overload: (.+) (==|!=|<|<=|>|>=|\+|-|\*|\/|%|in) (.+)$/;

/**
 * Whether a checker error is one the runtime does not have on the same values (read as `dyn`):
 * equality never fails there, `in` compares with equality, lists concatenate whatever their
 * items, and a ternary's branches may differ.
 */
function runtimeAccepts(message: string): boolean {
  if (message.startsWith('Ternary branches must have the same type')) return true;
  const m = OVERLOAD_RE.exec(message);
  if (!m) return false;
  const [, left, op, right] = m as unknown as [string, string, string, string];
  if (op === '==' || op === '!=') return !(PRIMITIVES.has(left) && PRIMITIVES.has(right));
  if (op === 'in') {
    const item = /^(?:list<(.+)>|map<(.+?), .+>)$/.exec(right);
    const of = item?.[1] ?? item?.[2];
    return !(of && PRIMITIVES.has(left) && PRIMITIVES.has(of));
  }
  if (op === '+') return left.startsWith('list<') && right.startsWith('list<');
  return false;
}

/**
 * An analyst's reading of a checker error: what the expression does wrong (a phrase that
 * follows the expression: "compares a number with a text") and what to write instead.
 */
function explain(message: string): { does: string; hint: string } {
  const m = OVERLOAD_RE.exec(message);
  if (m) {
    const [, left, op, right] = m as unknown as [string, string, string, string];
    const numeric = (t: string) => t === 'int' || t === 'double';
    if ((numeric(left) && right === 'string') || (left === 'string' && numeric(right))) {
      const compares = ['==', '!=', '<', '<=', '>', '>=', 'in'].includes(op);
      return {
        does: compares ? 'compares a number with a text' : `applies \`${op}\` to a number and a text`,
        hint: compares
          ? 'write the number without quotes (`inputs.amount > 10000`), or convert one side: `string(x)`, `double(x)`, `int(x)`'
          : op === '+'
            ? 'to build a text, convert the number (`"EUR " + string(x)`) or write the text around `${{ }}`; to add, convert the text: `int(x)`, `double(x)`'
            : 'convert the text first: `int(x)`, `double(x)`',
      };
    }
    if (numeric(left) && numeric(right)) {
      return {
        does: `mixes ${describe(left)} and ${describe(right)} in \`${op}\`, which CEL does not allow`,
        hint: 'write decimals with a point (`2.0`), or convert first: `double(x) * 1.5`, `int(x) * 2`',
      };
    }
    if (op === '==' || op === '!=' || op === 'in') {
      return { does: `compares ${describe(left)} with ${describe(right)}: they are never equal`, hint: 'compare values of the same type, or convert one side: `string(x)`, `double(x)`, `int(x)`' };
    }
    return { does: `applies \`${op}\` to ${describe(left)} and ${describe(right)}, which it does not take`, hint: 'convert one side (`string(x)`, `double(x)`, `int(x)`), or use values of the same type' };
  }
  if (message.startsWith('Ternary condition must be bool')) {
    return { does: `has a condition before \`?\` that is not true or false (${message.slice(message.indexOf('got '))})`, hint: 'compare it: e.g. `x > 0 ? a : b`' };
  }
  if (message.startsWith('found no matching overload')) {
    return { does: `calls a function with arguments it does not take (${message})`, hint: 'see the functions in docs/skills.md (Expressions): size(), string(), double(), int(), has(), …' };
  }
  return { does: `does not type-check: ${message}`, hint: "values are typed from the inputs' schema and the tools' outputSchema (`skillgate tools`)" };
}

/** JSON Schema types a CEL type can be once the runtime turns it into JSON; undefined: unknown. */
function jsonKinds(cel: string): string[] | undefined {
  if (cel === 'int') return ['integer', 'number'];
  if (cel === 'double') return ['number'];
  if (cel === 'string') return ['string'];
  if (cel === 'bool') return ['boolean'];
  if (cel === 'null') return ['null'];
  if (cel.startsWith('list<')) return ['array'];
  if (cel.startsWith('map<')) return ['object'];
  return undefined;
}

/** The JSON Schema types an argument accepts; undefined when its schema does not say. */
export function acceptedKinds(schema: JsonSchema): string[] | undefined {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t) && t.every((x): x is string => typeof x === 'string')) return t;
  return undefined;
}

/** Whether a value of CEL type `cel` fits an argument accepting `accepted` (true when unknown). */
function fits(cel: string, accepted: string[] | undefined): boolean {
  const kinds = jsonKinds(cel);
  if (!kinds || !accepted) return true;
  return kinds.some((k) => accepted.includes(k));
}

function words(kinds: string[]): string {
  return kinds.map((k) => KIND_WORDS[k] ?? k).join(' or ');
}

/** What one way of typing the numbers gives: nothing wrong, or a problem. */
interface Outcome {
  problem?: {
    offset: number;
    code: TypeProblem['code'];
    /** The message, given what is wrong: "gives a number (…)" or "fails when …: compares …". */
    message(when?: string): string;
    hint: string;
  };
  /** The expression's type when it checked. */
  type?: string;
}

/**
 * Check one expression's types. `source` is the expression without `${{ }}`; offsets in the
 * problems are inside it. An expression that does not parse gives no problem here (the
 * syntax check reports it).
 */
export function checkExpressionTypes(source: string, scope: ExpressionScope, use: ExpressionUse): TypeProblem[] {
  let ast: unknown;
  try {
    ast = parser.parse(source).ast;
  } catch {
    return [];
  }
  const chains: Array<Array<{ name: string; node: AstNode }>> = [];
  collectChains(ast, new Set(), chains);
  const problems: TypeProblem[] = [];
  const reads: Read[] = [];
  for (const chain of chains) {
    const r = resolveChain(chain, scope, source);
    problems.push(...r.problems);
    if (r.read) reads.push(r.read);
  }
  if (problems.some((p) => p.severity === 'error')) return problems;

  // Each read becomes one variable of the same length, so offsets stay those of the source.
  let rewritten = source;
  const vars: Array<{ name: string; read: Read }> = [];
  for (const read of [...reads].sort((a, b) => b.start - a.start)) {
    const name = `_v${vars.length}`;
    if (name.length > read.end - read.start) return problems;
    rewritten = rewritten.slice(0, read.start) + name.padEnd(read.end - read.start) + rewritten.slice(read.end);
    vars.push({ name, read });
  }

  // A `number` is an int when whole and a double otherwise: try both, and mixes of a few.
  const numberPaths = [...new Set(reads.filter((r) => r.cel === 'number').map((r) => r.path))];
  const modes: Array<Map<string, 'int' | 'double'>> = [];
  if (numberPaths.length <= 3) {
    for (let bits = 0; bits < 1 << numberPaths.length; bits++) modes.push(new Map(numberPaths.map((p, i) => [p, bits & (1 << i) ? 'double' : 'int'])));
  } else {
    modes.push(new Map(numberPaths.map((p) => [p, 'int'])), new Map(numberPaths.map((p) => [p, 'double'])));
  }

  // The checker's ranges are those of the rewritten source: widen them over whole variables.
  const widen = (at: number, side: 'start' | 'end') => {
    const v = vars.find((x) => at > x.read.start && at < x.read.end);
    return v ? v.read[side] : at;
  };
  const outcomes = modes.map((mode): Outcome => {
    let r: ReturnType<Environment['check']>;
    try {
      r = environment(vars.map((v) => [v.name, v.read.cel === 'number' ? mode.get(v.read.path)! : v.read.cel])).check(rewritten);
    } catch {
      return {}; // the checker itself failed: no finding is better than a false one
    }
    if (!r.valid) {
      const err = r.error as (Error & { range?: { start: number; end: number } }) | undefined;
      const first = (err?.message ?? 'type error').split('\n')[0]!.trim();
      if (runtimeAccepts(first)) return {};
      const start = widen(err?.range?.start ?? 0, 'start');
      const sub = source.slice(start, widen(err?.range?.end ?? source.length, 'end')).trim() || source;
      const { does, hint } = explain(first);
      return { problem: { offset: start, code: 'expr-type', message: (when) => (when ? `\`${sub}\` fails ${when}: it ${does}` : `\`${sub}\` ${does}`), hint } };
    }
    const type = r.type ?? 'dyn';
    if (use.kind === 'condition' && type !== 'bool' && !type.startsWith('dyn')) {
      return {
        type,
        problem: {
          offset: 0,
          code: 'if-not-boolean',
          message: (when) => `\`if: ${source}\` gives ${describe(type)}${when ? ` ${when}` : ''}, not true or false`,
          hint: 'a condition must be true or false (there is no truthiness): compare it, e.g. `inputs.amount > 0`, `size(x) > 0`, `x != ""`',
        },
      };
    }
    if (use.kind === 'argument') {
      const accepted = acceptedKinds(use.schema);
      if (!fits(type, accepted)) {
        return {
          type,
          problem: {
            offset: 0,
            code: 'argument-type',
            message: (when) => `argument "${use.argument}" of ${use.tool} takes ${words(accepted!)}; \`${source}\` gives ${describe(type)}${when ? ` ${when}` : ''}`,
            hint: 'wire a value of that type, or convert it: `string(x)`, `double(x)`, `int(x)`',
          },
        };
      }
    }
    return { type };
  });

  const failing = outcomes.map((o, i) => (o.problem ? i : -1)).filter((i) => i >= 0);
  if (failing.length === 0) return problems;
  const first = outcomes[failing[0]!]!.problem!;
  const { message, ...rest } = first;
  if (failing.length === modes.length) {
    // The same usage problem whatever the numbers: name the type once ("a number").
    const types = new Set(outcomes.map((o) => o.type));
    const text = first.code !== 'expr-type' && types.size > 1 && [...types].every((t) => t === 'int' || t === 'double') ? message().replace(/a (whole|decimal) number \((int|double)\)/, 'a number') : message();
    problems.push({ ...rest, severity: 'error', message: text });
    return problems;
  }
  const p = numberPaths[0]!;
  const hint =
    first.code === 'argument-type'
      ? `a \`type: number\` value is an int when whole and a double otherwise: declare ${p} with the argument's type, or convert it: \`int(${p})\`, \`double(${p})\``
      : `a \`type: number\` value is an int when whole and a double otherwise: make it a double first and write decimals with a point (\`double(${p}) * 2.0\`), or declare it \`type: integer\``;
  problems.push({ ...rest, severity: 'warning', message: message(whenFails(modes, failing, numberPaths)), hint });
  return problems;
}

/** "when inputs.amount is not a whole number", from which modes fail. */
function whenFails(modes: Array<Map<string, 'int' | 'double'>>, failing: number[], paths: string[]): string {
  const failSet = new Set(failing);
  for (const p of paths) {
    for (const kind of ['int', 'double'] as const) {
      const matches = modes.every((m, i) => (m.get(p) === kind) === failSet.has(i));
      if (matches) return kind === 'int' ? `when ${p} is a whole number (e.g. 5000)` : `when ${p} is not a whole number (e.g. 5000.5)`;
    }
  }
  return `for some values of ${paths.join(', ')} (whole numbers are ints, others doubles)`;
}
