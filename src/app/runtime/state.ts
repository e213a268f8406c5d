/**
 * The workspace's shared state, opened from `storage`: the one place that picks the backend.
 * `kind: sqlite` (one machine) reads `storage.file`; `kind: postgres` (several replicas)
 * `storage.postgres.url`. The gateway, the worker and the CLI (`skillgate revoke`) all open
 * their stores here, so they always read and write the same list.
 */
import type { RevocationStore } from '../../../gateway/identity/revocations.js';
import { legacyRevocationsFile } from '../../../gateway/identity/revocations.js';
import { openPostgresRevocations } from '../../../gateway/identity/revocations-postgres.js';
import { openSqliteRevocations } from '../../../gateway/identity/revocations-sqlite.js';
import type { LoadedConfig } from '../../config/load.js';
import { resolveSecretValue } from '../../config/secrets.js';

/**
 * The revocation list of the workspace (a legacy `<stateDir>/revocations.json` is imported on
 * first open). Throws StorageError when it cannot be opened or loaded.
 *
 * @example const revocations = await openRevocationStore(loaded); revocations.isRevoked('intern');
 */
export async function openRevocationStore(loaded: LoadedConfig, opts: { onProblem?: (message: string) => void } = {}): Promise<RevocationStore> {
  const { storage, stateDir } = loaded.config;
  const legacyFile = legacyRevocationsFile(loaded.path(stateDir));
  if (storage.kind === 'sqlite') return openSqliteRevocations(loaded.path(storage.file), { synchronous: storage.synchronous, legacyFile });
  const pg = storage.postgres;
  // The schema refuses kind: postgres without it; this narrows the type.
  if (!pg) throw new Error('storage.postgres.url is required when storage.kind is postgres');
  const url = resolveSecretValue(pg.url, ['storage', 'postgres', 'url'], { env: process.env, baseDir: loaded.baseDir });
  return openPostgresRevocations(url, { maxStalenessMs: pg.maxStalenessMs, pollMs: pg.pollMs, legacyFile, ...(opts.onProblem ? { onProblem: opts.onProblem } : {}) });
}
