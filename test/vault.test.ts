/**
 * The vault at rest: AES-256-GCM under the vault key, records bound to (user, agent,
 * provider), and a wrong key refused at start with a clear error — nothing deleted or
 * overwritten.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DownstreamError } from '../gateway/downstream/errors.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';
import { openCredentials, vaultKeyFile } from '../src/app/runtime/credentials.js';
import { openSqlite } from '../src/storage/sqlite.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';

let ws: TestWorkspace | undefined;
afterEach(() => ws?.cleanup());

const key = { workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' };
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('vault', () => {
  it('a wrong key is refused at start with a clear error, and nothing is deleted or overwritten', async () => {
    ws = testWorkspace();
    const a = await openCredentials(ws.loaded, { audit: memoryAuditSink() });
    await a.service.vault.put(key, { tokens: { accessToken: 'at-secret-123456', refreshToken: 'rt-secret-654321', tokenType: 'Bearer' }, scopes: ['read'] });
    await a.close();
    const db = ws.loaded.path(ws.loaded.config.storage.file);
    const before = sha(db);
    const right = readFileSync(vaultKeyFile(ws.stateDir), 'utf8');
    writeFileSync(vaultKeyFile(ws.stateDir), `${Buffer.alloc(32, 7).toString('base64url')}\n`);

    const err = await openCredentials(ws.loaded, { audit: memoryAuditSink() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DownstreamError);
    expect((err as DownstreamError).code).toBe('ERR_VAULT_KEY_MISMATCH');
    expect((err as Error).message).toMatch(/does not open this vault, which was created with key sha256:[0-9a-f]{16}.*Nothing in the vault was changed/);
    expect((err as Error).message).not.toContain(right.trim());
    expect(sha(db)).toBe(before);

    // With the right key everything is still there.
    writeFileSync(vaultKeyFile(ws.stateDir), right);
    const again = await openCredentials(ws.loaded, { audit: memoryAuditSink() });
    expect((await again.service.vault.get(key))?.tokens).toEqual({ accessToken: 'at-secret-123456', refreshToken: 'rt-secret-654321', tokenType: 'Bearer' });
    await again.close();
  });

  it('a key from the environment (vault.key: ${env:…}) must be 32 bytes of base64url', async () => {
    process.env.TEST_VAULT_KEY = 'set-for-the-config-check';
    ws = testWorkspace({ vault: { key: '${env:TEST_VAULT_KEY}' } });
    delete process.env.TEST_VAULT_KEY;
    await expect(openCredentials(ws.loaded, { audit: memoryAuditSink(), env: { TEST_VAULT_KEY: 'short' } })).rejects.toMatchObject({ code: 'ERR_VAULT_KEY_INVALID' });
    const c = await openCredentials(ws.loaded, { audit: memoryAuditSink(), env: { TEST_VAULT_KEY: Buffer.alloc(32, 1).toString('base64url') } });
    await c.service.vault.put(key, { tokens: { accessToken: 'x'.repeat(30), tokenType: 'Bearer' }, scopes: [] });
    await c.close();
  });

  it('a sealed record copied onto another user’s row does not open (AAD binds user, agent, provider)', async () => {
    ws = testWorkspace();
    const c = await openCredentials(ws.loaded, { audit: memoryAuditSink() });
    await c.service.vault.put(key, { tokens: { accessToken: 'parent-token-xxxxxxxx', tokenType: 'Bearer' }, scopes: ['read'] });
    await c.service.vault.put({ ...key, user: 'other-parent' }, { tokens: { accessToken: 'other-token-xxxxxxxx', tokenType: 'Bearer' }, scopes: ['read'] });
    const db = openSqlite(ws.loaded.path(ws.loaded.config.storage.file));
    db.prepare("UPDATE vault_grants SET sealed = (SELECT sealed FROM vault_grants WHERE user_id = 'parent'), version = version + 1 WHERE user_id = 'other-parent'").run();
    db.close();
    await expect(c.service.vault.get({ ...key, user: 'other-parent' })).rejects.toMatchObject({ code: 'ERR_VAULT_RECORD' });
    expect((await c.service.vault.get(key))?.tokens.accessToken).toBe('parent-token-xxxxxxxx');
    await c.close();
  });
});
