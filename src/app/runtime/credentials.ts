/**
 * Downstream credentials of a workspace, assembled: Skillgate's signing keys and the trinary
 * token minter, the vault (in the shared state database — SQLite or PostgreSQL by
 * `storage.kind`, opened by state.ts's openGrantStore —, under the vault key) and the
 * providers' OAuth clients. Shared by the front door (/connect, elicitations), the worker's
 * activities (every skill step) and the CLI (`skillgate grants`).
 */
import type { AuditSink } from '../../contracts/audit.js';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createCredentialService, type CredentialService } from '../../../gateway/downstream/credentials.js';
import { providerClient, type OAuthClient } from '../../../gateway/downstream/providers.js';
import { decodeVaultKey } from '../../../gateway/downstream/seal.js';
import { loadOrCreateSigningKeys, parseSigningKeys } from '../../../gateway/downstream/signing-keys.js';
import { createTrinaryMinter, type TokenIssuerInfo, tokenIssuerFor } from '../../../gateway/downstream/trinary.js';
import { openVault } from '../../../gateway/downstream/vault.js';
import { DownstreamError } from '../../../gateway/downstream/errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { resolveSecretValue } from '../../config/secrets.js';
import { parseDuration } from '../../pure/durations.js';
import { own } from '../../shared/own.js';
import type { SqliteDb } from '../../storage/sqlite.js';
import { openGrantStore } from './state.js';

export interface Credentials {
  service: CredentialService;
  issuer: TokenIssuerInfo;
  /** The vault key (the /connect flow cookie's key is derived from it). */
  vaultKey: Buffer;
  /** Closes the vault's storage (the SQLite file opened here, or the PostgreSQL pool). */
  close(): Promise<void>;
}

export interface CredentialsOptions {
  /** Where grant connects, refreshes and revocations are recorded. Required. */
  audit: AuditSink;
  /** Who Skillgate is as a token issuer (default: from publicUrl). Must match what the pool tells its servers. */
  issuer?: TokenIssuerInfo;
  /** The URL of an upstream server (RFC 9728 discovery of `providers.<p>.server`). */
  serverUrl?: (server: string) => Promise<URL>;
  env?: Readonly<Record<string, string | undefined>>;
  /** With `storage.kind: sqlite`, an open state database (default: `storage.file`, opened here and closed by close()). */
  db?: SqliteDb;
  /** Told when the vault's PostgreSQL connections fail (kind postgres; never a password or a token). */
  onProblem?: (message: string) => void;
}

/** Where the generated dev vault key lives. */
export function vaultKeyFile(stateDir: string): string {
  return join(stateDir, 'keys', 'vault.key');
}

/** The vault key: `vault.key` (a secret reference), else the generated one in the state folder. */
export function vaultKey(loaded: LoadedConfig, env: Readonly<Record<string, string | undefined>> = process.env): { key: Buffer; where: string } {
  const ref = loaded.config.vault.key;
  if (ref !== undefined) return { key: decodeVaultKey(resolveSecretValue(ref, ['vault', 'key'], { env, baseDir: loaded.baseDir }), 'vault.key'), where: 'vault.key' };
  const file = vaultKeyFile(loaded.path(loaded.config.stateDir));
  try {
    return { key: decodeVaultKey(readFileSync(file, 'utf8'), file), where: file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(file, 0o600);
  return { key: decodeVaultKey(readFileSync(file, 'utf8'), file), where: file };
}

/**
 * Open the workspace's credentials. Throws DownstreamError ERR_VAULT_KEY_MISMATCH (nothing
 * changed) when the vault key is not the one the vault was created with.
 *
 * @example const creds = await openCredentials(loaded, { issuer: tokenIssuerFor(publicUrl) });
 */
export async function openCredentials(loaded: LoadedConfig, opts: CredentialsOptions): Promise<Credentials> {
  const { config } = loaded;
  const env = opts.env ?? process.env;
  const secrets = { env, baseDir: loaded.baseDir };
  const issuer = opts.issuer ?? tokenIssuerFor(config.publicUrl);
  const keys =
    config.tokens.signingKeys !== undefined
      ? parseSigningKeys(resolveSecretValue(config.tokens.signingKeys, ['tokens', 'signingKeys'], secrets), 'tokens.signingKeys')
      : await loadOrCreateSigningKeys(loaded.path(config.stateDir));
  const minter = await createTrinaryMinter({ ...issuer, keys, lifetimeSec: (parseDuration(config.tokens.lifetime) ?? 300_000) / 1000 });
  const { key, where } = vaultKey(loaded, env);
  const grants = await openGrantStore(loaded, { ...(opts.db ? { db: opts.db } : {}), ...(opts.onProblem ? { onProblem: opts.onProblem } : {}) });
  try {
    const vault = await openVault(grants.store, key, { where });
    const clients = new Map<string, OAuthClient>();
    const serverUrl =
      opts.serverUrl ??
      (async (server: string) => {
        const url = own(config.servers, server)?.url;
        if (!url) throw new DownstreamError('ERR_PROVIDER_UNAVAILABLE', `server "${server}" has no URL to discover its authorization server from`);
        return new URL(url);
      });
    const service = createCredentialService({
      config,
      vault,
      minter,
      publicUrl: config.publicUrl,
      audit: opts.audit,
      refreshBeforeMs: parseDuration(config.vault.refreshBefore) ?? 60_000,
      provider: (name) => {
        let c = clients.get(name);
        if (!c) {
          const p = own(config.providers, name);
          if (!p) throw new DownstreamError('ERR_PROVIDER_UNKNOWN', `unknown provider "${name.slice(0, 64)}"`);
          c = providerClient(name, p, secrets, serverUrl);
          clients.set(name, c);
        }
        return c;
      },
    });
    return { service, issuer, vaultKey: key, close: () => grants.close() };
  } catch (err) {
    await grants.close().catch(() => {});
    throw err;
  }
}
