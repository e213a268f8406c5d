/**
 * The skill compiler: SKILL.md + plan.yaml → CompiledPlan, or every problem found, each with
 * `file:line:col`, a message, a hint and a rule code. One pass; it never stops at the first.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { isMap, isScalar, type Node, type Scalar, type YAMLMap } from 'yaml';
import { type Diagnostic, didYouMean, isError, positionOf } from '../shared/diagnostics.js';
import { parseDuration } from '../pure/durations.js';
import {
  EXPRESSION_ROOTS,
  ExpressionSyntaxError,
  expressionRefs,
  parseStringTemplate,
} from '../pure/expressions.js';
import type { ToolCatalog } from './catalog.js';
import { definitionHash } from '../../gateway/curation/definition.js';
import { checkFrontmatter } from './frontmatter.js';
import { contentHash } from '../shared/canonical-json.js';
import { readSkill, type YamlSource } from './load.js';
import { ajv } from '../shared/json-schema.js';
import { checkSchema } from './schema-check.js';
import { acceptedKinds, APPROVAL_OUTPUT_SCHEMA, checkExpressionTypes, type ExpressionUse, type StepShape } from './expression-types.js';
import type { ApprovalSpec, CompensationSpec, CompiledPlan, PlanOutput, PlanStep, RetrySpec, StepExecution, ToolRef, ValueTemplate } from '../contracts/plan.js';
import type { Json, JsonSchema } from '../contracts/json.js';

export interface CompileOptions {
  /** Per-attempt timeout of tool steps without `timeout:` (config defaults.stepTimeout). */
  defaultStepTimeoutMs: number;
  /** Approval timeout when `approval.timeout` is absent (config defaults.approvalTimeout). */
  defaultApprovalTimeoutMs: number;
  /** How files are named in messages (default: as given). */
  display?: (file: string) => string;
  /**
   * Every configured server name (default: the catalog's keys). The catalog may hold only the
   * servers skills use; this list keeps "unknown server" and its did-you-mean exact.
   */
  servers?: string[];
  /**
   * The workspace's users and their roles (config `users`), against which approval roles are
   * checked. Absent: not checked. Empty: the roles come from the identity provider, so an
   * approval role is only a warning ("cannot be checked").
   */
  users?: ReadonlyArray<{ id: string; roles: readonly string[] }>;
  /**
   * How read-only tool steps run when neither the step (`execution:`) nor the plan
   * (`readOnlySteps:`) says (config defaults.readOnlySteps; default `local`).
   */
  readOnlySteps?: StepExecution;
}

export const DEFAULT_COMPILE_OPTIONS: CompileOptions = {
  defaultStepTimeoutMs: 30_000,
  defaultApprovalTimeoutMs: 24 * 3_600_000,
  readOnlySteps: 'local',
};

const EXECUTIONS: readonly StepExecution[] = ['local', 'activity'];

export interface CompileResult {
  dir: string;
  /** The folder name (the skill's name when valid). */
  name: string;
  plan?: CompiledPlan;
  hash?: string;
  diagnostics: Diagnostic[];
}

