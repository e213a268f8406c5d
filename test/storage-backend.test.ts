/**
 * Which backend this run of the suite keeps the test workspaces' state in: SQLite by default,
 * PostgreSQL under SKILLGATE_TEST_STORAGE=postgres (the `.ci/run` lane that runs the gateway
 * tests again on it). Checked here so that lane cannot quietly fall back to SQLite.
 */
import { describe, expect, it } from 'vitest';
import { describeStorage, openAuditStore, openLockSource, openRevocationStore } from '../src/app/runtime/state.js';
import { testWorkspace } from './helpers/workspace.js';

describe('the test workspaces\' state backend', () => {
  const expected = process.env.SKILLGATE_TEST_STORAGE === 'postgres' ? 'postgres' : 'sqlite';

  it(`is ${expected} in this run, and the revocation list lives there`, async () => {
    const ws = testWorkspace();
    try {
      expect(ws.loaded.config.storage.kind).toBe(expected);
      const store = await openRevocationStore(ws.loaded);
      try {
        await store.revoke('intern', { by: 'storage-backend test' });
        expect(store.isRevoked('intern')).toMatchObject({ by: 'storage-backend test' });
        expect(store.where).toMatch(expected === 'postgres' ? /postgres/i : /skillgate\.db/);
      } finally {
        await store.close();
      }
    } finally {
      ws.cleanup();
    }
  });

  it(`keeps the audit trail and the pinned catalog there too`, async () => {
    const ws = testWorkspace();
    try {
      expect(describeStorage(ws.loaded)).toMatch(expected === 'postgres' ? /^postgres:\/\// : /skillgate\.db$/);
      const audit = await openAuditStore(ws.loaded);
      await audit.close();
      const lock = await openLockSource(ws.loaded);
      try {
        expect(lock.where).toMatch(expected === 'postgres' ? /^postgres:\/\// : /tools\.lock\.json$/);
      } finally {
        await lock.close();
      }
    } finally {
      ws.cleanup();
    }
  });
});
