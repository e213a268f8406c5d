/**
 * Secret references in `servers.<s>.env` / `servers.<s>.headers` (src/config/secrets.ts):
 * the forms, the load-time diagnostics (key path and variable or file named, the value never),
 * and resolution when the pool spawns or connects — through the real pool, a real stdio child
 * (the `everything` reference server, whose get-env shows what the child received) and a real
 * HTTP listener recording the headers it is sent.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import { UpstreamError } from '../gateway/upstream/types.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { parseSecretTemplate, resolveSecretValue, SecretError } from '../src/config/secrets.js';
import { ROOT } from './helpers/workspace.js';

const secret = (): string => `s3cr3t-${randomBytes(12).toString('hex')}`;
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

let dir: string;
const touched: string[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'skillgate-secrets-'));
  mkdirSync(join(dir, 'secrets'));
});
afterEach(() => {
  for (const name of touched.splice(0)) delete process.env[name];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setEnv(name: string, value: string): void {
  process.env[name] = value;
  touched.push(name);
}

/** A config file in `dir` with these servers; parsed against `env` (default: process.env). */
function load(servers: Record<string, unknown>, env?: Record<string, string | undefined>) {
  const file = join(dir, 'skillgate.yaml');
  const text = stringify({ workspace: 'secrets-test', servers });
  writeFileSync(file, text);
  return parseConfig(text, file, env ? { env } : {});
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('secret reference syntax', () => {
  it('parses env, file, embedded and escaped forms', () => {
    expect(parseSecretTemplate('${env:ERP_TOKEN}')).toEqual({ ok: true, parts: [{ kind: 'env', name: 'ERP_TOKEN' }] });
    expect(parseSecretTemplate('${file:secrets/erp.token}')).toEqual({ ok: true, parts: [{ kind: 'file', path: 'secrets/erp.token' }] });
    expect(parseSecretTemplate('Bearer ${env:A}/${file:b}!')).toEqual({
      ok: true,
      parts: [
        { kind: 'text', text: 'Bearer ' },
        { kind: 'env', name: 'A' },
        { kind: 'text', text: '/' },
        { kind: 'file', path: 'b' },
        { kind: 'text', text: '!' },
      ],
    });
    expect(parseSecretTemplate('cost: $5, literal $${env:X}')).toEqual({ ok: true, parts: [{ kind: 'text', text: 'cost: $5, literal ${env:X}' }] });
    expect(parseSecretTemplate('plain')).toEqual({ ok: true, parts: [{ kind: 'text', text: 'plain' }] });
  });

  it('a malformed reference is a diagnostic at its key that never quotes what was inside', () => {
    for (const bad of ['${sk-live-9f8e7d}', '${env:}', '${env:9LIVES}', '${vault:sk-live-9f8e7d}', 'Bearer ${sk-live-9f8e7d']) {
      const err = configError(() => load({ erp: { url: 'https://erp.example/mcp', headers: { Authorization: bad } } }, {}));
      expect(err.diagnostics, bad).toHaveLength(1);
      const [d] = err.diagnostics;
      expect(d).toMatchObject({ code: 'secret-ref-syntax', line: expect.any(Number) });
      expect(d!.line).toBeGreaterThan(0);
      expect(d!.message).toMatch(/^servers\.erp\.headers\.Authorization: malformed secret reference at character \d+/);
      expect(err.message).not.toContain('sk-live-9f8e7d');
      expect(err.message).not.toContain('9LIVES');
    }
  });
});

describe('validation at load', () => {
  it('accepts references that resolve, and keeps the references (not the values) in the loaded config', () => {
    const token = secret();
    const fileSecret = secret();
    writeFileSync(join(dir, 'secrets', 'erp.token'), `${fileSecret}\n`);
    const loaded = load(
      {
        erp: { url: 'https://erp.example/mcp', headers: { Authorization: 'Bearer ${env:ERP_TOKEN}', 'X-Key': '${file:secrets/erp.token}' } },
        tool: { command: 'node', args: ['x.js'], env: { API_TOKEN: '${env:ERP_TOKEN}', MODE: 'plain' } },
      },
      { ERP_TOKEN: token },
    );
    expect(loaded.config.servers.erp!.headers).toEqual({ Authorization: 'Bearer ${env:ERP_TOKEN}', 'X-Key': '${file:secrets/erp.token}' });
    expect(loaded.config.servers.tool!.env).toEqual({ API_TOKEN: '${env:ERP_TOKEN}', MODE: 'plain' });
    expect(JSON.stringify(loaded.config)).not.toContain(token);
    expect(JSON.stringify(loaded.config)).not.toContain(fileSecret);
  });

  it('an unset variable and an unreadable file are diagnostics naming the key path and the variable or file, never a value', () => {
    const present = secret();
    const err = configError(() =>
      load(
        {
          erp: { url: 'https://erp.example/mcp', headers: { Authorization: 'Bearer ${env:ERP_TOKEN}', 'X-Other': '${env:PRESENT_TOKEN}' } },
          tool: { command: 'node', args: ['x.js'], env: { KEY: '${file:secrets/missing.key}', DIR: 'x${file:secrets}', OK: '${env:PRESENT_TOKEN}' } },
        },
        // ERP_TOKEN empty counts as unset; PRESENT_TOKEN resolves and must appear nowhere.
        { ERP_TOKEN: '', PRESENT_TOKEN: present },
      ),
    );
    const byCode = (code: string) => err.diagnostics.filter((d) => d.code === code);
    expect(err.diagnostics).toHaveLength(3);
    const [unset] = byCode('secret-env-unset');
    expect(unset!.message).toBe('servers.erp.headers.Authorization: environment variable ERP_TOKEN is not set (or is empty)');
    expect(unset!.hint).toContain('ERP_TOKEN');
    const files = byCode('secret-file-unreadable');
    expect(files.map((d) => d.message).sort()).toEqual([
      'servers.tool.env.DIR: cannot read secret file "secrets" (EISDIR)',
      'servers.tool.env.KEY: cannot read secret file "secrets/missing.key" (ENOENT)',
    ]);
    for (const d of err.diagnostics) expect(d.line, d.message).toBeGreaterThan(0);
    expect(err.message).not.toContain(present);
  });

  it('reads the process environment by default', () => {
    const err = configError(() => load({ tool: { command: 'node', env: { K: '${env:SKILLGATE_TEST_SURELY_UNSET}' } } }));
    expect(err.diagnostics[0]!.message).toContain('SKILLGATE_TEST_SURELY_UNSET');
    setEnv('SKILLGATE_TEST_SURELY_UNSET', secret());
    expect(() => load({ tool: { command: 'node', env: { K: '${env:SKILLGATE_TEST_SURELY_UNSET}' } } })).not.toThrow();
  });

  it('resolveSecretValue trims trailing line breaks of files and throws SecretError with a code', () => {
    writeFileSync(join(dir, 'secrets', 'crlf'), 'abc\r\n\r\n');
    expect(resolveSecretValue('<${file:secrets/crlf}>', ['k'], { env: {}, baseDir: dir })).toBe('<abc>');
    let err: unknown;
    try {
      resolveSecretValue('${env:NOPE}', ['servers', 's', 'env', 'K'], { env: {}, baseDir: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecretError);
    expect(err).toMatchObject({ code: 'ERR_SECRET_ENV_UNSET', ref: 'NOPE', keyPath: ['servers', 's', 'env', 'K'] });
  });
});

describe('resolution at use time, in the pool', () => {
  it('a stdio child gets the SDK default variables and its resolved env, as they are when it is spawned — nothing else', async () => {
    const canary = secret();
    setEnv('SKILLGATE_TEST_GATEWAY_ONLY', canary);
    setEnv('SKILLGATE_TEST_CHILD_TOKEN', 'value-at-load');
    writeFileSync(join(dir, 'secrets', 'child.key'), 'from-file\n');
    const loaded = load({
      everything: { command: 'node', args: [EVERYTHING, 'stdio'], env: { CHILD_TOKEN: 'Bearer ${env:SKILLGATE_TEST_CHILD_TOKEN}', CHILD_KEY: '${file:secrets/child.key}' } },
    });
    // Changed after load: the child must see the value of when it was spawned.
    const atSpawn = secret();
    process.env.SKILLGATE_TEST_CHILD_TOKEN = atSpawn;
    const pool = createUpstreamPool(loaded, { log: () => {} });
    try {
      const result = await pool.callTool('everything', 'get-env', {});
      const text = (result.content as Array<{ text?: string }>)[0]!.text!;
      const childEnv = JSON.parse(text) as Record<string, string>;
      expect(childEnv.CHILD_TOKEN).toBe(`Bearer ${atSpawn}`);
      expect(childEnv.CHILD_KEY).toBe('from-file');
      expect(text).not.toContain(canary);
      const allowed = new Set<string>([...DEFAULT_INHERITED_ENV_VARS, 'CHILD_TOKEN', 'CHILD_KEY']);
      expect(Object.keys(childEnv).filter((k) => !allowed.has(k))).toEqual([]);
      expect(childEnv.PATH).toBe(process.env.PATH);
    } finally {
      await pool.close();
    }
  });

  it('HTTP headers are resolved when the pool connects; a reference that no longer resolves fails the connect, naming it', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`;
    try {
      setEnv('SKILLGATE_TEST_ERP_TOKEN', 'value-at-load');
      writeFileSync(join(dir, 'secrets', 'tenant'), 'acme\n');
      const loaded = load({ erp: { url, headers: { Authorization: 'Bearer ${env:SKILLGATE_TEST_ERP_TOKEN}', 'X-Tenant': '${file:secrets/tenant}' } } });
      const atConnect = secret();
      process.env.SKILLGATE_TEST_ERP_TOKEN = atConnect;
      const pool = createUpstreamPool(loaded, { log: () => {} });
      try {
        await expect(pool.listTools('erp')).rejects.toBeInstanceOf(UpstreamError);
        // The era question (server/discover) and then initialize: both with the resolved headers.
        expect(seen.length).toBeGreaterThanOrEqual(1);
        for (const h of seen) {
          expect(h.authorization).toBe(`Bearer ${atConnect}`);
          expect(h['x-tenant']).toBe('acme');
        }
        const requests = seen.length;

        delete process.env.SKILLGATE_TEST_ERP_TOKEN;
        const err = await pool.listTools('erp').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UpstreamError);
        expect((err as Error).message).toContain('servers.erp.headers.Authorization');
        expect((err as Error).message).toContain('SKILLGATE_TEST_ERP_TOKEN');
        // Refused before anything was sent.
        expect(seen).toHaveLength(requests);
      } finally {
        await pool.close();
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('storage.postgres.url', () => {
  it('is required with storage.kind: postgres, named by its key path', () => {
    const err = (() => {
      try {
        parseConfig('workspace: w\nstorage:\n  kind: postgres\n', join(dir, 'pg.yaml'));
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('accepted');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('storage.postgres.url');
  });

  it('is a secret reference, checked at load and resolved when the store opens', () => {
    const text = 'workspace: w\nstorage:\n  kind: postgres\n  postgres:\n    url: ${env:SKILLGATE_TEST_DATABASE_URL}\n';
    expect(() => parseConfig(text, join(dir, 'pg.yaml'), { env: {} })).toThrow(/SKILLGATE_TEST_DATABASE_URL/);
    const loaded = parseConfig(text, join(dir, 'pg.yaml'), { env: { SKILLGATE_TEST_DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' } });
    expect(loaded.config.storage.postgres).toEqual({ url: '${env:SKILLGATE_TEST_DATABASE_URL}', maxStalenessMs: 5_000, pollMs: 500 });
  });
});