const PLAN_KEYS = ['inputs', 'steps', 'outputs', 'readOnlySteps'];
const STEP_KEYS = ['id', 'description', 'tool', 'with', 'if', 'needs', 'retry', 'timeout', 'execution', 'approval', 'compensate', 'fail'];
const RETRY_KEYS = ['attempts', 'backoff', 'maxBackoff', 'factor', 'nonRetryable'];
const APPROVAL_KEYS = ['role', 'timeout', 'message'];
const COMPENSATE_KEYS = ['tool', 'with', 'retry', 'timeout'];
const STEP_ID_RE = /^[a-z][a-z0-9_]*$/;
const TOOL_RE = /^([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.([A-Za-z0-9_.-]+)$/;
const DEFAULT_RETRY: RetrySpec = {
  maximumAttempts: 3,
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumIntervalMs: 30_000,
  nonRetryableErrorTypes: ['ToolError', 'UnknownTool', 'UpstreamProtocolError'],
};

/** Compile one skill folder against the servers' real tool lists. */
export function compileSkill(dir: string, catalog: ToolCatalog, opts: CompileOptions = DEFAULT_COMPILE_OPTIONS): CompileResult {
  const { sources, diagnostics } = readSkill(dir, opts.display);
  const result: CompileResult = { dir, name: sources.folderName, diagnostics };
  const meta = sources.frontmatter ? checkFrontmatter(sources.frontmatter, sources.folderName, diagnostics) : undefined;
  if (!sources.plan) return result;
  const plan = new PlanCompiler(sources.plan, catalog, opts, diagnostics).compile();
  if (plan && meta && !diagnostics.some(isError)) {
    const full: CompiledPlan = { apiVersion: 'skillgate/v1', skill: meta, ...plan };
    result.plan = full;
    result.hash = contentHash(full);
  }
  return result;
}

type Path = Array<string | number>;

/** Why one step waits for another (for cycle messages). */
type DependencyReason = 'reads' | 'needs' | 'gate';

interface StepDraft {
  index: number;
  id?: string;
  path: Path;
  line: number;
  /** Steps referenced by expressions (checked against document order) and `needs:`. */
  refs: Set<string>;
  needs: string[];
  gate: boolean;
  duplicateReported?: boolean;
  step?: PlanStep;
  /** What `steps.<id>.output` is, for the type checks; absent: not known. */
  shape?: StepShape;
  /** A tool step whose tool does not declare `readOnlyHint: true`: it changes state. */
  writes?: boolean;
}

/** An expression whose references are sound, to be type-checked once every step is known. */
interface TypeCheck {
  expr: string;
  path: Path;
  offset: number;
  use: ExpressionUse;
}

class PlanCompiler {
  /** How read-only steps run unless a step says (plan `readOnlySteps:`, else the config's default). */
  private readOnlySteps: StepExecution = 'local';

  private readonly inputNames = new Set<string>();
  private inputsValid = false;
  /** The inputs' `properties` could be read, so `inputs.x` references can be checked. */
  private inputNamesKnown = false;
  private readonly stepIndex = new Map<string, StepDraft>();
  private readonly drafts: StepDraft[] = [];
  private readonly unreachableReported = new Set<string>();
  private inputSchema: JsonSchema | undefined;
  private readonly typeChecks: TypeCheck[] = [];

  constructor(
    private readonly src: YamlSource,
    private readonly catalog: ToolCatalog,
    private readonly opts: CompileOptions,
    private readonly diags: Diagnostic[],
  ) {}

  private pos(path: Path, key = false) {
    const p = positionOf(this.src.doc, this.src.lc, path, { key });
    return { file: this.src.file, line: p.line + this.src.lineOffset, col: p.col };
  }

  private error(path: Path, code: string, message: string, hint?: string, key = false): void {
    this.diags.push({ ...this.pos(path, key), code, message, ...(hint ? { hint } : {}) });
  }

  private warn(path: Path, code: string, message: string, hint?: string): void {
    this.diags.push({ ...this.pos(path), severity: 'warning', code, message, ...(hint ? { hint } : {}) });
  }

  /** Errors so far (warnings do not stop a step or a plan from compiling). */
  private errorCount(): number {
    return this.diags.filter(isError).length;
  }

  private node(path: Path): unknown {
    return this.src.doc.getIn(path, true);
  }

  private checkKeys(path: Path, allowed: string[], what: string): void {
    const n = path.length ? this.node(path) : this.src.doc.contents;
    if (!isMap(n)) return;
    for (const item of (n as YAMLMap).items) {
      const key = isScalar(item.key) ? String((item.key as Scalar).value) : String(item.key);
      if (!allowed.includes(key)) {
        const guess = didYouMean(key, allowed);
        this.error([...path, key], 'unknown-key', `unknown key "${key}" in ${what}`, guess ? `did you mean "${guess}"?` : `allowed: ${allowed.join(', ')}`, true);
      }
    }
  }

  compile(): Omit<CompiledPlan, 'apiVersion' | 'skill'> | undefined {
    const root = this.src.doc.contents;
    if (!isMap(root)) {
      this.error([], 'plan-invalid', 'plan.yaml must be a map with `inputs`, `steps` and `outputs`');
      return undefined;
    }
    this.checkKeys([], PLAN_KEYS, 'the plan');
    const data = this.src.doc.toJS() as Record<string, unknown>;
    this.readOnlySteps = this.execution(data.readOnlySteps, ['readOnlySteps'], '`readOnlySteps:`') ?? this.opts.readOnlySteps ?? 'local';
    const inputs = this.compileInputs(data.inputs);
    const steps = this.compileSteps(data.steps);
    const outputs = this.compileOutputs(data.outputs);
    this.checkTypes();
    if (this.errorCount() === 0) this.checkParallelWrites();
    if (!inputs || !steps || !outputs) return undefined;
    const outputSchema: JsonSchema = {
      type: 'object',
      properties: Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.schema])),
      required: Object.keys(outputs),
      additionalProperties: false,
    };
    return { inputs, steps, outputs, outputSchema };
  }

  // ── inputs ───────────────────────────────────────────────────────────────────────────
  private compileInputs(inputs: unknown): JsonSchema | undefined {
    if (inputs === undefined) {
      this.error([], 'inputs-missing', 'the plan has no `inputs`', 'declare the inputs as a JSON Schema: `inputs: { type: object, properties: {…} }`');
      return undefined;
    }
    if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) {
      this.error(['inputs'], 'inputs-invalid', '`inputs` must be a JSON Schema object');
      return undefined;
    }
    const schema = inputs as JsonSchema;
    if (schema.type !== 'object') {
      this.error(
        schema.type === undefined ? ['inputs'] : ['inputs', 'type'],
        'inputs-invalid',
        '`inputs` must be a JSON Schema with `type: object`',
        'skills take named inputs: `type: object` + `properties`',
      );
    }
    const props = schema.properties;
    if (props && typeof props === 'object' && !Array.isArray(props)) {
      for (const k of Object.keys(props)) this.inputNames.add(k);
      this.inputNamesKnown = true;
    } else if (props === undefined && schema.type === 'object') {
      this.inputNamesKnown = true;
    }
    const problems = this.schemaProblems(schema, ['inputs'], '`inputs`');
    this.inputsValid = schema.type === 'object' && problems === 0;
    if (!this.inputsValid) return undefined;
    this.inputSchema = schema;
    return this.checkDefaults(schema, ['inputs']) ? schema : undefined;
  }

  /** Every `default:` of an input (and of its nested properties) must match its own schema. */
  private checkDefaults(schema: JsonSchema, path: Path, prefix = ''): boolean {
    let ok = true;
    const props = schema.properties;
    if (!props || typeof props !== 'object' || Array.isArray(props)) return ok;
    for (const [key, prop] of Object.entries(props)) {
      if (!prop || typeof prop !== 'object' || Array.isArray(prop)) continue;
      const name = `${prefix}${key}`;
      const here = [...path, 'properties', key];
      if (Object.hasOwn(prop, 'default')) {
        let validate;
        try {
          validate = ajv.compile(prop);
        } catch {
          continue; // e.g. a $ref to the root: the run's own validation decides
        }
        // A copy: validation fills in defaults, and the plan must stay as written.
        if (!validate(structuredClone(prop.default))) {
          const e = validate.errors?.[0];
          const allowed = (e?.params as { allowedValues?: unknown } | undefined)?.allowedValues;
          const given = prop.default;
          const fix =
            Array.isArray(allowed) ? `one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`
            : prop.type === 'boolean' && typeof given === 'string' ? 'true or false (yes, no, on, off are text in YAML)'
            : (prop.type === 'integer' || prop.type === 'number') && typeof given === 'string' ? 'the number without quotes'
            : prop.type === 'string' && typeof given !== 'string' ? `text: quote it ("${String(given)}")`
            : `a value of the input's own type${typeof prop.type === 'string' ? ` (${prop.type})` : ''}`;
          this.error(
            [...here, 'default'],
            'input-default-invalid',
            `the default of input "${name}", ${JSON.stringify(given)}, ${e?.message ?? 'does not match its schema'}${e?.instancePath ? ` at ${e.instancePath}` : ''}`,
            `every run without "${name}" would be refused: write ${fix}`,
          );
          ok = false;
        }
      }
      if (!this.checkDefaults(prop as JsonSchema, here, `${name}.`)) ok = false;
    }
    return ok;
  }

  // ── steps ────────────────────────────────────────────────────────────────────────────
  private compileSteps(steps: unknown): PlanStep[] | undefined {
    if (!Array.isArray(steps) || steps.length === 0) {
      this.error(steps === undefined ? [] : ['steps'], 'steps-missing', 'the plan needs a non-empty list of `steps`');
      return undefined;
    }
    // First pass: ids, so that references can be resolved whatever their order.
    steps.forEach((s, i) => {
      const path: Path = ['steps', i];
      const draft: StepDraft = { index: i, path, line: this.pos(path).line, refs: new Set(), needs: [], gate: false };
      this.drafts.push(draft);
      if (s === null || typeof s !== 'object' || Array.isArray(s)) {
        this.error(path, 'step-invalid', 'a step must be a map with an `id`');
        return;
      }
      const id = (s as Record<string, unknown>).id;
      if (id === undefined) {
        this.error(path, 'step-id-missing', `step ${i + 1} has no \`id\``, 'add `id: <name>` (lowercase letters, digits, _)');
      } else if (typeof id !== 'string' || !STEP_ID_RE.test(id)) {
        const fixed = String(id).toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z]+/, '');
        this.error([...path, 'id'], 'step-id-invalid', `step id "${String(id)}" is not usable in expressions`, `ids are lowercase letters, digits and _ starting with a letter${fixed ? `, e.g. "${fixed}"` : ''}`);
        if (typeof id === 'string') draft.id = id;
      } else {
        draft.id = id;
      }
      if (draft.id !== undefined) {
        const prior = this.stepIndex.get(draft.id);
        if (prior) {
          this.error([...path, 'id'], 'step-id-duplicate', `duplicate step id "${draft.id}" (first defined at line ${prior.line})`, 'give every step its own id');
          if (!prior.duplicateReported) {
            prior.duplicateReported = true;
            this.error([...prior.path, 'id'], 'step-id-duplicate', `step id "${draft.id}" is used again at line ${draft.line}`, 'give every step its own id');
          }
        } else {
          this.stepIndex.set(draft.id, draft);
        }
      }
    });

    steps.forEach((s, i) => {
      if (s !== null && typeof s === 'object' && !Array.isArray(s)) this.compileStep(this.drafts[i]!, s as Record<string, unknown>);
    });

    // The dependency rule: what a step's expressions read, its `needs:`, and every gate
    // (fail / approval step) written above it.
    const edges = new Map<StepDraft, Map<StepDraft, DependencyReason>>();
    const gatesAbove: StepDraft[] = [];
    for (const d of this.drafts) {
      const deps = new Map<StepDraft, DependencyReason>();
      for (const g of gatesAbove) deps.set(g, 'gate');
      for (const r of d.refs) deps.set(this.stepIndex.get(r)!, 'reads');
      for (const n of d.needs) deps.set(this.stepIndex.get(n)!, 'needs');
      deps.delete(d);
      edges.set(d, deps);
      if (d.gate && d.id !== undefined) gatesAbove.push(d);
    }
    this.checkCycles(edges);
    for (const [d, deps] of edges) {
      if (d.step) d.step.dependsOn = [...deps.keys()].sort((a, b) => a.index - b.index).map((x) => x.id!);
    }
    if (this.drafts.some((d) => !d.step)) return undefined;
    return this.drafts.map((d) => d.step!);
  }

  private compileStep(d: StepDraft, s: Record<string, unknown>): void {
    const path = d.path;
    this.checkKeys(path, STEP_KEYS, `step "${d.id ?? d.index + 1}"`);
    const errorsBefore = this.errorCount();
    const kinds = (['tool', 'approval', 'fail'] as const).filter((k) => s[k] !== undefined);
    if (kinds.length === 0) {
      this.error(path, 'step-kind-missing', `step "${d.id ?? d.index + 1}" does nothing`, 'give it one of `tool:` (call a tool), `approval:` (wait for a person) or `fail:` (end the run)');
    } else if (kinds.includes('fail') && kinds.length > 1) {
      this.error([...path, 'fail'], 'step-kind-conflict', `step "${d.id}" has \`fail:\` together with ${kinds.filter((k) => k !== 'fail').map((k) => `\`${k}:\``).join(' and ')}`, 'a fail step only ends the run; put the other part in its own step');
    }
    const self = d.id ?? `#${d.index + 1}`;
    let ifExpr: string | undefined;
    if (s.if !== undefined) {
      if (typeof s.if !== 'string' && typeof s.if !== 'boolean') {
        this.error([...path, 'if'], 'if-invalid', '`if:` must be a CEL condition, e.g. `inputs.amount > 10000`');
      } else {
        const text = String(s.if).trim();
        const wrapped = /^\$\{\{([\s\S]*)\}\}$/.exec(text);
        ifExpr = wrapped ? wrapped[1]!.trim() : text;
        this.checkExpression(ifExpr, [...path, 'if'], d, wrapped ? text.indexOf(ifExpr) : 0, false, { kind: 'condition' });
      }
    }
    const needs = this.compileNeeds(s.needs, d);
    d.needs = needs;
    const timeoutMs = this.duration(s.timeout, [...path, 'timeout']) ?? this.opts.defaultStepTimeoutMs;
    const retry = this.compileRetry(s.retry, [...path, 'retry']);
    const approval = s.approval !== undefined ? this.compileApproval(s.approval, [...path, 'approval'], d) : undefined;

    let step: PlanStep | undefined;
    if (kinds.includes('fail') && kinds.length === 1) {
      d.gate = true;
      this.toolOnlyKeys(s, path, 'a fail step');
      if (typeof s.fail !== 'string' || s.fail.trim() === '') {
        this.error([...path, 'fail'], 'fail-invalid', '`fail:` must be the message the run fails with');
      } else {
        const message = this.template(s.fail, [...path, 'fail'], d);
        step = { kind: 'fail', id: self, ...(ifExpr ? { if: ifExpr } : {}), dependsOn: [], line: d.line, message };
      }
    } else if (kinds.length === 1 && kinds[0] === 'approval') {
      d.gate = true;
      d.shape = { output: APPROVAL_OUTPUT_SCHEMA, source: 'an approval' };
      this.toolOnlyKeys(s, path, 'an approval step');
      if (approval) step = { kind: 'approval', id: self, ...(ifExpr ? { if: ifExpr } : {}), dependsOn: [], line: d.line, approval };
    } else if (kinds.includes('tool') && !kinds.includes('fail')) {
      const resolved = this.resolveTool(s.tool, [...path, 'tool']);
      if (resolved?.def) {
        const out = resolved.def.outputSchema as JsonSchema | undefined;
        d.shape = { ...(out ? { output: out } : {}), source: `${resolved.ref.server}.${resolved.ref.name}` };
        d.writes = resolved.def.annotations?.readOnlyHint !== true;
      }
      const withT = this.compileWith(s.with, [...path, 'with'], d, resolved?.def);
      const compensate = s.compensate !== undefined ? this.compileCompensate(s.compensate, [...path, 'compensate'], d) : undefined;
      const readOnly = resolved?.def?.annotations?.readOnlyHint === true;
      const execution = this.stepExecution(s.execution, [...path, 'execution'], resolved ? `${resolved.ref.server}.${resolved.ref.name}` : undefined, readOnly);
      if (resolved && withT) {
        step = {
          kind: 'tool',
          id: self,
          ...(ifExpr ? { if: ifExpr } : {}),
          dependsOn: [],
          line: d.line,
          tool: resolved.ref,
          with: withT,
          retry,
          timeoutMs,
          readOnly,
          execution,
          ...(approval ? { approval } : {}),
          ...(compensate ? { compensate } : {}),
        };
      }
    }
    if (step && this.errorCount() === errorsBefore && d.id !== undefined && STEP_ID_RE.test(d.id)) d.step = step;
  }

  /** `local` or `activity`, or undefined (absent, or reported when invalid). */
  private execution(value: unknown, path: Path, what: string): StepExecution | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && (EXECUTIONS as readonly string[]).includes(value)) return value as StepExecution;
    const guess = typeof value === 'string' ? didYouMean(value, [...EXECUTIONS]) : undefined;
    this.error(path, 'execution-invalid', `${what} must be \`local\` or \`activity\``, guess ? `did you mean "${guess}"?` : '`local`: a read runs inside the workflow task (fast); `activity`: a regular activity, recorded on its own');
    return undefined;
  }

  /**
   * How a tool step runs. Side-effecting steps are always regular activities: their idempotency
   * keys rely on Temporal's activity record, and a local activity may run again after a crash.
   */
  private stepExecution(value: unknown, path: Path, tool: string | undefined, readOnly: boolean): StepExecution {
    const asked = this.execution(value, path, '`execution:`');
    if (asked === 'local' && !readOnly && tool !== undefined) {
      this.error(
        path,
        'execution-invalid',
        `\`execution: local\` needs a read-only tool; ${tool} does not declare \`readOnlyHint: true\``,
        'a step that changes state runs as a regular activity (its side effect is recorded once); remove `execution:`',
      );
    }
    if (!readOnly) return 'activity';
    return asked ?? this.readOnlySteps;
  }

  /** `with`, `retry`, `timeout`, `execution` and `compensate` mean something only on tool steps. */
  private toolOnlyKeys(s: Record<string, unknown>, path: Path, what: string): void {
    for (const key of ['with', 'retry', 'timeout', 'execution', 'compensate']) {
      if (s[key] !== undefined) {
        const hint = key === 'timeout' && what === 'an approval step' ? 'an approval\'s wait is `approval: { timeout: … }`' : 'remove it, or make this a `tool:` step';
        this.error([...path, key], 'key-not-applicable', `\`${key}:\` does nothing on ${what}`, hint, true);
      }
    }
  }

  private compileNeeds(needs: unknown, d: StepDraft): string[] {
    if (needs === undefined) return [];
    const path = [...d.path, 'needs'];
    const list = typeof needs === 'string' ? [needs] : needs;
    if (!Array.isArray(list) || list.some((n) => typeof n !== 'string')) {
      this.error(path, 'needs-invalid', '`needs:` must be a list of step ids');
      return [];
    }
    const out: string[] = [];
    list.forEach((n: string, i) => {
      if (!this.stepIndex.has(n)) {
        const guess = didYouMean(n, this.stepIndex.keys());
        this.error(typeof needs === 'string' ? path : [...path, i], 'unknown-step', `\`needs:\` names unknown step "${n}"`, guess ? `did you mean "${guess}"?` : undefined);
      } else if (n === d.id) {
        this.error(typeof needs === 'string' ? path : [...path, i], 'dependency-cycle', `step "${n}" needs itself`);
      } else {
        out.push(n);
      }
    });
    return out;
  }

  /** Report each dependency cycle once, with its path and why each step waits for the next. */
  private checkCycles(edges: Map<StepDraft, Map<StepDraft, DependencyReason>>): void {
    const state = new Map<StepDraft, 'visiting' | 'done'>();
    const stack: StepDraft[] = [];
    const reported = new Set<string>();
    const visit = (d: StepDraft): void => {
      state.set(d, 'visiting');
      stack.push(d);
      for (const next of edges.get(d)?.keys() ?? []) {
        if (state.get(next) === 'visiting') {
          const cycle = [...stack.slice(stack.indexOf(next)), next];
          const key = cycle.slice(1).map((x) => x.index).sort((a, b) => a - b).join(',');
          if (!reported.has(key)) {
            reported.add(key);
            this.reportCycle(cycle, edges);
          }
        } else if (!state.has(next)) {
          visit(next);
        }
      }
      stack.pop();
      state.set(d, 'done');
    };
    for (const d of edges.keys()) if (!state.has(d)) visit(d);
  }

  private reportCycle(cycle: StepDraft[], edges: Map<StepDraft, Map<StepDraft, DependencyReason>>): void {
    const why: string[] = [];
    let at: Path | undefined;
    for (let i = 0; i + 1 < cycle.length; i++) {
      const from = cycle[i]!;
      const to = cycle[i + 1]!;
      const reason = edges.get(from)!.get(to)!;
      why.push(reason === 'needs' ? `"${from.id}" needs "${to.id}"` : reason === 'reads' ? `"${from.id}" reads steps.${to.id}` : `"${from.id}" waits for "${to.id}", an approval/fail step written above it`);
      if (reason === 'needs' && at === undefined) at = [...from.path, 'needs', Math.max(0, from.needs.indexOf(to.id!))];
    }
    const first = cycle[0]!;
    this.error(at ?? first.path, 'dependency-cycle', `dependency cycle: ${cycle.map((x) => x.id).join(' → ')}`, `${why.join('; ')}: remove one of these \`needs:\``);
  }

  private resolveTool(tool: unknown, path: Path): { ref: ToolRef; def?: Tool } | undefined {
    if (typeof tool !== 'string') {
      this.error(path, 'tool-invalid', '`tool:` must be "<server>.<tool>", e.g. "core-banking.get_customer"');
      return undefined;
    }
    const m = TOOL_RE.exec(tool);
    if (!m) {
      this.error(path, 'tool-invalid', `"${tool}" is not "<server>.<tool>"`, 'e.g. "core-banking.get_customer"');
      return undefined;
    }
    const ref: ToolRef = { server: m[1]!, name: m[2]! };
    const configured = this.opts.servers ?? [...this.catalog.keys()];
    const entry = this.catalog.get(ref.server);
    if (!configured.includes(ref.server)) {
      const guess = didYouMean(ref.server, configured);
      this.error(path, 'unknown-server', `unknown server "${ref.server}"`, guess ? `did you mean "${guess}"?` : `configured servers: ${configured.join(', ') || '(none)'}`);
      return undefined;
    }
    if (!entry || 'error' in entry) {
      // Once per server (at its first use): its tools are unknown, so nothing after can be checked.
      if (!this.unreachableReported.has(ref.server)) {
        this.unreachableReported.add(ref.server);
        const why = entry ? entry.error : 'its tools were not listed';
        this.error(path, 'server-unreachable', `server "${ref.server}" is unreachable (${why}): its tools cannot be checked`, 'fix the server in skillgate.yaml or start it, then validate again');
      }
      return undefined;
    }
    const def = entry.tools.find((t) => t.name === ref.name);
    const withheld = 'withheld' in entry ? entry.withheld?.get(ref.name) : undefined;
    if (!def && withheld !== undefined) {
      this.error(path, 'tool-withheld', `tool "${ref.server}.${ref.name}" ${withheld}`, `review it, then: skillgate curate ${ref.server} --approve ${ref.name}`);
      return undefined;
    }
    if (!def) {
      const guess = didYouMean(ref.name, entry.tools.map((t) => t.name));
      this.error(path, 'unknown-tool', `server "${ref.server}" has no tool "${ref.name}"`, guess ? `did you mean "${ref.server}.${guess}"?` : `its tools: ${entry.tools.map((t) => t.name).join(', ')}`);
      return undefined;
    }
    // The definition this plan is compiled against: a run refuses a step whose pinned tool differs.
    try {
      ref.hash = definitionHash(def as unknown as { [k: string]: unknown });
    } catch {
      // No canonical form: the catalog cannot serve it either; the step is refused at run time.
    }
    return { ref, def };
  }

  /** `with:` → template, checked against the tool's inputSchema. */
  private compileWith(args: unknown, path: Path, d: StepDraft, def: Tool | undefined, allowSelf = false): ValueTemplate | undefined {
    if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
      this.error(path, 'with-invalid', '`with:` must be a map of argument names to values');
      return undefined;
    }
    const given = (args ?? {}) as Record<string, unknown>;
    const template = this.template(given, path, d, allowSelf);
    if (def) {
      const schema = def.inputSchema as { properties?: Record<string, JsonSchema>; required?: string[]; additionalProperties?: unknown };
      const props = schema.properties ?? {};
      const known = Object.keys(props);
      for (const name of Object.keys(given)) {
        if (!(name in props)) {
          if (known.length > 0 || schema.additionalProperties === false) {
            const guess = didYouMean(name, known);
            this.error([...path, name], 'unknown-argument', `tool "${def.name}" has no argument "${name}"`, guess ? `did you mean "${guess}"?` : `its arguments: ${known.join(', ') || '(none)'}`, true);
          }
          continue;
        }
        const value = given[name];
        const propSchema = props[name]!;
        if (typeof value === 'string' && value.includes('${{')) {
          this.useAsArgument([...path, name], value, name, def.name, propSchema);
          continue;
        }
        if (containsExpression(value)) continue;
        try {
          const validate = ajv.compile(propSchema);
          // A copy: validation fills in defaults, and the plan must stay as written.
          if (!validate(structuredClone(value))) {
            const e = validate.errors?.[0];
            this.error([...path, name], 'argument-invalid', `argument "${name}" of ${def.name}: ${JSON.stringify(value)} ${e?.message ?? 'does not match its schema'}`, propSchema.description ? `expected: ${String(propSchema.description)}` : undefined);
          }
        } catch {
          /* the tool's own schema is broken; curation reports that, not the skill */
        }
      }
      for (const req of schema.required ?? []) {
        if (!(req in given)) {
          this.error(args === undefined ? path.slice(0, -1) : path, 'missing-argument', `tool "${def.name}" needs argument "${req}"`, `add \`${req}:\` under \`with:\``);
        }
      }
    }
    return template;
  }

  private compileRetry(retry: unknown, path: Path): RetrySpec {
    if (retry === undefined) return DEFAULT_RETRY;
    if (retry === null || typeof retry !== 'object' || Array.isArray(retry)) {
      this.error(path, 'retry-invalid', '`retry:` must be a map: attempts, backoff, maxBackoff, factor, nonRetryable');
      return DEFAULT_RETRY;
    }
    this.checkKeys(path, RETRY_KEYS, '`retry`');
    const r = retry as Record<string, unknown>;
    const out: RetrySpec = { ...DEFAULT_RETRY, nonRetryableErrorTypes: [...DEFAULT_RETRY.nonRetryableErrorTypes] };
    if (r.attempts !== undefined) {
      if (typeof r.attempts !== 'number' || !Number.isInteger(r.attempts) || r.attempts < 1) {
        this.error([...path, 'attempts'], 'retry-invalid', '`attempts` must be a whole number ≥ 1 (1 = no retry)');
      } else out.maximumAttempts = r.attempts;
    }
    const backoff = this.duration(r.backoff, [...path, 'backoff']);
    if (backoff !== undefined) out.initialIntervalMs = backoff;
    const maxBackoff = this.duration(r.maxBackoff, [...path, 'maxBackoff']);
    if (maxBackoff !== undefined) out.maximumIntervalMs = maxBackoff;
    if (out.maximumIntervalMs < out.initialIntervalMs) out.maximumIntervalMs = out.initialIntervalMs;
    if (r.factor !== undefined) {
      if (typeof r.factor !== 'number' || r.factor < 1) this.error([...path, 'factor'], 'retry-invalid', '`factor` must be a number ≥ 1');
      else out.backoffCoefficient = r.factor;
    }
    if (r.nonRetryable !== undefined) {
      if (!Array.isArray(r.nonRetryable) || r.nonRetryable.some((x) => typeof x !== 'string')) {
        this.error([...path, 'nonRetryable'], 'retry-invalid', '`nonRetryable` must be a list of error types, e.g. [ToolError]');
      } else out.nonRetryableErrorTypes = [...new Set([...out.nonRetryableErrorTypes, ...(r.nonRetryable as string[])])];
    }
    return out;
  }

  private compileApproval(a: unknown, path: Path, d: StepDraft): ApprovalSpec | undefined {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) {
      this.error(path, 'approval-invalid', '`approval:` must be a map with `role` (and optionally `timeout`, `message`)');
      return undefined;
    }
    this.checkKeys(path, APPROVAL_KEYS, '`approval`');
    const r = a as Record<string, unknown>;
    if (typeof r.role !== 'string' || r.role.trim() === '') {
      this.error(r.role === undefined ? path : [...path, 'role'], 'approval-role-missing', 'an approval needs the `role` of who may approve', 'e.g. `role: credit-officer`');
      return undefined;
    }
    this.checkRole(r.role, [...path, 'role']);
    const timeoutMs = this.duration(r.timeout, [...path, 'timeout']) ?? this.opts.defaultApprovalTimeoutMs;
    let message: ValueTemplate | undefined;
    if (r.message !== undefined) {
      if (typeof r.message !== 'string') this.error([...path, 'message'], 'approval-invalid', '`message` must be text');
      else message = this.template(r.message, [...path, 'message'], d);
    }
    return { role: r.role, timeoutMs, ...(message ? { message } : {}) };
  }

  private compileCompensate(c: unknown, path: Path, d: StepDraft): CompensationSpec | undefined {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) {
      this.error(path, 'compensate-invalid', '`compensate:` must be a map with `tool` and `with`');
      return undefined;
    }
    this.checkKeys(path, COMPENSATE_KEYS, '`compensate`');
    const r = c as Record<string, unknown>;
    if (r.tool === undefined) {
      this.error(path, 'compensate-invalid', '`compensate:` needs the `tool` that undoes this step');
      return undefined;
    }
    const resolved = this.resolveTool(r.tool, [...path, 'tool']);
    const withT = this.compileWith(r.with, [...path, 'with'], d, resolved?.def, true);
    const retry = this.compileRetry(r.retry, [...path, 'retry']);
    // Compensations must not give up quickly: default to more attempts than a normal step.
    const compRetry = r.retry === undefined ? { ...retry, maximumAttempts: 10 } : retry;
    const timeoutMs = this.duration(r.timeout, [...path, 'timeout']) ?? this.opts.defaultStepTimeoutMs;
    if (!resolved || !withT) return undefined;
    return { tool: resolved.ref, with: withT, retry: compRetry, timeoutMs };
  }

  // ── outputs ──────────────────────────────────────────────────────────────────────────
  private compileOutputs(outputs: unknown): { [name: string]: PlanOutput } | undefined {
    if (outputs === undefined) return {};
    if (outputs === null || typeof outputs !== 'object' || Array.isArray(outputs)) {
      this.error(['outputs'], 'outputs-invalid', '`outputs` must be a map: name → { value, type, description }');
      return undefined;
    }
    const out: { [name: string]: PlanOutput } = {};
    let ok = true;
    // Outputs are rendered at the end: they may read every step.
    const end: StepDraft = { index: Number.MAX_SAFE_INTEGER, path: ['outputs'], line: 0, refs: new Set(), needs: [], gate: false };
    for (const [name, spec] of Object.entries(outputs as Record<string, unknown>)) {
      const path: Path = ['outputs', name];
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec) || !('value' in spec)) {
        this.error(path, 'output-invalid', `output "${name}" needs a \`value\``, 'e.g. `value: ${{ steps.issue.output.creditId }}` plus `type:` and `description:`');
        ok = false;
        continue;
      }
      const { value, ...schema } = spec as Record<string, unknown>;
      if (this.schemaProblems(schema, path, `output "${name}"`) > 0) ok = false;
      const before = this.errorCount();
      const t = this.template(value, [...path, 'value'], end);
      if (this.errorCount() !== before) ok = false;
      out[name] = { schema: schema as JsonSchema, value: t };
    }
    return ok ? out : undefined;
  }

  /** Report the problems of a JSON Schema written at `path`; returns how many. */
  private schemaProblems(schema: unknown, path: Path, what: string, ignoreKeys: string[] = []): number {
    const problems = checkSchema(schema, didYouMean).filter((p) => !(p.path.length === 1 && ignoreKeys.includes(String(p.path[0]))));
    for (const p of problems) {
      if (p.code === 'unknown-key') {
        this.error([...path, ...p.path], 'unknown-key', `${p.message} in ${what}`, p.suggestion ? `did you mean "${p.suggestion}"?` : 'see https://json-schema.org/understanding-json-schema/reference', true);
      } else {
        this.error([...path, ...p.path], 'schema-invalid', `${what} is not a valid JSON Schema: ${p.message}`, p.suggestion ? `did you mean "${p.suggestion}"?` : undefined);
      }
    }
    return problems.length;
  }

  // ── values and expressions ───────────────────────────────────────────────────────────
  private duration(v: unknown, path: Path): number | undefined {
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined || ms <= 0) {
      this.error(path, 'duration-invalid', `${JSON.stringify(v)} is not a duration`, 'write e.g. "500ms", "30s", "5m", "24h", "7d"');
      return undefined;
    }
    return ms;
  }

  /** A YAML value → template; every `${{ }}` inside is checked. */
  private template(v: unknown, path: Path, d: StepDraft, allowSelf = false): ValueTemplate {
    if (typeof v === 'string') {
      const { template, exprs } = parseStringTemplate(v);
      if (/\$\{\{/.test(v) && exprs.length === 0) {
        this.error(path, 'expr-syntax', 'unclosed `${{`', 'expressions are written `${{ inputs.amount }}`');
      }
      for (const e of exprs) this.checkExpression(e.expr, path, d, e.offset, allowSelf);
      return template;
    }
    if (Array.isArray(v)) {
      const items = v.map((x, i) => this.template(x, [...path, i], d, allowSelf));
      return items.every((i) => i.kind === 'literal') ? { kind: 'literal', value: v as Json } : { kind: 'array', items };
    }
    if (v !== null && typeof v === 'object') {
      const entries = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.template(x, [...path, k], d, allowSelf)]));
      return Object.values(entries).every((e) => e.kind === 'literal') ? { kind: 'literal', value: v as Json } : { kind: 'object', entries };
    }
    return { kind: 'literal', value: (v ?? null) as Json };
  }

  /**
   * Syntax and references of one CEL expression written at `path` (offset inside the scalar);
   * when they are sound, its types are checked once every step is known (checkTypes).
   */
  private checkExpression(expr: string, path: Path, d: StepDraft, offset: number, allowSelf = false, use: ExpressionUse = { kind: 'value' }): void {
    const at = () => this.exprPos(path, offset);
    const before = this.diags.length;
    let refs;
    try {
      refs = expressionRefs(expr);
    } catch (err) {
      if (err instanceof ExpressionSyntaxError) {
        const p = this.exprPos(path, offset + err.offset);
        this.diags.push({ ...p, code: 'expr-syntax', message: `expression \`${expr}\`: ${err.message}`, hint: 'expressions are CEL: e.g. `inputs.amount > 10000 && steps.score.output.score >= 600`' });
        return;
      }
      throw err;
    }
    for (const root of refs.unknownRoots) {
      this.diags.push({ ...at(), code: 'unknown-variable', message: `expression \`${expr}\` reads unknown variable "${root}"`, hint: `expressions may read ${EXPRESSION_ROOTS.map((r) => `\`${r}.…\``).join(' and ')}` });
    }
    if (this.inputNamesKnown) {
      for (const name of refs.inputs) {
        if (!this.inputNames.has(name)) {
          const guess = didYouMean(name, this.inputNames);
          this.diags.push({ ...at(), code: 'unknown-input', message: `\`inputs.${name}\` is not a declared input`, hint: guess ? `did you mean "inputs.${guess}"?` : `declared inputs: ${[...this.inputNames].join(', ') || '(none)'}` });
        }
      }
    }
    for (const id of refs.steps) {
      const target = this.stepIndex.get(id);
      if (!target) {
        const guess = didYouMean(id, this.stepIndex.keys());
        this.diags.push({ ...at(), code: 'unknown-step', message: `\`steps.${id}\` names no step`, hint: guess ? `did you mean "steps.${guess}"?` : undefined });
      } else if (target === d) {
        if (!allowSelf) this.diags.push({ ...at(), code: 'self-reference', message: `step "${id}" reads its own output`, hint: 'only a `compensate:` may read the output of its own step' });
      } else if (target.index > d.index) {
        this.diags.push({ ...at(), code: 'later-step', message: `\`steps.${id}\` is defined below (line ${target.line}); a step can only read steps above it`, hint: `move step "${id}" above, or read it in a later step` });
      } else {
        d.refs.add(id);
      }
    }
    if (this.diags.length === before) this.typeChecks.push({ expr, path, offset, use });
  }

  /**
   * A `with:` value holding an expression goes into argument `name` (schema `schema`): a lone
   * `${{ }}` keeps its value's type, which must fit; text around one makes a string.
   */
  private useAsArgument(path: Path, value: string, name: string, tool: string, schema: JsonSchema): void {
    const { template } = parseStringTemplate(value);
    if (template.kind === 'expr') {
      const key = path.join('\0');
      const check = this.typeChecks.find((c) => c.path.join('\0') === key);
      if (check) check.use = { kind: 'argument', argument: name, tool, schema };
    } else if (template.kind === 'interp') {
      const accepted = acceptedKinds(schema);
      if (accepted && !accepted.includes('string')) {
        this.error(path, 'argument-type', `argument "${name}" of ${tool} takes ${accepted.join(' or ')}; text around \`\${{ }}\` makes a string`, `write the expression alone: \`${name}: \${{ … }}\` (no text, no quotes around other text)`);
      }
    }
  }

  /** The types of every sound expression, now that each step's output is known. */
  private checkTypes(): void {
    const steps = new Map<string, StepShape>();
    for (const d of this.drafts) if (d.id !== undefined && d.shape && this.stepIndex.get(d.id) === d) steps.set(d.id, d.shape);
    const scope = { ...(this.inputSchema ? { inputs: this.inputSchema } : {}), steps };
    for (const c of this.typeChecks) {
      for (const p of checkExpressionTypes(c.expr, scope, c.use)) {
        this.diags.push({ ...this.exprPos(c.path, c.offset + p.offset), code: p.code, message: p.message, ...(p.hint ? { hint: p.hint } : {}), ...(p.severity === 'warning' ? { severity: 'warning' as const } : {}) });
      }
    }
  }

  /** An approval role no workspace user holds would wait for nobody. */
  private checkRole(role: string, path: Path): void {
    const users = this.opts.users;
    if (!users) return;
    if (users.length === 0) {
      this.warn(path, 'approval-role-unverified', `role "${role}" cannot be checked: skillgate.yaml lists no users`, `approvers' roles then come from the identity provider's roles claim: make sure someone is given "${role}"`);
      return;
    }
    const roles = [...new Set(users.flatMap((u) => u.roles))].sort();
    if (roles.includes(role)) return;
    const guess = didYouMean(role, roles);
    this.error(
      path,
      'approval-role-unknown',
      `no user of the workspace holds role "${role}": the approval would wait for nobody`,
      `${guess ? `did you mean "${guess}"? ` : ''}roles held by the users in skillgate.yaml: ${roles.join(', ') || '(none)'}${guess ? '' : `; give a user the role under \`users:\``}`,
    );
  }

  /**
   * Two steps that change state and that nothing orders run at the same time: say so, since
   * analysts usually mean them one after the other.
   */
  private checkParallelWrites(): void {
    const byId = new Map(this.drafts.filter((d) => d.step).map((d) => [d.id!, d]));
    const ancestors = new Map<StepDraft, Set<StepDraft>>();
    const above = (d: StepDraft): Set<StepDraft> => {
      let set = ancestors.get(d);
      if (set) return set;
      set = new Set();
      ancestors.set(d, set);
      for (const dep of d.step?.dependsOn ?? []) {
        const x = byId.get(dep);
        if (!x) continue;
        set.add(x);
        for (const y of above(x)) set.add(y);
      }
      return set;
    };
    const writers = this.drafts.filter((d) => d.step?.kind === 'tool' && d.writes);
    for (const [i, b] of writers.entries()) {
      const free = writers.slice(0, i).filter((a) => !above(b).has(a) && !above(a).has(b));
      if (free.length === 0) continue;
      const names = free.map((a) => `"${a.id}"`).join(', ');
      this.warn(
        [...b.path, 'tool'],
        'parallel-writes',
        `step "${b.id}" changes state, and so does ${names}; nothing orders them, so they run at the same time`,
        `if "${b.id}" must come after, add \`needs: [${free.map((a) => a.id).join(', ')}]\` to it; tools that only read declare \`readOnlyHint: true\` (see \`skillgate tools\`)`,
      );
    }
  }

  /** Position of a character inside a scalar: exact for single-line plain or quoted scalars. */
  private exprPos(path: Path, offset: number): { file: string; line: number; col: number } {
    const n = this.node(path) as Node | undefined;
    if (isScalar(n) && n.range && (n.type === 'PLAIN' || n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE')) {
      const quote = n.type === 'PLAIN' ? 0 : 1;
      const start = this.src.lc.linePos(n.range[0]);
      const endLine = this.src.lc.linePos(n.range[1]).line;
      if (start.line === endLine || n.type === 'PLAIN') {
        return { file: this.src.file, line: start.line + this.src.lineOffset, col: start.col + quote + offset };
      }
    }
    return this.pos(path);
  }
}

function containsExpression(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('${{');
  if (Array.isArray(v)) return v.some(containsExpression);
  if (v !== null && typeof v === 'object') return Object.values(v).some(containsExpression);
  return false;
}
