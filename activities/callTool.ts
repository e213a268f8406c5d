/**
 * The `callTool` activity: one skill step's tool call, through the same pipeline as an agent's
 * direct call. Retry semantics: a tool that answers `isError` will answer the same next time
 * (non-retryable `ToolError`); a transport failure is transient (retryable `UpstreamUnavailable`).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { AuthzError } from '../gateway/authz/authorizer.js';
import { DataLossError } from '../gateway/dlp/errors.js';
import { invokeTool } from '../gateway/pipeline/index.js';
import type { PipelineDeps } from '../gateway/pipeline/context.js';
import { ToolCallError } from '../gateway/pipeline/errors.js';
import { resultText } from '../gateway/pipeline/normalize-result.js';
import { UpstreamError, UpstreamInputRequired } from '../gateway/upstream/types.js';
import { DownstreamError, GrantRequiredError } from '../gateway/downstream/errors.js';
import { AUTHORIZATION_REQUIRED } from '../src/contracts/grants.js';
import type { ActivityFailureType, CallToolInput, CallToolOutput } from '../src/contracts/activities.js';
import { META_IDEMPOTENCY_KEY, META_SKILL, META_STEP } from '../src/contracts/meta.js';

type CallToolFailureType = ActivityFailureType;

export function createCallTool(deps: PipelineDeps) {
  return async function callTool(input: CallToolInput): Promise<CallToolOutput> {
    const ctx = Context.current();
    const { workflowExecution, activityId } = ctx.info;
    // Stable across retries and worker crashes: the same step of the same run has the same key.
    // A local activity's id is a sequence number: it is named after its step, as the workflow
    // names regular ones (`step/<id>`), so a step's key does not depend on how it ran.
    // (workflowExecution is absent only for standalone activities, which Skillgate does not use.)
    const callId = ctx.info.isLocal && !input.compensation ? `step/${input.stepId}` : activityId;
    const idempotencyKey = `${workflowExecution?.runId ?? ctx.info.workflowExecution?.workflowId ?? 'standalone'}/${callId}`;
    const what = input.compensation ? `compensation of step "${input.stepId}"` : `step "${input.stepId}"`;
    const toolName = `${input.server}.${input.tool}`;
    try {
      const res = await invokeTool(deps, {
        principal: input.principal,
        workspace: input.workspace,
        gateway: input.gateway,
        server: input.server,
        tool: input.tool,
        arguments: input.arguments,
        meta: { [META_IDEMPOTENCY_KEY]: idempotencyKey, [META_SKILL]: input.skill, [META_STEP]: input.stepId },
        skill: { name: input.skill, stepId: input.stepId, compensation: input.compensation, ...(workflowExecution ? { workflowId: workflowExecution.workflowId } : {}) },
        ...(input.toolHash !== undefined ? { toolHash: input.toolHash } : {}),
        ids: {
          ...(workflowExecution ? { workflowId: workflowExecution.workflowId, runId: workflowExecution.runId } : {}),
          activityId: callId,
        },
        signal: ctx.cancellationSignal,
      });
      if (res.result.isError) {
        throw ApplicationFailure.create({
          message: `${what}: ${toolName} failed: ${resultText(res.result.content)}`,
          type: 'ToolError' satisfies CallToolFailureType,
          nonRetryable: true,
          details: [{ stepId: input.stepId, server: input.server, tool: input.tool }],
        });
      }
      return { output: res.output ?? null };
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      if (err instanceof AuthzError && err.code === 'ERR_REVOCATIONS_UNAVAILABLE') {
        // Not a denial: the list could not be checked; the step's retry policy tries again.
        throw ApplicationFailure.create({ message: `${what}: ${toolName} ${err.message} (${err.code})`, type: 'RevocationsUnavailable' satisfies CallToolFailureType, nonRetryable: false });
      }
      if (err instanceof AuthzError) {
        // Retrying cannot lift a denial. The run's history keeps the reason (never a token).
        throw ApplicationFailure.create({
          message: `${what}: ${toolName} ${err.message} (${err.code})`,
          type: 'NotPermitted' satisfies CallToolFailureType,
          nonRetryable: true,
          details: [{ stepId: input.stepId, code: err.code, detail: err.detail }],
        });
      }
      if (err instanceof UpstreamInputRequired) {
        // A 2026-07-28 server asks for input (input_required) — of whom? A step has no client to relay to.
        throw ApplicationFailure.create({
          message: `${what}: ${toolName} asks for input (input_required), which a skill step cannot give; call it directly, or use a tool that needs no questions`,
          type: 'UpstreamProtocolError' satisfies CallToolFailureType,
          nonRetryable: true,
        });
      }
      if (err instanceof DataLossError) {
        // The rule will match again on a retry; the history keeps which rule and where, never the value.
        throw ApplicationFailure.create({
          message: `${what}: ${toolName} ${err.message}`,
          type: 'DataLossBlocked' satisfies CallToolFailureType,
          nonRetryable: true,
          details: [{ stepId: input.stepId, code: err.code, rule: err.finding.rule, source: err.finding.source, path: err.finding.path }],
        });
      }
      if (err instanceof GrantRequiredError) {
        // The run waits for the user (URL elicitation) and tries the step again: not a retry.
        const r = err.required;
        deps.audit.record({
          kind: 'run.authorization_wait',
          outcome: 'info',
          reason: r.reason,
          workspace: input.workspace,
          gateway: input.gateway,
          agent: input.principal.agent.id,
          user: input.principal.user.id,
          server: input.server,
          tool: input.tool,
          skill: input.skill,
          step: input.stepId,
          ids: { ...(workflowExecution ? { workflowId: workflowExecution.workflowId, runId: workflowExecution.runId } : {}), activityId: callId },
          detail: { provider: r.provider, scopes: r.scopes, elicitationId: r.elicitationId },
        });
        throw ApplicationFailure.create({
          message: `${what}: ${toolName} needs authorization: ${err.required.message}`,
          type: AUTHORIZATION_REQUIRED,
          nonRetryable: true,
          details: [err.required],
        });
      }
      if (err instanceof DownstreamError) {
        throw ApplicationFailure.create({ message: `${what}: ${toolName}: ${err.message} (${err.code})`, type: 'UpstreamUnavailable' satisfies CallToolFailureType, nonRetryable: false });
      }
      if (err instanceof ToolCallError && err.code === 'ERR_CATALOG_UNCONFIRMED') {
        // This replica's copy of the shared catalog is not confirmed current: another attempt (or worker) may be.
        throw ApplicationFailure.create({ message: `${what}: ${err.message} (${err.code})`, type: 'CatalogUnavailable' satisfies CallToolFailureType, nonRetryable: false });
      }
      if (err instanceof ToolCallError) {
        // Withheld by the pinned catalog: retrying cannot approve it; the history keeps the code and detail.
        const type: CallToolFailureType = err.code === 'ERR_TOOL_UNKNOWN' ? 'UnknownTool' : 'ToolWithheld';
        throw ApplicationFailure.create({ message: `${what}: ${err.message} (${err.code})`, type, nonRetryable: true, details: [{ stepId: input.stepId, code: err.code, detail: err.detail ?? null }] });
      }
      if (err instanceof UpstreamError) {
        if (err.code === 'ERR_UPSTREAM_UNKNOWN_SERVER' || err.code === 'ERR_UPSTREAM_UNKNOWN_TOOL') {
          throw ApplicationFailure.create({ message: `${what}: ${err.message}`, type: 'UnknownTool' satisfies CallToolFailureType, nonRetryable: true });
        }
        throw ApplicationFailure.create({
          message: `${what}: ${err.message}`,
          type: (err.retryable ? 'UpstreamUnavailable' : 'UpstreamProtocolError') satisfies CallToolFailureType,
          nonRetryable: !err.retryable,
        });
      }
      throw err;
    }
  };
}
