/**
 * What `skillgate curate` does once its servers are reachable (loaded when the command runs):
 * score each server through the curation service, render, approve. Returns what to print.
 */
import { userInfo } from 'node:os';
import { ApproveError } from '../../../gateway/curation/approve.js';
import { LockError } from '../../../gateway/curation/lock.js';
import type { LockSource } from '../../../gateway/curation/lock-source.js';
import { renderHtml } from '../../../gateway/curation/render/html.js';
import { renderJson } from '../../../gateway/curation/render/json.js';
import { renderSarif } from '../../../gateway/curation/render/sarif.js';
import { RULE_INFO } from '../../../gateway/curation/rules/index.js';
import type { CurationReport } from '../../../gateway/curation/score.js';
import { approveServer, currentLock, inspectServer, otherServersOf } from '../../../gateway/curation/service.js';
import type { Logger } from '../../../gateway/log.js';
import type { UpstreamPool } from '../../../gateway/upstream/types.js';
import type { LoadedConfig } from '../../config/load.js';
import type { ServerConfig } from '../../config/schema.js';
import type { AuditSink } from '../../contracts/audit.js';
import { openLockSource } from '../runtime/state.js';
import { CliError } from './errors.js';

export interface CurateRunOptions {
  json?: boolean;
  sarif?: boolean;
  html?: string;
  approve?: boolean | string[];
  acceptRisk?: boolean;
  by?: string;
  probe?: boolean;
  log: Logger;
  /** The workspace's audit trail: approvals and the changes found are recorded there. */
  audit: AuditSink;
}

export interface CurateOutcome {
  stdout: string;
  /** Lines for stderr (approvals, hints). */
  messages: string[];
  html: Array<{ server: string; html: string }>;
  exitCode: number;
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** The text form: grade per server and tool, every finding with its rule id, level and place. */
export function formatText(reports: readonly CurationReport[]): string {
  const out: string[] = [];
  for (const r of reports) {
    const id = r.identity;
    out.push(`${r.server}: grade ${r.grade} (${r.score}/100) — ${id.title ?? id.name} ${id.version}; ${r.tools.length} tools, ${r.inventory.resources.length} resources, ${r.inventory.resourceTemplates.length} resource templates, ${r.inventory.prompts.length} prompts`);
    out.push(`  ${r.counts.error} errors, ${r.counts.warning} warnings, ${r.counts.note} notes`);
    for (const f of r.serverFindings) out.push(`  ${f.level.padEnd(7)} ${f.ruleId}  ${r.server}${f.pointer ? ` ${f.pointer}` : ''}: ${f.message}`);
    for (const t of r.tools) {
      out.push(`  ${t.grade} ${String(t.score).padStart(3)}  ${t.name}`);
      for (const f of t.findings) out.push(`          ${f.level.padEnd(7)} ${f.ruleId}  ${f.pointer}: ${f.message}`);
    }
    for (const e of r.inventory.errors) out.push(`  (not listed: ${e})`);
    out.push('');
  }
  const used = [...new Set(reports.flatMap((r) => [...r.serverFindings, ...r.tools.flatMap((t) => t.findings)]).map((f) => f.ruleId))].sort();
  if (used.length) {
    out.push('Rules:');
    for (const id of used) out.push(`  ${id}  ${RULE_INFO.get(id)?.name ?? ''}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** Score `names` (reachable through `pool`), render, and approve when asked. */
export async function curateServers(loaded: LoadedConfig, servers: Readonly<Record<string, ServerConfig>>, pool: UpstreamPool, names: string[], opts: CurateRunOptions): Promise<CurateOutcome> {
  const source = await openLockSource(loaded);
  try {
    return await curateWith(source, servers, pool, names, opts, loaded);
  } finally {
    await source.close();
  }
}

async function curateWith(source: LockSource, servers: Readonly<Record<string, ServerConfig>>, pool: UpstreamPool, names: string[], opts: CurateRunOptions, loaded: LoadedConfig): Promise<CurateOutcome> {
  const deps = { pool, servers, lock: source, workspace: loaded.config.workspace, audit: opts.audit, log: opts.log };
  let lock;
  try {
    lock = currentLock(source);
  } catch (err) {
    if (err instanceof LockError && opts.approve !== undefined) throw new CliError(`${err.message}\n  nothing was approved`, 1);
    lock = undefined;
  }
  const reports: CurationReport[] = [];
  const messages: string[] = [];
  for (const name of names) {
    try {
      reports.push(await inspectServer(deps, name, { otherServers: otherServersOf(lock, name), probe: opts.probe !== false }));
    } catch (err) {
      throw new CliError(`${name}: ${(err as Error).message}\n  hint: start it, or fix servers.${name} (\`--verbose\` shows its log)`, 1);
    }
  }
  let exitCode = reports.some((r) => r.counts.error > 0) ? 1 : 0;
  if (opts.approve !== undefined) {
    const report = reports[0]!;
    try {
      const a = await approveServer(deps, report, { by: opts.by ?? whoAmI(), acceptRisk: opts.acceptRisk === true, ...(Array.isArray(opts.approve) ? { tools: opts.approve } : {}) });
      for (const x of a.approved) messages.push(`approved ${report.server}.${x.tool} (grade ${x.grade}) ${x.hash}${x.previous ? ` (was ${x.previous})` : ''}`);
      if (a.unchanged.length) messages.push(`already approved as they are: ${a.unchanged.join(', ')}`);
      for (const t of a.removed) messages.push(`removed ${report.server}.${t}: the server no longer lists it`);
      messages.push(`wrote ${source.where}${a.approved.length || a.removed.length ? ' — every running gateway serves the change within a second' : ''}`);
      exitCode = 0;
    } catch (err) {
      if (err instanceof ApproveError || err instanceof LockError) throw new CliError(`${err.message}\n  nothing was approved`, 1);
      throw err;
    }
  }
  const stdout = opts.json ? renderJson(reports) : opts.sarif ? renderSarif(reports) : formatText(reports);
  return { stdout, messages, html: opts.html !== undefined ? reports.map((r) => ({ server: r.server, html: renderHtml(r) })) : [], exitCode };
}

