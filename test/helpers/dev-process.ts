/**
 * `skillgate dev` as a person runs it, for tests of the whole runtime: a child process of the
 * real CLI on a temporary copy of the demo workspace (the repo's skillgate.yaml — gateways,
 * agents, users, policies — with free ports, its own state folder, the demo servers from
 * source through tsx), and the real `skillgate` CLI beside it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from './workspace.js';

/**
 * A free TCP port on 127.0.0.1 (closed again before it is returned), below the kernel's
 * ephemeral range: a port the OS hands out for `listen(0)` or an outgoing connection could be
 * taken by one (a demo system starting first) before the process it is for binds it.
 */
export async function freePort(): Promise<number> {
  const low = 20_000;
  const high = ephemeralLow() - 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high} after 50 tries`);
}

function ephemeralLow(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 21_000) return first;
  } catch {
    // Not Linux: the IANA dynamic range starts at 49152.
  }
  return 32_768;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The repo's skillgate.yaml, parsed. */
export function repoConfig(): Record<string, unknown> & { gateways: Record<string, { tools: string[]; agents: string[]; skills?: string[] }> } {
  return parse(readFileSync(join(ROOT, 'skillgate.yaml'), 'utf8')) as ReturnType<typeof repoConfig>;
}

export interface DemoWorkspace {
  dir: string;
  configFile: string;
  gatewayPort: number;
  temporalPort: number;
  uiPort: number;
  /** `<dir>/.skillgate/logs/skillgate.log`: the runtime's structured log. */
  logFile: string;
  cleanup(): void;
}

/**
 * A copy of the demo workspace in a temp folder. `overrides` is merged over the top level
 * (and `servers` over the servers); a key set to `undefined` is left out (e.g. `publicUrl`, so
 * that SKILLGATE_PORT decides it).
 */
export async function demoWorkspace(overrides: Record<string, unknown> = {}): Promise<DemoWorkspace> {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-demo-'));
  const [gatewayPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const repoServers = (repoConfig() as unknown as { servers: Record<string, { auth?: unknown; env?: unknown; args?: string[] }> }).servers;
  const demo = (name: string) => ({
    command: 'node',
    args: ['--import', 'tsx', join(ROOT, 'demo', name, 'main.ts'), '--state', join(dir, 'state', 'demo')],
    cwd: ROOT,
    // The same credential as the repo's config: a trinary token for the system's audience.
    auth: repoServers[name]!.auth,
  });
  // The mail systems from source, as the repo's config runs them from dist/.
  const mail = (name: 'gmail' | 'outlook') => ({
    ...repoServers[name],
    args: ['--import', 'tsx', join(ROOT, 'demo', 'mail', 'main.ts'), ...repoServers[name]!.args!.slice(1)],
    cwd: ROOT,
  });
  const { servers: extraServers, ...rest } = overrides as { servers?: Record<string, unknown> };
  const config = {
    ...repoConfig(),
    workspace: 'demo-test',
    temporal: { taskQueue: 'demo-test', dev: { port: temporalPort, uiPort, dbFile: 'state/temporal.db' } },
    skillsDir: join(ROOT, 'skills'),
    stateDir: 'state',
    servers: {
      'core-banking': demo('core-banking'),
      'credit-bureau': demo('credit-bureau'),
      hr: demo('hr'),
      gmail: mail('gmail'),
      outlook: mail('outlook'),
      everything: { command: 'node', args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'] },
      filesystem: { command: 'node', args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'), join(ROOT, 'docs')] },
      ...extraServers,
    },
    publicUrl: `http://127.0.0.1:${gatewayPort}`,
    policies: [join(ROOT, 'policies', '*.cedar')],
    ...rest,
  };
  for (const [k, v] of Object.entries(config)) if (v === undefined) delete (config as Record<string, unknown>)[k];
  const configFile = join(dir, 'skillgate.yaml');
  writeFileSync(configFile, stringify(config));
  // A new workspace serves nothing until its tools are approved (tools.lock.json beside it).
  const { approveWorkspace } = await import('./catalog.js');
  await approveWorkspace(configFile);
  return {
    dir,
    configFile,
    gatewayPort,
    temporalPort,
    uiPort,
    logFile: join(dir, '.skillgate', 'logs', 'skillgate.log'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The environment of a child: the test's, without what would point it elsewhere. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', ...extra };
  for (const k of ['TEMPORAL_ADDRESS', 'SKILLGATE_CONFIG', 'SKILLGATE_PORT', 'SKILLGATE_USER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) if (!(k in extra)) delete env[k];
  return env;
}

export interface DevProcess {
  child: ChildProcess;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the output once the banner's last line is out; rejects with the output otherwise. */
  ready(timeoutMs?: number): Promise<string>;
  /** SIGINT, then SIGKILL after `withinMs`; resolves with the exit code. */
  stop(withinMs?: number): Promise<number | null>;
}

/** Start `skillgate dev --config <configFile>` from the sources. */
export function startDev(configFile: string, env: NodeJS.ProcessEnv = childEnv()): DevProcess {
  return startRole('dev', configFile, env);
}

/** Start `skillgate <role> --config <configFile>` from the sources: `dev`, or a `gateway` / `worker` replica. */
export function startRole(role: 'dev' | 'gateway' | 'worker', configFile: string, env: NodeJS.ProcessEnv = childEnv()): DevProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/cli/main.ts', role, '--config', configFile], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exited = false;
  void exit.then(() => (exited = true));
  return {
    child,
    output: () => out,
    exit,
    async ready(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (out.includes('Ready. Ctrl-C stops everything')) return out;
        if (exited) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`skillgate ${role} did not become ready${exited ? ' (it exited)' : ''}; output:\n${out}`);
    },
    async stop(withinMs = 20_000) {
      if (exited) return (await exit).code;
      child.kill('SIGINT');
      const done = await Promise.race([exit, new Promise<undefined>((r) => setTimeout(() => r(undefined), withinMs))]);
      if (done) return done.code;
      child.kill('SIGKILL');
      return (await exit).code;
    },
  };
}

/** Run the real `skillgate` CLI (from source) against a workspace. */
export function skillgate(configFile: string, args: string[], env: NodeJS.ProcessEnv = childEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'app', 'cli', 'main.ts'), '--config', configFile, ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Re-export for tests that write their own YAML. */
export { stringify as yamlStringify };
