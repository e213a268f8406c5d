/**
 * Client side of skill runs: start one (inputs validated first), approve a step, read its
 * status, wait for its result. Used by the CLI and the gateway alike.
 */
import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import {
  type Client,
  WorkflowFailedError,
  type WorkflowHandle,
  WorkflowUpdateFailedError,

} from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes, WorkflowIdConflictPolicy } from '@temporalio/common';
import type { Principal } from '../../gateway/identity/principal.js';
import {
  approveUpdate,
  statusQuery,
  type ApprovalDecision,
  type ApprovalRecord,
  type RunSkillInput,
  type RunSkillResult,
  type RunStatus,
} from '../../workflows/definitions.js';
import { searchAttributeKeys } from '../runtime/temporal.js';
import type { CompiledPlan, Json } from './plan.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** Why a run could not be started, approved or completed (one family, narrowed by `code`). */
export type RunErrorCode = 'ERR_RUN_INPUT_INVALID' | 'ERR_RUN_FAILED' | 'ERR_RUN_APPROVAL_REFUSED' | 'ERR_RUN_NOT_FOUND';

export class RunError extends Error {
  constructor(
    readonly code: RunErrorCode,
    message: string,
    /** For ERR_RUN_INPUT_INVALID: one line per problem, `<json path>: <message>`. */
    readonly problems: string[] = [],
    /** For ERR_RUN_FAILED: the workflow's failure type (ToolError, ApprovalTimedOut, …). */
    readonly failureType?: string,
  ) {
    super(message);
    this.name = 'RunError';
  }
}

const ajv = addFormats(new Ajv2020({ allErrors: true, useDefaults: true, strict: false }));
const validators = new WeakMap<object, ReturnType<typeof ajv.compile>>();

/**
 * Validate run inputs against the plan's input schema, filling in defaults. Returns a copy.
 * Throws RunError ERR_RUN_INPUT_INVALID listing every problem with its JSON path.
 */
export function validateInputs(plan: CompiledPlan, inputs: unknown): { [key: string]: Json } {
  let validate = validators.get(plan.inputs);
  if (!validate) {
    validate = ajv.compile(plan.inputs);
    validators.set(plan.inputs, validate);
  }
  const copy = structuredClone(inputs ?? {}) as { [key: string]: Json };
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => {
      const where = e.instancePath ? `inputs${e.instancePath.replaceAll('/', '.')}` : 'inputs';
      const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
      return `${where}: ${e.message ?? 'is invalid'}${extra}`;
    });
    throw new RunError('ERR_RUN_INPUT_INVALID', `invalid inputs for skill ${plan.skill.name}:\n  ${problems.join('\n  ')}`, problems);
  }
  return copy;
}

export interface StartRunOptions {
  plan: CompiledPlan;
  planHash: string;
  inputs: unknown;
  principal: Principal;
  workspace: string;
  gateway: string;
  taskQueue: string;
  /** Default `skill-<name>-<uuid>`. A fixed id makes a retried start attach to the same run. */
  workflowId?: string;
  localReadOnlySteps?: boolean;
}

/** Start a skill run. With a given workflowId, starting twice returns the run already started. */
export async function startSkillRun(client: Client, opts: StartRunOptions): Promise<WorkflowHandle> {
  const inputs = validateInputs(opts.plan, opts.inputs);
  const [skillKey, userKey, agentKey, gatewayKey, workspaceKey] = searchAttributeKeys;
  const args: RunSkillInput = {
    plan: opts.plan,
    planHash: opts.planHash,
    inputs,
    principal: opts.principal,
    workspace: opts.workspace,
    gateway: opts.gateway,
    ...(opts.localReadOnlySteps ? { localReadOnlySteps: true } : {}),
  };
  return client.workflow.start('runSkill', {
    taskQueue: opts.taskQueue,
    workflowId: opts.workflowId ?? `skill-${opts.plan.skill.name}-${randomUUID()}`,
    args: [args],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    memo: { planHash: opts.planHash, skillVersion: opts.plan.skill.version },
    typedSearchAttributes: new TypedSearchAttributes([
      { key: skillKey!, value: opts.plan.skill.name },
      { key: userKey!, value: opts.principal.user.id },
      { key: agentKey!, value: opts.principal.agent.id },
      { key: gatewayKey!, value: opts.gateway },
      { key: workspaceKey!, value: opts.workspace },
    ]),
  });
}

/** Wait for a run's result; a failed run becomes RunError ERR_RUN_FAILED with the workflow's message. */
export async function waitForResult(client: Client, workflowId: string): Promise<RunSkillResult> {
  try {
    return (await client.workflow.getHandle(workflowId).result()) as RunSkillResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause;
      const type = cause instanceof ApplicationFailure ? (cause.type ?? undefined) : cause?.name;
      throw new RunError('ERR_RUN_FAILED', cause?.message ?? err.message, [], type);
    }
    throw err;
  }
}

/** Approve or reject the pending approval of a run. The workflow checks the approver's role. */
export async function approveRun(client: Client, workflowId: string, decision: ApprovalDecision): Promise<ApprovalRecord> {
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate(approveUpdate, { args: [decision] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new RunError('ERR_RUN_APPROVAL_REFUSED', err.cause?.message ?? err.message);
    }
    if ((err as { name?: string }).name === 'WorkflowNotFoundError') {
      throw new RunError('ERR_RUN_NOT_FOUND', `no skill run with id ${workflowId}`);
    }
    throw err;
  }
}

/** The run's live status (steps, pending approvals). */
export async function getRunStatus(client: Client, workflowId: string): Promise<RunStatus> {
  try {
    return await client.workflow.getHandle(workflowId).query(statusQuery);
  } catch (err) {
    if ((err as { name?: string }).name === 'WorkflowNotFoundError') {
      throw new RunError('ERR_RUN_NOT_FOUND', `no skill run with id ${workflowId}`);
    }
    throw err;
  }
}

