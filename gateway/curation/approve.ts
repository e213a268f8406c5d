/**
 * Approving tools: the one way a pin gets into the lock (the CLI's `--approve` and tests use
 * it). A tool with an error-level finding is approved only when the approver accepts the risk
 * explicitly; approving a whole server drops the pins of tools it no longer lists.
 */
import { didYouMean } from '../../src/shared/diagnostics.js';
import { own, setOwn } from '../../src/shared/own.js';
import type { PinLock, ToolPin } from './lock.js';
import type { CurationReport } from './score.js';

export type ApproveErrorCode =
  /** A tool named for approval is not on the server. */
  | 'ERR_APPROVE_UNKNOWN_TOOL'
  /** A tool to approve has error-level findings and the risk was not accepted. */
  | 'ERR_APPROVE_RISK'
  /** A tool's definition has no canonical form, so it cannot be pinned. */
  | 'ERR_APPROVE_UNPINNABLE';

export class ApproveError extends Error {
  constructor(
    readonly code: ApproveErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApproveError';
  }
}

export interface ApproveOptions {
  /** Tool names to approve; absent or empty: every tool the server lists. */
  tools?: readonly string[];
  /** Who approves (recorded in the lock and the audit trail). */
  by: string;
  /** Approve tools with error-level findings too. */
  acceptRisk?: boolean;
  now?: () => Date;
}

export interface Approval {
  lock: PinLock;
  /** Tools whose pin was added or changed, with their hashes before (absent: new) and now. */
  approved: Array<{ tool: string; hash: string; previous?: string; grade: string }>;
  /** Tools whose pin already matched (approval renewed). */
  unchanged: string[];
  /** Pins dropped because the server no longer lists the tool (whole-server approval only). */
  removed: string[];
}

/**
 * Approve tools of a scored server into a lock (a copy; the caller writes it).
 *
 * @example const { lock } = approveTools(readLock(file), report, { by: 'alice', tools: ['get_score'] });
 */
export function approveTools(current: PinLock | undefined, report: CurationReport, opts: ApproveOptions): Approval {
  const names = report.tools.map((t) => t.name);
  const wanted = opts.tools?.length ? [...new Set(opts.tools)] : names;
  for (const n of wanted) {
    if (!names.includes(n)) {
      const guess = didYouMean(n, names);
      throw new ApproveError('ERR_APPROVE_UNKNOWN_TOOL', `server "${report.server}" has no tool "${n}"${guess ? ` (did you mean "${guess}"?)` : ''}; its tools: ${names.join(', ')}`);
    }
  }
  const chosen = report.tools.filter((t) => wanted.includes(t.name));
  const unpinnable = chosen.filter((t) => !t.hash).map((t) => t.name);
  if (unpinnable.length) throw new ApproveError('ERR_APPROVE_UNPINNABLE', `cannot pin ${unpinnable.join(', ')}: the definition has no canonical JSON form (RFC 8785)`);
  const risky = chosen.filter((t) => t.findings.some((f) => f.level === 'error'));
  if (risky.length && !opts.acceptRisk) {
    const list = risky.map((t) => `${t.name} (${[...new Set(t.findings.filter((f) => f.level === 'error').map((f) => f.ruleId))].join(', ')})`).join('; ');
    throw new ApproveError('ERR_APPROVE_RISK', `not approved: ${list} ${risky.length === 1 ? 'has' : 'have'} error findings. Read the report, then approve the others by name, or add --accept-risk to approve anyway`);
  }

  const lock: PinLock = { lockfileVersion: 1, servers: { ...(current?.servers ?? {}) } };
  const before = own(lock.servers, report.server);
  const tools: Record<string, ToolPin> = {};
  for (const [k, v] of Object.entries(before?.tools ?? {})) setOwn(tools, k, v);
  const at = (opts.now?.() ?? new Date()).toISOString();
  const approval: Approval = { lock, approved: [], unchanged: [], removed: [] };
  for (const t of chosen) {
    const prev = own(tools, t.name);
    if (prev?.hash === t.hash) approval.unchanged.push(t.name);
    else approval.approved.push({ tool: t.name, hash: t.hash!, ...(prev ? { previous: prev.hash } : {}), grade: t.grade });
    setOwn(tools, t.name, { hash: t.hash!, grade: t.grade, approvedBy: opts.by, approvedAt: at });
  }
  if (!opts.tools?.length) {
    for (const k of Object.keys(tools)) {
      if (!names.includes(k)) {
        delete tools[k];
        approval.removed.push(k);
      }
    }
  }
  setOwn(lock.servers, report.server, { identity: report.identity, grade: report.grade, tools });
  return approval;
}
