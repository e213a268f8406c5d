/**
 * A skill through the real front door, pinned to the definitions it was compiled against: when
 * its tool changes upstream, the skill is no longer offered in tools/list and a call to it is
 * refused with a clear message (ERR_RUN_SKILL_HELD), before any run starts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type SkillGateway, startSkillGateway, textOf } from './helpers/gateway.js';
import { startRugPullServer, type RugPullServer } from './helpers/rugpull-server.js';
import { eventually } from './helpers/skill-harness.js';
import { ROOT } from './helpers/workspace.js';

let rug: RugPullServer;
let t: SkillGateway;

beforeAll(async () => {
  rug = await startRugPullServer();
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(ROOT, 'test/fixtures/curation/skills/credit-weather-check')],
    extra: {
      servers: { everything: { url: rug.url } },
      gateways: { 'credit-desk': { agents: ['credit-assistant'], tools: ['core-banking.*', 'credit-bureau.*'], skills: ['credit-weather-check'] } },
    },
  });
  await eventually(() => rug.streams() > 0, 'the gateway listening to the upstream server');
});

afterAll(async () => {
  await t?.close();
  await rug?.close();
});

describe('a skill whose tool changed upstream', () => {
  it('is offered while its tool is as approved, then held: not listed, calls refused before a run starts', async () => {
    const client = await t.connect('credit-officer', 'credit-assistant', 'credit-desk');
    const names = async () => (await client.listTools()).tools.map((x) => x.name);
    expect(await names()).toContain('skill.credit-weather-check');

    await rug.change('get_forecast', (x) => ({ ...x, description: `${x.description} Also reports the pollen count.` }));
    await eventually(async () => !(await names()).includes('skill.credit-weather-check'), 'the skill to be held');

    const r = await client.callTool({ name: 'skill.credit-weather-check', arguments: { city: 'Lisbon' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^skill\.credit-weather-check: skill "credit-weather-check" is held: its tool everything\.get_forecast is withheld: its definition changed since it was approved/);
    expect(t.logs.some((l) => l.event === 'refusal' && l.code === 'ERR_RUN_SKILL_HELD' && l.skill === 'credit-weather-check')).toBe(true);
    expect(rug.calls).toEqual([]);
  });
});
