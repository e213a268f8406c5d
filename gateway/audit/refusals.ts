/**
 * Every refusal leaves a trace: the structured log line (gateway/log.ts `refusal()`) and an
 * audit event. This logger writes each refusal line and records it — `token.refused` for
 * authentication's codes, `request.refused` for the others — unless the line names the
 * `decisionId` of a decision the authorizer has already recorded. Adapters get it in place of
 * their logger, so no call site can log a refusal without recording it.
 */
import type { AuditEventInput, AuditSink } from '../../src/contracts/audit.js';
import type { Json } from '../../src/contracts/json.js';
import { isAuthErrorCode } from '../identity/errors.js';
import type { LogFields, Logger } from '../log.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The audit event of a refusal line, or undefined when it is not one to record. */
export function refusalEvent(workspace: string, fields: LogFields): AuditEventInput | undefined {
  if (fields.event !== 'refusal' || str(fields.decisionId)) return undefined;
  const code = str(fields.code) ?? 'ERR_UNKNOWN';
  const detail: { [k: string]: Json } = {};
  if (typeof fields.status === 'number') detail.status = fields.status;
  for (const k of ['detail', 'path', 'action', 'component', 'reason'] as const) {
    const v = str(fields[k]);
    if (v) detail[k] = v.slice(0, 500);
  }
  const requestId = str(fields.requestId);
  const workflowId = str(fields.runId);
  return {
    kind: isAuthErrorCode(code) ? 'token.refused' : 'request.refused',
    outcome: 'deny',
    reason: code,
    workspace,
    ...(str(fields.gateway) ? { gateway: str(fields.gateway)! } : {}),
    ...(str(fields.agent) ? { agent: str(fields.agent)! } : {}),
    ...(str(fields.user) ? { user: str(fields.user)! } : {}),
    ...(str(fields.tool) ? { tool: str(fields.tool)! } : {}),
    ...(str(fields.skill) ? { skill: str(fields.skill)! } : {}),
    ...(requestId || workflowId ? { ids: { ...(requestId ? { requestId } : {}), ...(workflowId ? { workflowId } : {}) } } : {}),
    ...(Object.keys(detail).length ? { detail } : {}),
  };
}

/**
 * `log`, with every refusal line also recorded in `audit`.
 *
 * @example const log = auditedLogger(pinoLogger, auditLog, config.workspace); refusal(log, { code: 'ERR_TOKEN_EXPIRED', … });
 */
export function auditedLogger(log: Logger, audit: AuditSink, workspace: string, bindings: LogFields = {}): Logger {
  return {
    info: (msg, fields) => log.info(msg, fields),
    error: (msg, fields) => log.error(msg, fields),
    warn(msg, fields) {
      log.warn(msg, fields);
      if (fields) {
        const event = refusalEvent(workspace, { ...bindings, ...fields });
        if (event) audit.record(event);
      }
    },
    child: (b) => auditedLogger(log.child(b), audit, workspace, { ...bindings, ...b }),
  };
}
