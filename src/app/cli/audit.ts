/**
 * `skillgate audit`: read the audit trail.
 *
 *   skillgate audit [--user U] [--agent A] [--gateway G] [--tool T] [--skill S] [--decision allow|deny]
 *                   [--kind K] [--run <workflowId>] [--since 1h|ISO] [--until …] [--limit N] [--json]
 *   skillgate audit verify [--export <file> --public-key <file>]
 *   skillgate audit export [--since 1h|ISO] [--output <file>]     (JSONL, stdout by default)
 *   skillgate audit public-key                                    (PEM, for offline verification)
 *
 * `verify` exits 0 when the chain and every checkpoint verify, 1 naming the first broken event
 * otherwise. Offline (`--export`) it needs no config, no store and no private key.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AuditEvent } from '../../contracts/audit.js';
import type { VerifyReport } from '../../../gateway/audit/verify.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

interface QueryOptions {
  user?: string;
  agent?: string;
  gateway?: string;
  tool?: string;
  skill?: string;
  decision?: string;
  kind?: string;
  run?: string;
  since?: string;
  until?: string;
  limit?: string;
  before?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const audit = program
    .command('audit')
    .description('query the audit trail (newest first); `audit verify`, `audit export`, `audit public-key`')
    .option('--user <id>', 'events of this user')
    .option('--agent <id>', 'events of this agent')
    .option('--gateway <name>', 'events on this gateway')
    .option('--tool <name>', 'a tool: <server>.<tool>, or a tool name on any server')
    .option('--skill <name>', 'events of this skill (its runs, steps and decisions)')
    .option('--decision <allow|deny>', 'allowed decisions, or every denial and refusal')
    .option('--kind <kind>', 'one kind of event (decision, tool.call, token.refused, run.started, …)')
    .option('--run <workflowId>', "one run's events")
    .option('--since <when>', 'a duration back from now (1h, 30m, 7d) or an ISO date/time')
    .option('--until <when>', 'same forms as --since')
    .option('--limit <n>', 'at most this many events (default 50, at most 1000)')
    .option('--before <seq>', 'events older than this sequence number (the next page)')
    .option('--json', 'one JSON object per line: each event as stored')
    .action(async (opts: QueryOptions, cmd: Command) => {
      const loaded = configFrom(cmd);
      const { parseAuditQuery } = await import('../../../gateway/audit/query.js');
      const { openAuditStore } = await import('../runtime/state.js');
      const { temporalUiBase, runLink } = await import('../../../gateway/audit/links.js');
      let query;
      try {
        query = parseAuditQuery({ ...opts, ...(opts.decision !== undefined ? { decision: opts.decision } : {}) });
      } catch (err) {
        throw new CliError((err as Error).message, 2);
      }
      const store = await openAuditStore(loaded, { busyTimeoutMs: 5_000 });
      try {
        const page = await store.query(query);
        if (opts.json) {
          for (const e of page.events) process.stdout.write(`${JSON.stringify(e)}\n`);
          return;
        }
        if (page.events.length === 0) {
          process.stdout.write('no events\n');
          return;
        }
        const ui = temporalUiBase(loaded.config);
        for (const e of page.events) {
          process.stdout.write(`${formatEvent(e)}\n`);
          if (ui && e.ids?.workflowId && (e.kind === 'run.started' || e.kind === 'run.ended')) process.stdout.write(`    ${runLink(ui, loaded.config.temporal.namespace, e.ids.workflowId, e.ids.runId)}\n`);
        }
        if (page.next !== undefined) process.stderr.write(`more: --before ${page.next}\n`);
      } finally {
        await store.close();
      }
    });

  audit
    .command('verify')
    .description('check the hash chain and the signed checkpoints (exit 1 naming the first broken event)')
    .option('--export <file>', 'verify a JSONL export offline instead of the store')
    .option('--public-key <file...>', 'public key(s) (PEM) the checkpoints must verify with (required with --export)')
    .option('--json', 'the report as JSON')
    .action(async (own: { export?: string; publicKey?: string[]; json?: boolean }, cmd: Command) => {
      const opts = { ...own, json: own.json ?? parentOption<boolean>(cmd, 'json') };
      const { verificationKeys } = await import('../../../gateway/audit/keys.js');
      const { verifyRecords } = await import('../../../gateway/audit/verify.js');
      const pems = (opts.publicKey ?? []).map((f) => ({ text: readText(f), where: f }));
      let report: VerifyReport;
      let what: string;
      if (opts.export) {
        if (pems.length === 0) throw new CliError('--public-key <file> is required with --export: an export is verified with the key published apart from it (skillgate audit public-key)', 2);
        const { readExport } = await import('../../../gateway/audit/export.js');
        const parsed = await readExport(opts.export).catch((err: Error) => {
          throw new CliError(err.message, 1);
        });
        const keys = await verificationKeys(pems).catch((err: Error) => {
          throw new CliError(err.message, 2);
        });
        report = await verifyRecords(parsed.records, { keys, ...(parsed.anchor ? { anchor: parsed.anchor } : {}), expectLastSeq: parsed.header.lastSeq });
        what = opts.export;
      } else {
        const loaded = configFrom(cmd);
        const { signingKey } = await import('../runtime/audit.js');
        const { createPublicKey } = await import('node:crypto');
        const own = createPublicKey(signingKey(loaded)).export({ format: 'pem', type: 'spki' }).toString();
        const keys = await verificationKeys([{ text: own, where: 'the workspace signing key' }, ...pems]).catch((err: Error) => {
          throw new CliError(err.message, 2);
        });
        const { openAuditStore, describeStorage } = await import('../runtime/state.js');
        const store = await openAuditStore(loaded, { busyTimeoutMs: 5_000 });
        try {
          report = await verifyRecords(store.records(), { keys });
        } finally {
          await store.close();
        }
        what = describeStorage(loaded);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else process.stdout.write(`${formatReport(report, what)}\n`);
      if (!report.ok) process.exitCode = 1;
    });

  audit
    .command('export')
    .description('write the audit trail as JSON lines with its signed checkpoints (a checkpoint is made first, so every line is covered)')
    .option('--since <when>', 'from the checkpoint before this time: a duration back (1h, 7d) or an ISO date/time')
    .option('--output <file>', 'write here instead of stdout')
    .action(async (own: { since?: string; output?: string }, cmd: Command) => {
      const since0 = own.since ?? parentOption<string>(cmd, 'since');
      const opts = { ...own, ...(since0 !== undefined ? { since: since0 } : {}) };
      const loaded = configFrom(cmd);
      const { parseSince } = await import('../../../gateway/audit/query.js');
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      if (opts.since !== undefined && since === undefined) throw new CliError(`--since: "${opts.since}" is neither a duration (1h, 30m, 7d) nor an ISO date or time`, 2);
      const { openWorkspaceAudit } = await import('../runtime/audit.js');
      const { exportAudit } = await import('../../../gateway/audit/export.js');
      const audit = await openWorkspaceAudit(loaded, { busyTimeoutMs: 5_000, onProblem: (m) => process.stderr.write(`skillgate: audit: ${m}\n`) });
      try {
        await audit.log.checkpoint();
        const out = opts.output ? createWriteStream(opts.output, { mode: 0o600 }) : process.stdout;
        const write = (line: string) => (out.write(line) ? undefined : new Promise<void>((r) => out.once('drain', () => r())));
        const r = await exportAudit(audit.store, { workspace: loaded.config.workspace, ...(since ? { since } : {}) }, write);
        if (opts.output) await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
        process.stderr.write(`exported ${r.events} events (${r.firstSeq}–${r.lastSeq}) and ${r.checkpoints} checkpoints${opts.output ? ` to ${opts.output}` : ''}\n`);
      } finally {
        await audit.close();
      }
    });

  audit
    .command('public-key')
    .description('print the public key (PEM) that verifies the checkpoints')
    .action(async (_opts: unknown, cmd: Command) => {
      const loaded = configFrom(cmd);
      const { signingKey } = await import('../runtime/audit.js');
      const { checkpointSigner } = await import('../../../gateway/audit/keys.js');
      const signer = await checkpointSigner(signingKey(loaded));
      process.stdout.write(signer.publicKeyPem);
      process.stderr.write(`key id ${signer.keyId}\n`);
    });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
  }
}

/** One line per event: when, what, the outcome, who through what, on what, and why. */
export function formatEvent(e: AuditEvent): string {
  const target = [e.server && e.tool ? `${e.server}.${e.tool}` : e.tool, e.skill ? `skill ${e.skill}${e.step ? `/${e.step}` : ''}` : undefined].filter(Boolean).join(' ');
  const who = e.agent ? `${e.user ?? '-'} via ${e.agent}` : (e.user ?? '');
  const parts = [`${e.time}  #${e.seq}`, e.kind.padEnd(16), e.outcome.padEnd(5), e.reason ?? '', who, e.gateway ? `on ${e.gateway}` : '', target];
  const d = e.decision;
  if (d?.agent && d.user) {
    parts.push(`[agent ${d.agent.decision}${d.agent.policies.length ? ` ${d.agent.policies.join(',')}` : ''}; user ${d.user.decision}${d.user.policies.length ? ` ${d.user.policies.join(',')}` : ''}; policies ${d.policyRevision ?? '?'}]`);
  } else if (d) parts.push(`[${d.stage}]`);
  if (e.latencyMs !== undefined) parts.push(`${e.latencyMs} ms`);
  if (e.ids?.workflowId) parts.push(`run ${e.ids.workflowId}`);
  return parts.filter((p) => p !== '').join('  ');
}

