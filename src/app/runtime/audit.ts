/**
 * The workspace's audit trail, opened from its config: the store in `storage` (SQLite or PostgreSQL), the
 * Ed25519 signing key (`audit.signingKey`, else generated into the state folder), and the log
 * every producer records into. Used by `skillgate dev` and by every CLI command that acts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createAuditLog, type AuditLog } from '../../../gateway/audit/log.js';
import { checkpointSigner, type CheckpointSigner, decodeAuditKey, loadOrCreateAuditKey } from '../../../gateway/audit/keys.js';
import type { AuditStore } from '../../../gateway/audit/store.js';
import type { LoadedConfig } from '../../config/load.js';
import { resolveSecretValue } from '../../config/secrets.js';
import { parseDuration } from '../../pure/durations.js';
import { openAuditStore } from './state.js';

export interface WorkspaceAudit {
  log: AuditLog;
  store: AuditStore;
  signer: CheckpointSigner;
  /** Flush with a final checkpoint, then close the store. */
  close(): Promise<void>;
}

/**
 * Open the audit trail of a workspace.
 *
 * @example
 * const audit = await openWorkspaceAudit(loaded, { onProblem: (m, f) => logger.error(m, f) });
 * audit.log.record({ kind: 'config.loaded', outcome: 'ok', workspace: loaded.config.workspace });
 * await audit.close();
 */
export async function openWorkspaceAudit(
  loaded: LoadedConfig,
  opts: { onProblem?: (message: string, fields: Record<string, unknown>) => void; busyTimeoutMs?: number; flushOn?: 'microtask' | 'immediate' } = {},
): Promise<WorkspaceAudit> {
  const { config } = loaded;
  const store = await openAuditStore(loaded, {
    ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
    ...(opts.onProblem ? { onProblem: (m: string) => opts.onProblem!(m, {}) } : {}),
  });
  try {
    const signer = await checkpointSigner(signingKey(loaded));
    const log = createAuditLog({
      store,
      signer,
      workspace: config.workspace,
      checkpointEvery: config.audit.checkpointEvery,
      checkpointIntervalMs: parseDuration(config.audit.checkpointInterval) ?? 60_000,
      ...(opts.onProblem ? { onProblem: opts.onProblem } : {}),
      // `batched` (default): off the call path; `before-answer`: written before the answer leaves.
      flushOn: opts.flushOn ?? (config.audit.write === 'before-answer' ? 'microtask' : 'immediate'),
    });
    return {
      log,
      store,
      signer,
      async close() {
        await log.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** The private signing key: `audit.signingKey` (a secret reference, resolved now), else the generated one. */
export function signingKey(loaded: LoadedConfig) {
  const ref = loaded.config.audit.signingKey;
  if (ref === undefined) return loadOrCreateAuditKey(loaded.path(loaded.config.stateDir));
  return decodeAuditKey(resolveSecretValue(ref, ['audit', 'signingKey'], { env: process.env, baseDir: loaded.baseDir }), 'audit.signingKey');
}

/** `sha256:<hex>` of the config file as loaded (what `config.loaded` names; never its content). */
export function configDigest(loaded: LoadedConfig): string {
  return `sha256:${createHash('sha256').update(readFileSync(loaded.file)).digest('hex')}`;
}
