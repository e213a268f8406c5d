/**
 * `gateways.<g>.prefix: false`: a gateway fronting one server exposes that server's tools under
 * their own names (the MCP conformance suites call `test_simple_text`, not
 * `fixture.test_simple_text`). Config validation, then the real gateway with the real MCP client
 * and the `everything` reference server; visibility and the AND-gate still apply by
 * (server, tool).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { startTestGateway, type TestGateway, textOf } from './helpers/gateway.js';

const base = (gateway: string) => `workspace: t\nservers:\n  a: { command: node }\n  b: { command: node }\ngateways:\n  g:\n${gateway}`;

describe('config: prefix: false', () => {
  it('is accepted when every tool pattern names the same server', () => {
    const { config } = parseConfig(base('    tools: [a.read_*, a.write]\n    prompts: [a.*]\n    resources: [a]\n    prefix: false\n'), 'skillgate.yaml');
    expect(config.gateways.g?.prefix).toBe(false);
    expect(parseConfig(base('    tools: [a.*]\n'), 'skillgate.yaml').config.gateways.g?.prefix).toBe(true);
  });

  it.each([
    ['two servers', '    tools: [a.*, b.*]\n    prefix: false\n'],
    ['a server wildcard', '    tools: ["*.read"]\n    prefix: false\n'],
    ['tools of one server, prompts of another', '    tools: [a.*]\n    prompts: [b.*]\n    prefix: false\n'],
    ['nothing exposed', '    prefix: false\n'],
  ])('is refused for %s, naming the key path and line', (_what, gateway) => {
    let err: unknown;
    try {
      parseConfig(base(gateway), 'skillgate.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const [d] = (err as ConfigError).diagnostics;
    expect(d?.message).toMatch(/^gateways\.g\.prefix: `prefix: false` needs every entry of `tools`, `prompts` and `resources` to name one and the same server/);
    expect(d?.line).toBeGreaterThan(5);
  });
});

describe('an unprefixed gateway', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({
      extra: {
        gateways: {
          bare: { agents: ['coding-agent'], tools: ['everything.*'], prefix: false },
          narrow: { agents: ['coding-agent'], tools: ['everything.echo'], prefix: false },
        },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists the upstream tools under their own names and calls them by those names', async () => {
    const dev = await t.connect('ceo', 'coding-agent', 'bare');
    const names = (await dev.listTools()).tools.map((x) => x.name);
    expect(names).toContain('echo');
    expect(names.some((n) => n.startsWith('everything.'))).toBe(false);
    const r = await dev.callTool({ name: 'echo', arguments: { message: 'unprefixed' } });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('unprefixed');
  });

  it('does not answer to the prefixed name', async () => {
    const dev = await t.connect('ceo', 'coding-agent', 'bare');
    await expect(dev.callTool({ name: 'everything.echo', arguments: { message: 'x' } })).rejects.toThrow(/unknown tool "everything\.echo"/);
  });

  it('still shows only what its patterns match: a tool outside them is neither listed nor callable', async () => {
    const dev = await t.connect('ceo', 'coding-agent', 'narrow');
    expect((await dev.listTools()).tools.map((x) => x.name)).toEqual(['echo']);
    const other = (await (await t.connect('ceo', 'coding-agent', 'bare')).listTools()).tools.map((x) => x.name).find((n) => n !== 'echo');
    expect(other).toBeDefined();
    await expect(dev.callTool({ name: other!, arguments: {} })).rejects.toThrow(/unknown tool/);
    const refusal = t.logs.find((l) => l.event === 'refusal' && l.gateway === 'narrow' && l.tool === other);
    expect(refusal?.code).toBe('ERR_TOOL_NOT_VISIBLE');
  });
});
