/**
 * The embedded Temporal dev server is Skillgate's own child with a minimal environment
 * (src/runtime/temporal-dev-server.ts): a canary set in this process's environment must not
 * reach it (read from /proc), ports default to free ones, and stop() ends it. These start their
 * own dev servers; the shared one from global-setup is not involved.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveTemporalExecutable } from '../src/app/runtime/temporal-binary.js';
import { DEV_SERVER_ENV, DevServerError, startDevServer } from '../src/app/runtime/temporal-dev-server.js';
import { startEmbeddedTemporal } from '../src/app/runtime/temporal.js';
import { SEARCH_ATTRIBUTES } from '../src/contracts/search-attributes.js';
import { alive, descendants } from './helpers/proc.js';

const executable = resolveTemporalExecutable();
const binary = executable.type === 'existing-path' ? executable.path : undefined;
const CANARY_NAME = 'SKILLGATE_TEST_TEMPORAL_CANARY';

afterEach(() => {
  delete process.env[CANARY_NAME];
});

describe.skipIf(!binary)('embedded Temporal dev server process', () => {
  it('gets none of Skillgate’s environment beyond PATH, HOME, TMPDIR and locale; stops on close()', async () => {
    const canary = `canary-${randomBytes(16).toString('hex')}`;
    process.env[CANARY_NAME] = canary;
    const rt = await startEmbeddedTemporal({ port: 0 });
    let pid: number | undefined;
    try {
      const servers = descendants(process.pid).filter((p) => p.argv.includes('start-dev'));
      expect(servers).toHaveLength(1);
      const server = servers[0]!;
      pid = server.pid;
      expect(server.argv[0]).toBe(binary);
      expect(server.environText).not.toContain(canary);
      expect(Object.keys(server.environ).filter((k) => !(DEV_SERVER_ENV as readonly string[]).includes(k))).toEqual([]);
      expect(server.environ.PATH).toBe(process.env.PATH);
      // The flags the SDK's launcher passed, and ports of our choosing for the rest.
      expect(server.argv).toEqual(expect.arrayContaining(['--ip', '127.0.0.1', '--headless', '--namespace', 'default']));
      for (const flag of ['--http-port', '--metrics-port']) expect(Number(server.argv[server.argv.indexOf(flag) + 1])).toBeGreaterThan(0);
      for (const name of SEARCH_ATTRIBUTES) expect(server.argv).toContain(`${name}=Keyword`);
      expect(server.argv).toContain('frontend.enableUpdateWorkflowExecution=true');
      // It answers, with the search attributes registered.
      const { customAttributes } = await rt.connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const name of SEARCH_ATTRIBUTES) expect(customAttributes).toHaveProperty(name);
    } finally {
      await rt.close();
    }
    expect(alive(pid!)).toBe(false);
  });

  it('exposes pid and exited; two at once on free ports do not collide; stop() is SIGTERM and idempotent', async () => {
    const opts = { executable: binary!, ip: '127.0.0.1', port: 0, namespace: 'default', searchAttributes: ['SkillName'], startTimeoutMs: 60_000, log: () => {} };
    const [a, b] = await Promise.all([startDevServer(opts), startDevServer(opts)]);
    try {
      const portsA = Object.values(a.ports);
      const portsB = Object.values(b.ports);
      expect(new Set([...portsA, ...portsB]).size).toBe(portsA.length + portsB.length);
      for (const s of [a, b]) {
        expect(alive(s.pid)).toBe(true);
        const connection = await Connection.connect({ address: s.address });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
      }
    } finally {
      const [exitA] = await Promise.all([a.stop(), b.stop()]);
      expect(exitA.code === 0 || exitA.signal === 'SIGTERM').toBe(true);
    }
    expect(await a.exited).toEqual(await a.stop());
    expect(alive(a.pid)).toBe(false);
    expect(alive(b.pid)).toBe(false);
  });

  it('a server that exits before answering is ERR_DEV_SERVER_EXITED with its last output', async () => {
    // The readiness probe's gRPC attempt keeps its socket to a listener that never speaks HTTP/2
    // (grpc-js does not abort it on close): drop it, so that close() need not wait for it.
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startDevServer({ executable: binary!, ip: '127.0.0.1', port, namespace: 'default', searchAttributes: [], startTimeoutMs: 30_000, log: () => {} }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DevServerError);
      expect((err as DevServerError).code).toBe('ERR_DEV_SERVER_EXITED');
      expect((err as DevServerError).message).toContain(String(port));
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
