/**
 * `skillgate token`: the printed token verifies against the running dev IdP's JWKS (over
 * HTTP, by discovery) with the right principal and audience; every refusal is clear and has
 * the right exit code. One run goes through the real binary entry (main.ts); the refusals run
 * the same command in-process to keep the file fast.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifierFromConfig } from '../gateway/identity/verify.js';
import { createDevIdp, type DevIdp } from '../gateway/adapters/idp/dev-idp.js';
import { register } from '../src/app/cli/token.js';
import { parseConfig } from '../src/config/load.js';
import type { SkillgateConfig } from '../src/config/schema.js';

const ROOT = resolve(import.meta.dirname, '..');

let dir: string;
let file: string;
let config: SkillgateConfig;
let idp: DevIdp;
let server: ReturnType<typeof createServer>;

function yaml(publicUrl: string, devIdp: boolean): string {
  return `workspace: acme
stateDir: state
publicUrl: ${publicUrl}
identity: { devIdp: ${devIdp} }
users:
  intern: { roles: [intern], groups: [staff] }
  ceo: { roles: [executive] }
agents:
  hr-assistant: { clientId: hr-assistant }
  credit-assistant: { clientId: credit-assistant }
  lonely-agent: { clientId: lonely }
gateways:
  hr-desk: { agents: [hr-assistant] }
  credit-desk: { agents: [credit-assistant, hr-assistant] }
`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skillgate-token-'));
  server = createServer((req, res) => {
    if (idp?.handles(req.url ?? '/')) idp.handle(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  file = join(dir, 'skillgate.yaml');
  writeFileSync(file, yaml(publicUrl, true));
  writeFileSync(join(dir, 'prod.yaml'), yaml(publicUrl, false));
  const loaded = parseConfig(yaml(publicUrl, true), file);
  config = loaded.config;
  idp = await createDevIdp({ config, stateDir: loaded.path(config.stateDir) });
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** The gateway's view: the dev IdP as trusted issuer, keys discovered over HTTP. */
const verifier = () => verifierFromConfig({ ...config, identity: { ...config.identity, issuers: [{ issuer: idp.issuer, algorithms: ['RS256'] }] } });

/** Run `skillgate token ...args` in-process; stdout, or the CliError. */
async function token(args: string[], configFile = file): Promise<{ out: string; err?: { message: string; exitCode: number } }> {
  const program = new Command('skillgate').option('-c, --config <file>').exitOverride();
  register(program);
  let out = '';
  const w = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['--config', configFile, 'token', ...args], { from: 'user' });
    return { out };
  } catch (err) {
    return { out, err: err as { message: string; exitCode: number } };
  } finally {
    w.mockRestore();
    e.mockRestore();
  }
}

describe('skillgate token', () => {
  it('prints a token (via the real CLI entry) that verifies for the first gateway the agent may use', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'src/app/cli/main.ts'), '--config', file, 'token', '--user', 'intern', '--agent', 'hr-assistant'], { cwd: ROOT });
    const printed = stdout.trim();
    expect(printed.split('.')).toHaveLength(3);
    expect(stderr).toMatch(/token for intern via hr-assistant on .*\/mcp\/hr-desk/);
    const id = await verifier().verify(printed, { audience: `${config.publicUrl}/mcp/hr-desk` });
    expect(id.principal).toEqual({ user: { id: 'intern', roles: ['intern'], groups: ['staff'] }, agent: { id: 'hr-assistant' } });
    expect(id.expiresAt - decodeJwt(printed).iat!).toBe(3600);
  });

  it('mints for the gateway asked for, with the lifetime asked for', async () => {
    const { out, err } = await token(['--user', 'ceo', '--agent', 'hr-assistant', '--gateway', 'credit-desk', '--ttl', '15m']);
    expect(err).toBeUndefined();
    const t = out.trim();
    const v = verifier();
    expect((await v.verify(t, { audience: `${config.publicUrl}/mcp/credit-desk` })).principal.user.id).toBe('ceo');
    await expect(v.verify(t, { audience: `${config.publicUrl}/mcp/hr-desk` })).rejects.toMatchObject({ code: 'ERR_TOKEN_AUDIENCE' });
    const c = decodeJwt(t);
    expect(c.exp! - c.iat!).toBe(900);
    const secs = decodeJwt((await token(['--user', 'ceo', '--agent', 'hr-assistant', '--ttl', '600'])).out.trim());
    expect(secs.exp! - secs.iat!).toBe(600);
  });

  it('refuses clearly: unknown user, agent or gateway, agent not allowed, bad lifetime, dev IdP off', async () => {
    const cases: Array<[string[], number, RegExp, string?]> = [
      [['--user', 'interm', '--agent', 'hr-assistant'], 1, /unknown user "interm" — did you mean "intern"\?/],
      [['--user', 'intern', '--agent', 'hr-asistant'], 1, /unknown agent "hr-asistant" — did you mean "hr-assistant"\?/],
      [['--user', 'intern', '--agent', 'hr-assistant', '--gateway', 'hr-dsk'], 1, /unknown gateway "hr-dsk"/],
      [['--user', 'intern', '--agent', 'credit-assistant', '--gateway', 'hr-desk'], 1, /agent "credit-assistant" may not use gateway "hr-desk" \(it may use: credit-desk\)/],
      [['--user', 'intern', '--agent', 'lonely-agent'], 1, /agent "lonely-agent" is not allowed on any gateway/],
      [['--user', 'intern', '--agent', 'hr-assistant', '--ttl', '2d'], 2, /--ttl must be a duration between 1s and 24h/],
      [['--user', 'intern', '--agent', 'hr-assistant', '--ttl', 'soon'], 2, /--ttl/],
      [['--user', 'intern', '--agent', 'hr-assistant'], 2, /the dev IdP is off/, join(dir, 'prod.yaml')],
    ];
    for (const [args, exitCode, message, configFile] of cases) {
      const { out, err } = await token(args, configFile);
      expect(err?.message, args.join(' ')).toMatch(message);
      expect(err?.exitCode, args.join(' ')).toBe(exitCode);
      expect(out, args.join(' ')).toBe('');
    }
  });
});
