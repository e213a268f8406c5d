/**
 * The compiled plan: what `skillgate compile` prints and what `runSkill` interprets.
 *
 * Everything here is plain JSON (no functions, no Dates, no BigInts) because the plan is
 * pinned in the workflow input and hashed. Types only (src/contracts/: the leaf every layer
 * may import; it imports nothing of the product).
 */

import type { Json, JsonSchema } from './json.js';

/**
 * A value built at run time from expressions.
 * - `literal`: used as is.
 * - `expr`: one CEL expression; its result keeps its type (number, bool, map, …).
 * - `interp`: a string with `${{ expr }}` parts; each result is turned into text.
 * - `object` / `array`: containers holding at least one expression somewhere below.
 *
 * @example `with: { customerId: "${{ inputs.customerId }}" }` compiles to
 *   `{ kind: 'object', entries: { customerId: { kind: 'expr', expr: 'inputs.customerId' } } }`
 */
export type ValueTemplate =
  | { kind: 'literal'; value: Json }
  | { kind: 'expr'; expr: string }
  | { kind: 'interp'; parts: Array<string | { expr: string }> }
  | { kind: 'object'; entries: { [key: string]: ValueTemplate } }
  | { kind: 'array'; items: ValueTemplate[] };

/** `<server>.<tool>` split in two, and the definition it was compiled against. */
export interface ToolRef {
  server: string;
  name: string;
  /**
   * SHA-256 of the tool's definition when the skill was compiled (gateway/curation/definition.ts):
   * a step is refused, and the skill held, when the pinned catalog serves another one.
   * Absent in plans compiled before curation.
   */
  hash?: string;
}

/** Maps onto Temporal's RetryPolicy. */
export interface RetrySpec {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** Error `type`s that end the step at once (ApplicationFailure types, e.g. `ToolError`). */
  nonRetryableErrorTypes: string[];
}

export interface ApprovalSpec {
  /** The role an approver must hold (from the IdP claims or dev users). */
  role: string;
  /** How long the run waits before it ends with `ApprovalTimedOut`. */
  timeoutMs: number;
  /** Shown to the approver; may interpolate inputs and earlier outputs. */
  message?: ValueTemplate;
}

export interface CompensationSpec {
  tool: ToolRef;
  /** May read `steps.<thisStep>.output` as well as everything the step itself could read. */
  with: ValueTemplate;
  retry: RetrySpec;
  timeoutMs: number;
}

interface StepBase {
  id: string;
  /** CEL condition; the step is skipped (output null) when false. */
  if?: string;
  /**
   * Ids of the steps that must be finished before this one starts: the steps its
   * expressions read, its `needs:`, and every gate (fail/approval step) written above it.
   */
  dependsOn: string[];
  /** 1-based line of the step in plan.yaml, for error messages at run time. */
  line: number;
}

/**
 * `local`: a local activity, run by the worker inside the workflow task (no server round trip;
 * its result is durable once that task completes, and a crash before that runs it again).
 * `activity`: a regular activity, dispatched and recorded by the server on its own.
 */
export type StepExecution = 'local' | 'activity';

export interface ToolStep extends StepBase {
  kind: 'tool';
  tool: ToolRef;
  with: ValueTemplate;
  retry: RetrySpec;
  /** Per-attempt timeout (Temporal startToCloseTimeout). */
  timeoutMs: number;
  /** From the tool's `readOnlyHint` annotation; read-only steps may run as local activities. */
  readOnly: boolean;
  /**
   * How the step runs (compiler: step `execution:`, else plan `readOnlySteps:`, else config
   * defaults.readOnlySteps; a step that is not read-only is always `activity`). Absent in plans
   * compiled before it existed: those run as they did (RunSkillInput.localReadOnlySteps).
   */
  execution?: StepExecution;
  /** Wait for approval before calling the tool. */
  approval?: ApprovalSpec;
  compensate?: CompensationSpec;
}

export interface ApprovalStep extends StepBase {
  kind: 'approval';
  approval: ApprovalSpec;
}

export interface FailStep extends StepBase {
  kind: 'fail';
  /** The reason the run fails with (interp or literal). */
  message: ValueTemplate;
}

export type PlanStep = ToolStep | ApprovalStep | FailStep;

export interface PlanOutput {
  /** JSON Schema of the output value (without `value`). */
  schema: JsonSchema;
  value: ValueTemplate;
}

export interface CompiledPlan {
  apiVersion: 'skillgate/v1';
  skill: {
    name: string;
    description: string;
    /** From SKILL.md `metadata.version`, else "0". */
    version: string;
  };
  /** JSON Schema (type: object) of the run's inputs. */
  inputs: JsonSchema;
  /** Steps in document order. */
  steps: PlanStep[];
  outputs: { [name: string]: PlanOutput };
  /** JSON Schema derived from `outputs` (MCP outputSchema of the skill's tool). */
  outputSchema: JsonSchema;
}
