/**
 * Audit query parameters as people and scripts write them — the CLI's flags, the admin page's
 * form, `GET /admin/audit`'s query string — checked in one place (zod) into an `AuditQuery`.
 * A bad value is an AuditError naming the parameter.
 */
import { z } from 'zod';
import { parseDuration } from '../../src/pure/durations.js';
import { AuditError } from './errors.js';
import type { AuditQuery } from './store.js';

/** `1h`, `30m`, `7d` ago, or an ISO date / date-time: an ISO time. */
export function parseSince(text: string, now = Date.now()): string | undefined {
  const t = text.trim();
  const d = parseDuration(t);
  if (d !== undefined) return new Date(now - d).toISOString();
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

const text = z.string().trim().min(1).max(200).optional();
const time = (name: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const iso = parseSince(v);
      if (!iso) ctx.addIssue({ code: 'custom', message: `${name}: "${v.slice(0, 40)}" is neither a duration (1h, 30m, 7d) nor an ISO date or time` });
      return iso;
    });
const int = (name: string, min: number, max: number) =>
  z
    .union([z.string(), z.number()])
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) ctx.addIssue({ code: 'custom', message: `${name}: expected a whole number from ${min} to ${max}` });
      return n;
    });

const paramsSchema = z
  .object({
    user: text,
    agent: text,
    gateway: text,
    tool: text,
    skill: text,
    kind: text,
    decision: z.enum(['allow', 'deny'], { message: 'decision: expected "allow" or "deny"' }).optional(),
    outcome: z.enum(['allow', 'deny', 'ok', 'error', 'info'], { message: 'outcome: expected allow, deny, ok, error or info' }).optional(),
    run: text,
    request: text,
    since: time('since'),
    until: time('until'),
    before: int('before', 1, Number.MAX_SAFE_INTEGER),
    limit: int('limit', 1, 1000),
  })
  .strip();

/** The parameters, by name, as they arrive (strings; empty means unset). */
export type QueryParams = Partial<Record<keyof z.input<typeof paramsSchema>, unknown>>;

/**
 * Check query parameters and build the query. `decision` is the outcome of a decision or a
 * refusal (`deny` finds every denial and refusal); `run` is a workflow id.
 *
 * @example parseAuditQuery({ user: 'intern', decision: 'deny', since: '1h' })
 */
export function parseAuditQuery(params: QueryParams): AuditQuery {
  const r = paramsSchema.safeParse(params);
  if (!r.success) throw new AuditError('ERR_AUDIT_INPUT', r.error.issues.map((i) => i.message).join('; '));
  const p = r.data;
  const q: AuditQuery = {};
  for (const k of ['user', 'agent', 'gateway', 'tool', 'skill', 'kind', 'since', 'until', 'before', 'limit'] as const) {
    if (p[k] !== undefined) (q as Record<string, unknown>)[k] = p[k];
  }
  const outcome = p.decision ?? p.outcome;
  if (outcome) q.outcome = outcome;
  if (p.run) q.workflowId = p.run;
  if (p.request) q.requestId = p.request;
  return q;
}
