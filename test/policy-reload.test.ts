/**
 * Policy reload: a change takes effect on the next request; a broken change keeps the
 * previous set whole and reports why; file changes are picked up by the watcher.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthorizationRequest } from '../gateway/policy/model.js';
import { createPolicyEngine, type PolicyEngine, type ReloadResult } from '../gateway/policy/engine.js';
import { PolicyLoadError } from '../gateway/policy/errors.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function workspace(files: Record<string, string>): { dir: string; write(name: string, text: string): void } {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-reload-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): void => {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  };
  for (const [name, text] of Object.entries(files)) write(name, text);
  return { dir, write };
}

function engineFor(dir: string, extra: Parameters<typeof createPolicyEngine>[0] = {}): PolicyEngine {
  const engine = createPolicyEngine({ files: ['policies/*.cedar'], baseDir: dir, ...extra });
  cleanup.unshift(() => engine.close());
  return engine;
}

const AGENT_OK = '@id("agent.ok") permit (principal == Skillgate::Agent::"a", action, resource);\n';
const USER_OK = '@id("user.ok") permit (principal in Skillgate::Role::"staff", action == Skillgate::Action::"call_tool", resource);\n';
const USER_NO = '@id("user.no") forbid (principal in Skillgate::Role::"staff", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"bank");\n';

const request: AuthorizationRequest = {
  principal: { user: { id: 'u', roles: ['staff'], groups: [] }, agent: { id: 'a' } },
  action: 'call_tool',
  resource: { type: 'tool', server: 'bank', tool: 'pay' },
  gateway: 'g',
  arguments: {},
};

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('reload', () => {
  it('a policy change takes effect on the very next request, cache included', () => {
    const ws = workspace({ 'policies/agents.cedar': AGENT_OK, 'policies/users.cedar': USER_OK });
    const engine = engineFor(ws.dir);
    expect(engine.authorize(request).allowed).toBe(true);
    expect(engine.authorize(request).cached).toBe(true);
    const before = engine.policySet().version;

    ws.write('policies/users.cedar', USER_OK + USER_NO);
    // Not before the reload: the live set is what was loaded.
    expect(engine.authorize(request).allowed).toBe(true);
    const result = engine.reload();
    expect(result).toMatchObject({ ok: true, policies: 3 });
    expect(result.version).not.toBe(before);

    const d = engine.authorize(request);
    expect(d.cached).toBe(false);
    expect(d.allowed).toBe(false);
    expect(d.user).toMatchObject({ basis: 'forbid', policies: ['user.no'] });
    expect(d.policyVersion).toBe(result.version);
  });

  it('a broken reload keeps the whole previous set live and reports every error', () => {
    const ws = workspace({ 'policies/agents.cedar': AGENT_OK, 'policies/users.cedar': USER_OK });
    const engine = engineFor(ws.dir);
    const version = engine.policySet().version;

    // One valid change (denying) and one broken file: neither may take effect.
    ws.write('policies/users.cedar', USER_OK + USER_NO);
    ws.write('policies/agents.cedar', `${AGENT_OK}\n@id("bad") permit (principal, action, resource) when { 1 + };\n`);
    const result = engine.reload();
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.version).toBe(version);
    expect(result.diagnostics).toMatchObject([{ file: 'policies/agents.cedar', line: 3, code: 'policy-syntax' }]);

    const d = engine.authorize(request);
    expect(d.allowed).toBe(true);
    expect(d.policyVersion).toBe(version);
    expect(engine.policySet().policies.map((p) => p.id)).toEqual(['agent.ok', 'user.ok']);

    // Fixed: the next reload applies both changes together.
    ws.write('policies/agents.cedar', AGENT_OK);
    expect(engine.reload().ok).toBe(true);
    expect(engine.authorize(request).user.policies).toEqual(['user.no']);
  });

  it('picks up a new file matched by the pattern', () => {
    const ws = workspace({ 'policies/agents.cedar': AGENT_OK, 'policies/users.cedar': USER_OK });
    const engine = engineFor(ws.dir);
    ws.write('policies/zz-bank.cedar', USER_NO);
    expect(engine.reload()).toMatchObject({ ok: true, policies: 3 });
    expect(engine.authorize(request).allowed).toBe(false);
  });

  it('an invalid initial set fails engine creation with its diagnostics', () => {
    const ws = workspace({ 'policies/a.cedar': 'permit (principal, action, resource' });
    expect(() => createPolicyEngine({ files: ['policies/*.cedar'], baseDir: ws.dir })).toThrow(PolicyLoadError);
    try {
      createPolicyEngine({ files: ['policies/*.cedar'], baseDir: ws.dir });
    } catch (err) {
      expect((err as PolicyLoadError).diagnostics).toMatchObject([{ file: 'policies/a.cedar', line: 1, code: 'policy-syntax' }]);
    }
  });

  it('a closed engine denies everything, saying why', () => {
    const ws = workspace({ 'policies/agents.cedar': AGENT_OK, 'policies/users.cedar': USER_OK });
    const engine = engineFor(ws.dir);
    engine.close();
    const d = engine.authorize(request);
    expect(d.allowed).toBe(false);
    expect(d.agent.errors).toEqual(['the policy engine is closed']);
    expect(engine.reload().ok).toBe(false);
  });
});

describe('watch', () => {
  it('reloads when a policy file changes, and keeps the old set when the change is broken', async () => {
    const ws = workspace({ 'policies/agents.cedar': AGENT_OK, 'policies/users.cedar': USER_OK });
    const results: ReloadResult[] = [];
    const engine = engineFor(ws.dir, { watch: true, onReload: (r) => results.push(r) });
    expect(engine.authorize(request).allowed).toBe(true);

    ws.write('policies/users.cedar', USER_OK + USER_NO);
    await until(() => results.some((r) => r.ok), 'the watcher to reload');
    expect(engine.authorize(request).allowed).toBe(false);
    const good = engine.policySet().version;

    results.length = 0;
    ws.write('policies/users.cedar', 'forbid (principal,');
    await until(() => results.length > 0, 'the watcher to report the broken file');
    expect(results.at(-1)).toMatchObject({ ok: false, version: good, diagnostics: [{ file: 'policies/users.cedar', code: 'policy-syntax' }] });
    expect(engine.authorize(request)).toMatchObject({ allowed: false, policyVersion: good, user: { policies: ['user.no'] } });
  });
});
