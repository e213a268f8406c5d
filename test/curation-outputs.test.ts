/**
 * What curation writes: SARIF accepted by the official SARIF 2.1.0 schema, an HTML page that
 * shows (never runs or hides) what a server sent, the lock file's canonical hashes (RFC 8785),
 * and the shipped tools.lock.json matching the servers as installed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv4Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definitionHash } from '../gateway/curation/definition.js';
import { parseLock, LockError, readLock } from '../gateway/curation/lock.js';
import { renderHtml } from '../gateway/curation/render/html.js';
import { renderSarif } from '../gateway/curation/render/sarif.js';
import { renderJson } from '../gateway/curation/render/json.js';
import { scoreServer, type CurationReport } from '../gateway/curation/score.js';
import { createPinnedCatalog } from '../gateway/curation/catalog.js';
import { memoryLogger } from '../gateway/log.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import { loadConfig } from '../src/config/load.js';
import { canonicalJson, CanonicalJsonError } from '../src/shared/canonical-json.js';
import { INSTRUCTIONS, TOOLS } from './fixtures/curation/poisoned-server.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';
import { ROOT } from './helpers/workspace.js';
import { fileLockSource } from '../gateway/curation/lock-source.js';

const addFormats = addFormatsModule as unknown as <T>(a: T) => T;
// CommonJS with a default export, which TypeScript's NodeNext view types as the module.
const Ajv4 = Ajv4Module as unknown as typeof Ajv4Module.default;

/** The fixture server's tools scored without a process (the same rules; its live run is curation-rules.test.ts). */
function fixtureReport(): CurationReport {
  return scoreServer({
    server: 'poisoned',
    identity: { name: 'poisoned-fixture', version: '0.0.1', command: 'node', args: ['poisoned-server.ts'] },
    inventory: { info: { name: 'poisoned-fixture', version: '0.0.1' }, capabilities: { tools: {} }, instructions: INSTRUCTIONS, tools: TOOLS, resources: [], resourceTemplates: [], prompts: [{ name: 'p', description: '<script>alert(1)</script>' }], errors: [] },
    otherServers: new Map([['hr', ['get_compensation']]]),
  });
}

describe('SARIF', () => {
  it('is accepted by the official SARIF 2.1.0 schema (OASIS, errata 01)', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/sarif/sarif-schema-2.1.0.json'), 'utf8')) as object;
    const ajv = addFormats(new Ajv4({ allErrors: true, strict: false }));
    const validate = ajv.compile(schema);
    const sarif = JSON.parse(renderSarif([fixtureReport()])) as { runs: Array<{ results: Array<{ ruleId: string; ruleIndex: number }>; tool: { driver: { rules: Array<{ id: string }> } } }> };
    expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    // And the shipped reports are too.
    for (const f of ['everything', 'memory', 'filesystem', 'sequential-thinking', 'hr']) {
      expect(validate(JSON.parse(readFileSync(join(ROOT, 'docs/curation', `${f}.sarif`), 'utf8'))), f).toBe(true);
    }
    // A negative control: the validator does refuse a broken log.
    expect(validate({ version: '2.1.0', runs: [{ results: [] }] })).toBe(false);
    const run = sarif.runs[0]!;
    expect(run.results.length).toBeGreaterThan(12);
    for (const r of run.results) expect(run.tool.driver.rules[r.ruleIndex]!.id).toBe(r.ruleId);
  });
});

describe('HTML', () => {
  it('escapes everything the server sent and shows its hidden characters', () => {
    const html = renderHtml(fixtureReport());
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).not.toMatch(/[\u{E0000}-\u{E007F}\u200B\u202E]/u);
    expect(html).toContain('⟨U+200B⟩');
    expect(html).toContain('⟨U+202E⟩');
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('SG-SEC-002');
    expect(html).toMatch(/Curation report: poisoned/);
  });

  it('the JSON report lists every rule it names', () => {
    const doc = JSON.parse(renderJson([fixtureReport()])) as { reports: CurationReport[]; rules: Array<{ id: string }> };
    const named = new Set(doc.reports[0]!.tools.flatMap((t) => t.findings.map((f) => f.ruleId)));
    for (const id of named) expect(doc.rules.map((r) => r.id)).toContain(id);
  });
});

