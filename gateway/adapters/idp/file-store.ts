/**
 * oidc-provider's storage for the dev IdP: one JSON file (`<stateDir>/idp/store.json`, 0600)
 * holding sessions, grants, codes, refresh tokens, interactions and dynamically registered
 * clients, so a restart of `skillgate dev` keeps the demo users logged in.
 *
 * Dev only: every change rewrites the file (atomically, by rename), and one process owns it.
 * Lookups by secondary key (session uid, grant) scan the records, which is fine for the
 * handful a dev IdP holds.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface StoredRecord {
  payload: AdapterPayload;
  /** Expiry in ms since the epoch; absent = until destroyed. */
  exp?: number;
}

/** The models whose records belong to a grant (RFC 7009 revocation drops them together). */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

/** A file-backed store and the adapter factory oidc-provider takes as `adapter`. */
export interface FileStore {
  adapter: (model: string) => Adapter;
  /** Records currently held (expired ones excluded). */
  readonly size: number;
  /** The file. */
  readonly file: string;
}

/** Open (or start) the store in `file`. A damaged file is set aside, not fatal: dev sessions are disposable. */
export function openFileStore(file: string, opts: { now?: () => number; onWarning?: (msg: string) => void } = {}): FileStore {
  const now = opts.now ?? Date.now;
  let records: Record<string, StoredRecord> = {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { records?: Record<string, StoredRecord> };
    records = parsed.records ?? {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      opts.onWarning?.(`dev IdP store ${file} is unreadable (${(err as Error).message}); starting with no sessions`);
      try {
        renameSync(file, `${file}.damaged-${Date.now()}`);
      } catch {
        // Nothing to set aside.
      }
    }
  }

  const live = (r: StoredRecord | undefined): r is StoredRecord => r !== undefined && (r.exp === undefined || r.exp > now());

  const save = (): void => {
    for (const [k, r] of Object.entries(records)) if (!live(r)) delete records[k];
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ records }), { mode: 0o600 });
    renameSync(tmp, file);
  };

  // Copies in and out: oidc-provider mutates what it gets, and the file must only change through the adapter.
  const clone = (p: AdapterPayload): AdapterPayload => JSON.parse(JSON.stringify(p)) as AdapterPayload;

  const findBy = (model: string, field: 'uid' | 'userCode', value: string): AdapterPayload | undefined => {
    const prefix = `${model}:`;
    for (const [k, r] of Object.entries(records)) {
      if (k.startsWith(prefix) && live(r) && r.payload[field] === value) return clone(r.payload);
    }
    return undefined;
  };

  const adapter = (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        records[key(id)] = { payload: clone(payload), ...(typeof expiresIn === 'number' ? { exp: now() + expiresIn * 1000 } : {}) };
        save();
      },
      async find(id) {
        const r = records[key(id)];
        return live(r) ? clone(r.payload) : undefined;
      },
      async findByUid(uid) {
        return findBy(model, 'uid', uid);
      },
      async findByUserCode(userCode) {
        return findBy(model, 'userCode', userCode);
      },
      async consume(id) {
        const r = records[key(id)];
        if (!live(r)) return;
        r.payload.consumed = Math.floor(now() / 1000);
        save();
      },
      async destroy(id) {
        if (!Object.hasOwn(records, key(id))) return;
        delete records[key(id)];
        save();
      },
      async revokeByGrantId(grantId) {
        let changed = false;
        for (const [k, r] of Object.entries(records)) {
          if (GRANTABLE.has(k.slice(0, k.indexOf(':'))) && r.payload.grantId === grantId) {
            delete records[k];
            changed = true;
          }
        }
        if (changed) save();
      },
    };
  };

  return {
    adapter,
    file,
    get size() {
      return Object.values(records).filter(live).length;
    },
  };
}
