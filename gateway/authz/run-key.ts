/**
 * The workspace's run key: the secret under which the run-actions service signs attestations
 * (run-attestation.ts) and the worker checks them. Every process that starts runs or runs
 * workers of the workspace needs the same key; it never goes to a history, a log or a child.
 *
 * One machine: generated on first use into `<stateDir>/keys/run-attestation.key` (mode 0600).
 * Several machines: give every process the same key (`runs.attestationKey` in skillgate.yaml,
 * a secret reference such as `${env:SKILLGATE_RUN_KEY}`), 32 bytes or more, base64url.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where the generated key lives. */
export function runKeyFile(stateDir: string): string {
  return join(stateDir, 'keys', 'run-attestation.key');
}

/** Decode a key given as base64url text (at least 32 bytes). Throws with a message that never shows the key. */
export function decodeRunKey(text: string, where: string): Uint8Array {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(trimmed)) throw new Error(`${where}: the run key must be base64url text`);
  const key = Buffer.from(trimmed, 'base64url');
  if (key.byteLength < 32) throw new Error(`${where}: the run key must be at least 32 bytes (${key.byteLength} given)`);
  return new Uint8Array(key);
}

/**
 * The run key from `<stateDir>/keys/run-attestation.key`, created (0600) when missing. Two
 * processes starting at once agree on one key: the file is created exclusively, and the
 * loser reads the winner's.
 */
export function loadOrCreateRunKey(stateDir: string): Uint8Array {
  const file = runKeyFile(stateDir);
  try {
    return decodeRunKey(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // umask may have widened it.
  chmodSync(file, 0o600);
  return decodeRunKey(readFileSync(file, 'utf8'), file);
}