/** What `verify` prints. */
export function formatReport(r: VerifyReport, what: string): string {
  if (!r.ok) {
    const i = r.issue!;
    return `BROKEN: ${what}: first broken event ${i.seq}${i.checkpoint !== undefined ? ` (checkpoint ${i.checkpoint})` : ''}: ${i.message}`;
  }
  const cp = r.lastCheckpoint ? `last checkpoint ${r.lastCheckpoint.n} over event ${r.lastCheckpoint.seq} at ${r.lastCheckpoint.time}, key ${r.lastCheckpoint.keyId}` : 'no checkpoint yet';
  const tail = r.unsigned ? `; ${r.unsigned} newer event${r.unsigned === 1 ? '' : 's'} chained, not yet signed` : '';
  return `ok: ${what}: ${r.events} events${r.firstSeq !== undefined ? ` (${r.firstSeq}–${r.lastSeq})` : ''}, ${r.checkpoints} checkpoints verified; ${cp}${tail}`;
}

/**
 * An option both `audit` (the query) and its subcommand define: commander gives it to `audit`
 * when it follows the subcommand (`audit verify --json`, `audit export --since 7d`), so the
 * subcommand reads it there when it has none of its own.
 */
function parentOption<T>(cmd: Command, key: string): T | undefined {
  return (cmd.parent?.opts() as Record<string, T | undefined> | undefined)?.[key];
}
