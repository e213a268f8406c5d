/**
 * The pinned catalog's guarantees, on a real upstream server (test/helpers/rugpull-server.ts)
 * and a real lock file: it fails closed without a readable lock and recovers when one is
 * restored; it withholds tools never approved and servers that are not the one approved; a
 * skill whose tool changed is held — not offered, runs refused — until its tool is approved
 * again and it compiles against it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPinnedCatalog, type PinnedCatalog } from '../gateway/curation/catalog.js';
import { LockError, readLock, writeLock } from '../gateway/curation/lock.js';
import { memoryLogger } from '../gateway/log.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { createRunActions } from '../src/skills/run-actions.js';
import { createSkillRegistry, type SkillRegistry } from '../src/skills/registry.js';
import { RunError } from '../src/skills/runs.js';
import { ALLOW_ALL } from './helpers/allow-all.js';
import { approve } from './helpers/catalog.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';
import { startRugPullServer, type RugPullServer } from './helpers/rugpull-server.js';
import { eventually } from './helpers/skill-harness.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';
import { createRunAttestor } from '../gateway/authz/run-attestation.js';
import { fileLockSource } from '../gateway/curation/lock-source.js';

let rug: RugPullServer;
let ws: TestWorkspace;
let pool: UpstreamPool;
let catalog: PinnedCatalog;
let lockFile: string;
const log = memoryLogger();
const audit = memoryAuditSink();

const SKILL_MD = `---
name: forecast-check
description: Checks the forecast for a city before a field visit.
---

# Forecast check

Look up the forecast.
`;
const PLAN = `inputs:
  type: object
  required: [city]
  properties:
    city: { type: string }
steps:
  - id: forecast
    tool: weather.get_forecast
    with:
      city: \${{ inputs.city }}
`;

beforeAll(async () => {
  rug = await startRugPullServer();
  ws = testWorkspace((stateDir) => {
    const skills = join(stateDir, '..', 'skills');
    mkdirSync(join(skills, 'forecast-check'), { recursive: true });
    writeFileSync(join(skills, 'forecast-check', 'SKILL.md'), SKILL_MD);
    writeFileSync(join(skills, 'forecast-check', 'plan.yaml'), PLAN);
    return { skillsDir: skills, servers: { weather: { url: rug.url } } };
  });
  lockFile = ws.loaded.path(ws.loaded.config.catalog.lockFile);
  pool = createUpstreamPool(ws.loaded, { log: () => {} });
  await approve(ws.loaded, pool, { servers: ['weather'], tools: ['get_forecast'] });
  catalog = createPinnedCatalog({ pool, lock: fileLockSource(lockFile), servers: ws.loaded.config.servers, workspace: 'test', audit, log });
  await eventually(() => rug.streams() > 0, 'the pool listening to the upstream server');
});

afterAll(async () => {
  catalog?.close();
  await pool?.close();
  await rug?.close();
  ws?.cleanup();
});

describe('what is served', () => {
  it('serves an approved tool, and not one that was never approved', async () => {
    expect(await catalog.check('weather', 'get_forecast')).toMatchObject({ ok: true });
    expect(await catalog.check('weather', 'get_time')).toMatchObject({ ok: false, code: 'ERR_TOOL_NOT_APPROVED', message: 'is not an approved tool' });
    expect((await catalog.visibleTools('weather')).map((t) => t.name)).toEqual(['get_forecast']);
  });

  it('withholds every tool of a server that is not the one approved (another serverInfo name)', async () => {
    const good = readFileSync(lockFile, 'utf8');
    const lock = readLock(lockFile);
    lock.servers.weather!.identity.name = 'some-other-server';
    writeLock(lockFile, lock);
    catalog.reload();
    const r = await catalog.check('weather', 'get_forecast');
    expect(r).toMatchObject({ ok: false, code: 'ERR_TOOL_SERVER_CHANGED' });
    expect(!r.ok && r.detail).toContain('it now says it is "weather-fixture", not "some-other-server"');
    writeFileSync(lockFile, good);
    catalog.reload();
    expect(await catalog.check('weather', 'get_forecast')).toMatchObject({ ok: true });
  });
});

describe('fails closed', () => {
  it('a missing lock file: nothing served, an error line saying how to recover; restoring it (watched) serves again', async () => {
    const good = readFileSync(lockFile, 'utf8');
    rmSync(lockFile);
    catalog.reload();
    const r = await catalog.check('weather', 'get_forecast');
    expect(r).toMatchObject({ ok: false, code: 'ERR_CATALOG_UNAVAILABLE', message: "is not available: the gateway's tool catalog cannot be read" });
    expect(!r.ok && r.detail).toMatch(/tools\.lock\.json is missing; no upstream tool is served until tools are approved: restore it \(git checkout -- tools\.lock\.json\) or approve each server again: skillgate curate <server> --approve/);
    expect(await catalog.visibleTools('weather')).toEqual([]);
    expect(catalog.status().lock).toContain('is missing');
    expect(log.lines.some((l) => l.level === 'error' && l.code === 'ERR_LOCK_MISSING')).toBe(true);

    writeFileSync(lockFile, good);
    await eventually(async () => (await catalog.check('weather', 'get_forecast')).ok, 'the watcher to read the restored lock');
  });

  it('a corrupt lock file: nothing served, the message names the problem', async () => {
    const good = readFileSync(lockFile, 'utf8');
    writeFileSync(lockFile, good.replace('"lockfileVersion": 1', '"lockfileVersion": 2'));
    await eventually(() => catalog.status().lock !== 'ok', 'the watcher to read the corrupt lock');
    expect(catalog.status().lock).toMatch(/is corrupt \(lockfileVersion: .*\); no upstream tool is served until it is fixed/);
    expect(await catalog.check('weather', 'get_forecast')).toMatchObject({ ok: false, code: 'ERR_CATALOG_UNAVAILABLE' });
    writeFileSync(lockFile, good);
    await eventually(async () => (await catalog.check('weather', 'get_forecast')).ok, 'the watcher to read the fixed lock');
  });
});

describe('fails closed on a shared lock it cannot confirm', () => {
  it('a copy not confirmed current (PostgreSQL unreachable): nothing served, a retryable refusal saying why; served again once confirmed', async () => {
    let stale: LockError | undefined = new LockError('ERR_LOCK_UNAVAILABLE', 'the pinned catalog in postgres://db/x has not been confirmed for 6000 ms; no upstream tool is served until it is', 'postgres://db/x');
    const source = fileLockSource(lockFile);
    const shared = createPinnedCatalog({ pool, lock: { ...source, problem: () => stale }, servers: ws.loaded.config.servers, workspace: 'test', audit, log, watch: false });
    try {
      const r = await shared.check('weather', 'get_forecast');
      expect(r).toMatchObject({ ok: false, code: 'ERR_CATALOG_UNCONFIRMED', message: expect.stringMatching(/not available right now.*try again/) });
      expect(!r.ok && r.detail).toMatch(/has not been confirmed for 6000 ms/);
      expect(await shared.visibleTools('weather')).toEqual([]);
      stale = undefined;
      expect(await shared.check('weather', 'get_forecast')).toMatchObject({ ok: true });
    } finally {
      shared.close();
    }
  });
});

describe('skills pinned to the definitions they were compiled against', () => {
  let registry: SkillRegistry;
  let connection: Connection;
  afterAll(async () => {
    registry?.close();
    await connection?.close();
  });

  it('a skill whose tool changed is held — not offered, runs refused — until the tool is approved again and the skill validates', async () => {
    registry = await createSkillRegistry(ws.loaded, pool, catalog, log);
    const skill = () => registry.skills().get('forecast-check')!;
    const compiled = skill();
    expect(registry.held(compiled)).toBeUndefined();
    const step = compiled.plan.steps[0]!;
    const pinnedHash = step.kind === 'tool' ? step.tool.hash : undefined;
    expect(pinnedHash).toMatch(/^sha256:/);

    connection = await Connection.connect({ address: inject('temporalAddress') });
    const actions = createRunActions({
      client: new Client({ connection }),
      workspace: 'test',
      taskQueue: 'never-polled',
      authorizer: ALLOW_ALL,
      attestor: createRunAttestor(new Uint8Array(32).fill(7)),
      skills: () => registry.skills(),
      held: registry.held,
      log,
      audit,
    });
    const principal = { user: { id: 'ceo', roles: [], groups: [] }, agent: { id: 'a' } };

    const changed = new Promise<string[]>((resolve) => registry.onChange(resolve));
    await rug.change('get_forecast', (x) => ({ ...x, description: `${x.description} Now in Fahrenheit.` }));
    expect(await changed).toEqual(['forecast-check']);
    expect(registry.held(skill())).toMatch(/^skill "forecast-check" is held: its tool weather.get_forecast is withheld: its definition changed since it was approved/);
    const refused = await actions.start(principal, 'g', 'forecast-check', { city: 'Lisbon' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RunError);
    expect(refused).toMatchObject({ code: 'ERR_RUN_SKILL_HELD' });

    // Approved again: the skill compiles against the new definition and is offered again, with the new hash.
    const back = new Promise<string[]>((resolve) => registry.onChange(resolve));
    await approve(ws.loaded, pool, { servers: ['weather'], tools: ['get_forecast'] });
    expect(await back).toEqual(['forecast-check']);
    expect(registry.held(skill())).toBeUndefined();
    const s = skill().plan.steps[0]!;
    expect(s.kind === 'tool' && s.tool.hash).not.toBe(pinnedHash);
    // A run started before the change would still carry the old hash: its next step is refused.
    expect(await catalog.check('weather', 'get_forecast', pinnedHash)).toMatchObject({ ok: false, code: 'ERR_TOOL_CHANGED_SINCE_COMPILE' });
    expect(audit.events.some((e) => e.kind === 'catalog.changed' && e.tool === 'get_forecast' && e.reason === 'ERR_TOOL_CHANGED')).toBe(true);
  });
});
