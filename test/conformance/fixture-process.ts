/**
 * The fixture server as a child process (`node --import tsx test/conformance/fixture-server.ts`),
 * ready once it printed its URL.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './suites.js';

export interface FixtureProcess {
  url: string;
  stop(): Promise<void>;
}

export async function startFixtureProcess(opts: { readyTimeoutMs?: number } = {}): Promise<FixtureProcess> {
  // cwd: the project root, so that `--import tsx` resolves from the project's node_modules.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'conformance', 'fixture-server.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`the fixture server did not start within ${opts.readyTimeoutMs ?? 20_000} ms:\n${stderr}`)), opts.readyTimeoutMs ?? 20_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^fixture listening (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => fail(new Error(`the fixture server exited (${code}) before listening:\n${stderr}`)));
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