describe('canonical JSON (RFC 8785)', () => {
  it('serializes as JCS does: sorted keys by UTF-16 units, ECMAScript numbers, minimal escapes', () => {
    // RFC 8785 §3.2.3's example, input with its numbers as parsed.
    const input = JSON.parse('{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}');
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
    // §3.2.3: keys sorted by UTF-16 code units (not code points, not locale).
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '1': 4, '\u0080': 5, '\u00f6': 6 })).toBe('{"\\r":2,"1":4,"\u0080":5,"ö":6,"€":1,"😀":3}');
    expect(canonicalJson({ a: -0, b: 1e21, c: 1e-7 })).toBe('{"a":0,"b":1e+21,"c":1e-7}');
  });

  it('refuses what has no canonical form instead of writing something else', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ x: [Infinity] })).toThrow(/at \/x\/0/);
    expect(() => canonicalJson({ s: 'a\ud800b' })).toThrow(/lone surrogate/);
    expect(() => canonicalJson(10n)).toThrow(CanonicalJsonError);
  });

  it('a tool pin covers name, title, description, inputSchema, outputSchema and annotations — key order does not count', () => {
    const tool = { name: 't', description: 'd', inputSchema: { type: 'object', properties: { a: { type: 'string' } } }, annotations: { readOnlyHint: true } };
    const same = { annotations: { readOnlyHint: true }, inputSchema: { properties: { a: { type: 'string' } }, type: 'object' }, description: 'd', name: 't', icons: [{ src: 'x' }], _meta: { y: 1 } };
    expect(definitionHash(same)).toBe(definitionHash(tool));
    for (const change of [{ name: 'u' }, { title: 'T' }, { description: 'e' }, { inputSchema: { type: 'object' } }, { outputSchema: { type: 'object' } }, { annotations: {} }]) {
      expect(definitionHash({ ...tool, ...change }), JSON.stringify(change)).not.toBe(definitionHash(tool));
    }
  });
});

describe('the lock file', () => {
  it('a corrupt lock is an error naming the problem and how to recover, never an empty lock', () => {
    expect(() => parseLock('{"lockfileVersion":1,"servers":{"hr":{"grade":"A"}}}', 'tools.lock.json')).toThrow(LockError);
    const md5 = '{"lockfileVersion":1,"servers":{"hr":{"identity":{"name":"x","version":"1"},"grade":"A","tools":{"t":{"hash":"md5:1","grade":"A","approvedBy":"a","approvedAt":"2026-01-01T00:00:00Z"}}}}}';
    expect(() => parseLock(md5, 'tools.lock.json')).toThrow(expect.objectContaining({ code: 'ERR_LOCK_CORRUPT', message: expect.stringContaining('servers.hr.tools.t.hash') }));
    expect(() => parseLock(md5, 'tools.lock.json')).toThrow(/git checkout -- tools\.lock\.json/);
    expect(() => parseLock('{', 'tools.lock.json')).toThrow(/not JSON/);
    expect(() => readLock(join(ROOT, 'no-such.lock.json'))).toThrow(expect.objectContaining({ code: 'ERR_LOCK_MISSING' }));
  });
});

describe('the shipped tools.lock.json', () => {
  const loaded = loadConfig(join(ROOT, 'skillgate.yaml'));
  const pool = createUpstreamPool(loaded, { log: () => {} });
  const log = memoryLogger();
  const catalog = createPinnedCatalog({ pool, lock: fileLockSource(loaded.path(loaded.config.catalog.lockFile)), servers: loaded.config.servers, workspace: 'acme-bank', audit: memoryAuditSink(), log, watch: false });
  beforeAll(() => {
    // The demo servers run from dist/ (npm run build, which npm test runs first).
    expect(readFileSync(join(ROOT, 'dist/demo/hr/main.js'), 'utf8').length).toBeGreaterThan(0);
  });
  afterAll(async () => {
    catalog.close();
    await pool.close();
  });

  it('matches every server as installed: each approved tool is served, and each gateway tool is approved', async () => {
    const lock = readLock(loaded.path('tools.lock.json'));
    for (const [server, pins] of Object.entries(lock.servers)) {
      const visible = (await catalog.visibleTools(server)).map((t) => t.name).sort();
      expect(visible, server).toEqual(Object.keys(pins.tools).sort());
    }
    // Every tool the shipped gateways name one by one is approved, so `npm start` serves it.
    for (const g of Object.values(loaded.config.gateways)) {
      for (const p of g.tools.filter((x) => !x.includes('*'))) {
        const [server, tool] = [p.slice(0, p.indexOf('.')), p.slice(p.indexOf('.') + 1)];
        expect(lock.servers[server]?.tools[tool], p).toBeDefined();
      }
    }
    expect(log.lines.filter((l) => l.level !== 'info')).toEqual([]);
  });
});
