/**
 * The downstream keys of skillgate.yaml: bad ones are reported with their key path and line,
 * all at once — a server's `auth` with both or neither of audience/provider, a provider that
 * does not exist, a scope outside the provider's vocabulary, a provider without endpoints, an
 * unset secret reference, a token lifetime over 5 minutes.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/load.js';

const YAML = `workspace: w
servers:
  hr:
    url: http://127.0.0.1:1/mcp
    auth: { audience: urn:hr, provider: gmail }
  mail:
    url: http://127.0.0.1:2/mcp
    auth:
      provider: gmial
  gmail:
    url: http://127.0.0.1:3/mcp
    auth:
      provider: gmail
      tools: { send: [gmail.sned] }
providers:
  gmail:
    clientId: skillgate
    clientSecret: "\${env:SURELY_UNSET_GMAIL_SECRET}"
    scopes: [gmail.read, gmail.send]
    issuer: https://accounts.example
  nowhere:
    clientId: x
    scopes: [a]
tokens: { lifetime: 1h }
`;

describe('downstream configuration', () => {
  it('reports every problem with its key path', () => {
    let err: ConfigError | undefined;
    try {
      parseConfig(YAML, 'skillgate.yaml', { env: {} });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = err!.diagnostics.map((d) => `${d.line}: ${d.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^5: servers\.hr\.auth: `auth` needs exactly one of `audience`/),
        expect.stringMatching(/^9: servers\.mail\.auth\.provider: no provider "gmial"/),
        expect.stringMatching(/^14: servers\.gmail\.auth\.tools\.send\.0: "gmail\.sned" is not a scope of provider "gmail"/),
        expect.stringMatching(/providers\.nowhere: a provider needs exactly one of `issuer`/),
        expect.stringMatching(/^24: tokens\.lifetime: a minted token lives between 10s and 5m/),
      ]),
    );
  });

  it('accepts the fixed configuration, and names an unset client secret reference', () => {
    const fixed = YAML.replace('provider: gmail }', '}').replace('gmial', 'gmail').replace('gmail.sned', 'gmail.send').replace(/  nowhere:[\s\S]*?scopes: \[a\]\n/, '').replace('1h', '5m');
    expect(() => parseConfig(fixed, 'skillgate.yaml', { env: { SURELY_UNSET_GMAIL_SECRET: 's' } })).not.toThrow();
    let err: ConfigError | undefined;
    try {
      parseConfig(fixed, 'skillgate.yaml', { env: {} });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.diagnostics).toEqual([expect.objectContaining({ code: 'secret-env-unset', message: expect.stringMatching(/providers\.gmail\.clientSecret.*SURELY_UNSET_GMAIL_SECRET/) })]);
  });
});
