/**
 * The benchmarks' child processes: a gateway or an upstream server started with tsx, which
 * prints `{"url": …}` as its first line when it listens; and a free loopback port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * Start `node [nodeFlags] --import tsx <args>` in the repository; resolves with its URL. `env`
 * is the child's whole environment (default: ours). `stdin` is written to the child's standard
 * input, which then stays open: the way to hand a child a secret (never argv or env), and its
 * end tells the child that the parent is gone.
 */
export function startChild(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeFlags?: string[]; stdin?: string } = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', ...args], {
    cwd: ROOT,
    env: opts.env ?? process.env,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'],
  });
  if (opts.stdin !== undefined) child.stdin!.write(opts.stdin);
  return new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => res({ child, url: (JSON.parse(line) as { url: string }).url }));
    child.once('exit', (code) => rej(new Error(`${args[0]} exited with ${code}`)));
  });
}

/** A loopback port free now (released at once: the child binds it next). */
export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}
