import type { Json } from '../../src/contracts/json.js';
import { DataLossError } from '../dlp/errors.js';
import { scanJson, type ScanState } from '../dlp/scan.js';
import { refusal } from '../log.js';
import type { PipelineStep, ToolCallContext } from './context.js';

/** The fields every data-loss log line carries (never a value: rule, where, action, count); redactions add `event: 'dlp'`, blocks are refusals. */
export function dlpLogFields(ctx: ToolCallContext): Record<string, unknown> {
  const { gateway, server, tool, principal, skill } = ctx.request;
  return {
    gateway,
    tool: `${server}.${tool}`,
    user: principal.user.id,
    agent: principal.agent.id,
    ...(skill ? { skill: skill.name, step: skill.stepId } : {}),
    ...(ctx.traceId ? { traceId: ctx.traceId } : {}),
  };
}

/**
 * Data-loss filter on the arguments (gateway/dlp/), before anything leaves for the upstream
 * server: a `block` match refuses the call with a DataLossError naming the rule and where; a
 * `redact` match sends a redacted copy. Either way the call is marked (`ctx.dlp`) and logged.
 */
export const filterArguments: PipelineStep = (ctx, { dataLoss }) => {
  const { gateway, server, tool, arguments: args } = ctx.request;
  const rules = dataLoss.rulesFor(gateway, server, tool);
  if (rules.arguments.detectors.size === 0) return;
  const state: ScanState = { findings: [] };
  const redacted = scanJson(args, '', 'arguments', rules.arguments, state, rules.phoneRegion) as { [key: string]: Json };
  if (!state.findings.length) return;
  ctx.dlp = { findings: [...(ctx.dlp?.findings ?? []), ...state.findings], ...(state.blocked ? { blocked: state.blocked } : {}) };
  if (state.blocked) {
    const b = state.blocked;
    refusal(dataLoss.log, { ...dlpLogFields(ctx), code: 'ERR_DLP_BLOCKED_ARGUMENTS', rule: b.rule, source: b.source, path: b.path, findings: state.findings });
    throw new DataLossError(b);
  }
  ctx.arguments = redacted;
  dataLoss.log.info('data-loss filter redacted the arguments', { event: 'dlp', ...dlpLogFields(ctx), findings: state.findings });
};
