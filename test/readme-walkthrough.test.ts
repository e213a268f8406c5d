/**
 * The README's walkthrough, exactly as written, on a non-default port: `npm start` with
 * SKILLGATE_PORT (the first README command), then every line of the README's code blocks under
 * "After `npm start`" run by bash in order — a token, the Inspector line, skill runs, the
 * approval, a revocation, validate — against a temporary copy of the demo workspace
 * (SKILLGATE_CONFIG). Only two things are substituted: the port in URLs (the README shows the
 * default) and `<workflowId>` (the id the line before printed). The README's lines use the
 * built CLI (`npx skillgate`), as a newcomer does; `npm test` builds first.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, demoWorkspace, type DemoWorkspace, freePort } from './helpers/dev-process.js';
import { ROOT } from './helpers/workspace.js';

let ws: DemoWorkspace;
let port: number;
let runtime: ChildProcess;
let output = '';
let env: NodeJS.ProcessEnv;

/** The lines of every ```bash block between two headings of the README. */
function readmeLines(from: string, to: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(from), readme.indexOf(to, readme.indexOf(from)));
  const lines: string[] = [];
  for (const block of section.matchAll(/```bash\n([\s\S]*?)```/g)) {
    // Kept with their comments: a comment may say how the line ends ("… exits 5").
    lines.push(...block[1]!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  }
  return lines;
}

function bash(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', line], { cwd: ROOT, env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  ws = await demoWorkspace({ publicUrl: undefined });
  port = await freePort();
  env = childEnv({ SKILLGATE_CONFIG: ws.configFile, SKILLGATE_PORT: String(port) });
  // The README's first command (after `npm install`), in its own process group so it can be stopped whole.
  runtime = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  runtime.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  runtime.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 120_000;
  while (!output.includes('Ready. Ctrl-C stops everything')) {
    if (Date.now() > deadline || runtime.exitCode !== null) throw new Error(`npm start did not become ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 150_000);

afterAll(async () => {
  if (runtime?.pid && runtime.exitCode === null) {
    process.kill(-runtime.pid, 'SIGINT');
    const exited = new Promise((r) => runtime.once('exit', r));
    const stopped = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 20_000))]);
    if (!stopped) process.kill(-runtime.pid, 'SIGKILL');
  }
  ws?.cleanup();
});

describe('the README walkthrough on SKILLGATE_PORT', () => {
  it('everything derived from the port moved with it', () => {
    expect(output).toContain(`http://127.0.0.1:${port}/mcp/hr-desk`);
    expect(output).toContain(`http://127.0.0.1:${port}/idp`);
    expect(output).not.toContain('127.0.0.1:8787');
  });

  it('runs every README line as written: token, Inspector, skill runs, approval, revocation, validate, the audit trail', async () => {
    const lines = readmeLines('## After `npm start`', '## Architecture');
    expect(lines.length).toBeGreaterThanOrEqual(7);
    const outputs: Array<{ line: string; stdout: string }> = [];
    let lastWorkflowId: string | undefined;
    for (const raw of lines) {
      let line = raw.replace(/\s+#.*$/, '').replaceAll('http://127.0.0.1:8787', `http://127.0.0.1:${port}`);
      if (line.includes('<workflowId>')) {
        expect(lastWorkflowId, `a workflow id for: ${raw}`).toBeDefined();
        line = line.replaceAll('<workflowId>', lastWorkflowId!);
      }
      const assign = /^([A-Z_]+)=\$\((.*)\)$/.exec(line);
      const r = await bash(assign ? assign[2]! : line);
      // A line the README says fails ("… exits N" in its comment) must fail exactly so.
      const expected = Number(/#.*\bexits (\d+)\s*$/.exec(raw)?.[1] ?? 0);
      expect(r.code, `${raw}\n${r.stderr}`).toBe(expected);
      if (assign) env[assign[1]!] = r.stdout.trim();
      const id = /^(skill-[\w-]+)$/m.exec(r.stdout.trim())?.[1];
      if (id) lastWorkflowId = id;
      outputs.push({ line: raw, stdout: r.stdout });
    }
    const out = (needle: string) => outputs.find((o) => o.line.includes(needle))!.stdout;
    expect(env.TOKEN).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    const listed = JSON.parse(out('npm run inspector').slice(out('npm run inspector').indexOf('{'))) as { tools: Array<{ name: string }> };
    expect(listed.tools.map((t) => t.name).sort()).toEqual(['hr.get_compensation', 'hr.get_employee']);
    expect(JSON.parse(out('"amount":5000}\' --wait'))).toMatchObject({ creditId: expect.stringMatching(/^CR-/), approvedBy: null });
    expect(out('skillgate approve')).toMatch(/^approved by credit-officer: skill-credit-issuance-/);
    expect(out('skillgate revoke')).toContain('revoked loan-clerk');
    expect(out('skillgate validate')).toContain('all valid');
    // The intern's read of the CEO's compensation is refused, and the audit trail has it, with both sides.
    expect(out('--tool-name hr.get_compensation')).toContain('not permitted for this user');
    expect(out('skillgate audit --decision deny')).toMatch(/decision\s+deny\s+ERR_USER_NOT_PERMITTED\s+intern via hr-assistant\s+on hr-desk\s+hr\.get_compensation\s+\[agent allow agent\.hr-assistant\.hr-tools; user deny; policies \w+\]/);
    expect(out('skillgate audit verify')).toMatch(/^ok: .*skillgate\.db: \d+ events/);
  }, 240_000);
});
