/**
 * Everything a server offers, governed: the reference server's resources, templates, prompts
 * and completions through the gateway — namespaced like tools (`everything+demo://…`,
 * `everything.simple-prompt`), listed only where the gateway exposes them, read only when the
 * agent AND the user may (`read_resource`, `get_prompt`) — and skills' procedures (SKILL.md) as
 * a resource and a prompt beside the skill tool. Both eras.
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type SkillGateway, startSkillGateway } from './helpers/gateway.js';
import { eventually } from './helpers/skill-harness.js';
import { ROOT } from './helpers/workspace.js';

const policyDir = mkdtempSync(join(tmpdir(), 'skillgate-resource-policies-'));
for (const f of ['agents.cedar', 'users.cedar', 'arguments.cedarschema']) copyFileSync(join(ROOT, 'policies', f), join(policyDir, f));

let t: SkillGateway;
beforeAll(async () => {
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(ROOT, 'skills/credit-issuance')],
    extra: {
      policies: [join(policyDir, '*.cedar')],
      gateways: {
        'dev-tools': { agents: ['coding-agent'], tools: ['everything.echo'], resources: ['everything'], prompts: ['everything.simple-prompt', 'everything.completable-prompt'] },
        'hr-desk': { agents: ['hr-assistant'], tools: ['hr.*'] },
        'credit-desk': { agents: ['credit-assistant'], tools: ['core-banking.*', 'credit-bureau.*'], skills: ['credit-issuance'] },
      },
    },
  });
});
afterAll(async () => {
  await t?.close();
  rmSync(policyDir, { recursive: true, force: true });
});

describe('upstream resources and prompts through the gateway (2025-11-25 client)', () => {
  it('lists the exposed server\'s resources and templates under its name, and reads one', async () => {
    const c = await t.connect('intern', 'coding-agent', 'dev-tools');
    const { resources } = await c.listResources();
    expect(resources.length).toBeGreaterThan(0);
    expect(resources.every((r) => r.uri.startsWith('everything+demo://'))).toBe(true);
    const { resourceTemplates } = await c.listResourceTemplates();
    expect(resourceTemplates.map((x) => x.uriTemplate)).toContain('everything+demo://resource/dynamic/text/{resourceId}');
    const read = await c.readResource({ uri: resources[0]!.uri });
    expect(read.contents[0]?.uri).toBe(resources[0]!.uri);
    const fromTemplate = await c.readResource({ uri: 'everything+demo://resource/dynamic/text/3' });
    expect(fromTemplate.contents[0]?.uri).toBe('everything+demo://resource/dynamic/text/3');
  });

  it('lists and gets only the exposed prompts; completes a prompt argument', async () => {
    const c = await t.connect('intern', 'coding-agent', 'dev-tools');
    const { prompts } = await c.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['everything.completable-prompt', 'everything.simple-prompt']);
    const got = await c.getPrompt({ name: 'everything.simple-prompt' });
    expect(got.messages.length).toBeGreaterThan(0);
    await expect(c.getPrompt({ name: 'everything.args-prompt', arguments: { city: 'Oslo' } })).rejects.toThrow(/unknown prompt/);
    const done = await c.complete({ ref: { type: 'ref/prompt', name: 'everything.completable-prompt' }, argument: { name: 'department', value: 'E' } });
    expect(done.completion.values.length).toBeGreaterThan(0);
  });

  it('a gateway that does not expose them shows none and reads none', async () => {
    const c = await t.connect('intern', 'hr-assistant', 'hr-desk');
    expect((await c.listResources()).resources).toEqual([]);
    expect((await c.listPrompts()).prompts).toEqual([]);
    await expect(c.readResource({ uri: 'everything+demo://resource/dynamic/text/1' })).rejects.toThrow(/unknown resource/);
    await expect(c.getPrompt({ name: 'everything.simple-prompt' })).rejects.toThrow(/unknown prompt/);
  });

  it('a policy decides each read: a forbid on one URI hides it from the list and refuses it', async () => {
    const c = await t.connect('intern', 'coding-agent', 'dev-tools');
    const uri = 'demo://resource/static/document/features.md';
    expect((await c.listResources()).resources.map((r) => r.uri)).toContain(`everything+${uri}`);
    appendFileSync(
      join(policyDir, 'users.cedar'),
      `\n@id("user.intern.no-features-doc")\nforbid (principal in Skillgate::Role::"intern", action == Skillgate::Action::"read_resource", resource == Skillgate::Resource::"everything+${uri}");\n`,
    );
    await eventually(async () => !(await c.listResources()).resources.some((r) => r.uri === `everything+${uri}`), 'the forbidden document leaves the list');
    await expect(c.readResource({ uri: `everything+${uri}` })).rejects.toThrow(/not permitted for this user/);
    const ceo = await t.connect('ceo', 'coding-agent', 'dev-tools');
    expect((await ceo.readResource({ uri: `everything+${uri}` })).contents.length).toBe(1);
    const denial = t.logs.find((l) => l.code === 'ERR_USER_NOT_PERMITTED' && Array.isArray(l.policies) && (l.policies as string[]).includes('user.intern.no-features-doc'));
    expect(denial).toBeDefined();
  });
});

describe('skills: the procedure beside the tool', () => {
  it('offers SKILL.md as a resource and a prompt where the skill is visible, in both eras', async () => {
    const legacy = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const { resources } = await legacy.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['skill://credit-issuance/SKILL.md']);
    const md = await legacy.readResource({ uri: 'skill://credit-issuance/SKILL.md' });
    expect((md.contents[0] as { text: string }).text).toContain('name: credit-issuance');
    const prompt = await legacy.getPrompt({ name: 'skill.credit-issuance' });
    expect(JSON.stringify(prompt.messages)).toContain('credit-issuance');

    const token = await t.token('ceo', 'credit-assistant', 'credit-desk');
    const modern = new V2Client({ name: 'modern', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await modern.connect(new V2Transport(new URL(t.gw.resourceUrl('credit-desk')), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    expect((await modern.listResources()).resources.map((r) => r.uri)).toEqual(['skill://credit-issuance/SKILL.md']);
    expect((await modern.listPrompts()).prompts.map((p) => p.name)).toEqual(['skill.credit-issuance']);
    await modern.close();

    // Where the skill is not enabled, neither is its procedure.
    const hr = await t.connect('ceo', 'hr-assistant', 'hr-desk');
    await expect(hr.readResource({ uri: 'skill://credit-issuance/SKILL.md' })).rejects.toThrow(/unknown resource/);
  });
});
