/**
 * How the demo's company systems (HR, core banking, credit bureau) check who is calling: the
 * trinary token Skillgate minted for this call (gateway/downstream/trinary.ts), verified with
 * jose against Skillgate's JWKS — issuer, this system's own audience, expiry, ES256/EdDSA,
 * `typ: at+jwt`, a `sub` and an `act.sub` — and the scopes the tool needs. Over stdio it
 * arrives in `_meta["dev.skillgate/authorization"]`, over HTTP as the Authorization header.
 * The `_meta` user id Skillgate once sent is not read anywhere.
 *
 * Every credential presented is recorded (claims, a SHA-256 of the token, never the token)
 * in `<state>/<system>-credentials.jsonl`, so a test can read what each system received.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, type JWK, jwtVerify } from 'jose';
import { META_AUTHORIZATION } from '../src/contracts/meta.js';

/** The verified caller: the user (`sub`) and the agent acting for them (`act.sub`). */
export interface Caller {
  user: string;
  agent: string;
  scopes: string[];
}

/** One credential a system received, as recorded. */
export interface ReceivedCredential {
  at: string;
  system: string;
  tool: string;
  ok: boolean;
  reason?: string;
  iss?: unknown;
  aud?: unknown;
  sub?: unknown;
  act?: unknown;
  scope?: unknown;
  jti?: unknown;
  tokenSha256?: string;
}

export interface CallerCheckOptions {
  system: string;
  /** This system's resource identifier (the `aud` it accepts). */
  audience: string;
  /** Scopes per tool. A tool not listed needs none beyond a valid token. */
  scopes: Record<string, string[]>;
  /** Where the record of received credentials goes (none: kept in memory only). */
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** The file a system records its received credentials in. */
export function credentialRecordFile(stateDir: string, system: string): string {
  return join(stateDir, `${system}-credentials.jsonl`);
}

type Extra = { _meta?: Record<string, unknown>; requestInfo?: { headers?: Record<string, string | string[] | undefined> }; authInfo?: unknown };

/**
 * Make every tool of `server` (registered after this call) require a valid trinary token with
 * the tool's scopes; the handler sees the caller as `extra.authInfo` (clientId = agent,
 * extra.sub = user). Calls without one get a tool error and never reach the handler.
 */
export function requireTrinaryToken(server: McpServer, opts: CallerCheckOptions): void {
  const env = opts.env ?? process.env;
  const issuer = env.SKILLGATE_ISSUER;
  const jwksUri = env.SKILLGATE_JWKS_URI;
  const jwks = jwksUri ? keySet(jwksUri) : undefined;
  if (opts.stateDir) mkdirSync(opts.stateDir, { recursive: true });

  const record = (r: Omit<ReceivedCredential, 'at' | 'system'>) => {
    if (opts.stateDir) appendFileSync(credentialRecordFile(opts.stateDir, opts.system), `${JSON.stringify({ at: new Date().toISOString(), system: opts.system, ...r })}\n`);
  };
  const refuse = (text: string): CallToolResult => ({ content: [{ type: 'text', text: `${opts.system}: ${text}` }], isError: true });

  const check = async (extra: Extra, tool: string): Promise<Caller | CallToolResult> => {
    const fromMeta = extra._meta?.[META_AUTHORIZATION];
    const header = extra.requestInfo?.headers?.authorization;
    const value = typeof fromMeta === 'string' ? fromMeta : typeof header === 'string' ? header : undefined;
    const token = value?.startsWith('Bearer ') ? value.slice(7) : undefined;
    if (!token) {
      record({ tool, ok: false, reason: 'no token' });
      return refuse('no credential on this request');
    }
    const seen = (() => {
      try {
        const c = decodeJwt(token);
        return { iss: c.iss, aud: c.aud, sub: c.sub, act: c.act, scope: c.scope, jti: c.jti };
      } catch {
        return {};
      }
    })();
    const tokenSha256 = createHash('sha256').update(token).digest('hex');
    if (!issuer || !jwks) {
      record({ tool, ok: false, reason: 'no issuer configured', ...seen, tokenSha256 });
      return refuse('no token issuer is configured (SKILLGATE_ISSUER, SKILLGATE_JWKS_URI)');
    }
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer, audience: opts.audience, algorithms: ['ES256', 'EdDSA'], typ: 'at+jwt', requiredClaims: ['sub', 'exp', 'jti'] });
      const agent = (payload.act as { sub?: unknown } | undefined)?.sub;
      if (typeof agent !== 'string') throw new Error('no act.sub (the acting agent)');
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
      const missing = (opts.scopes[tool] ?? []).filter((s) => !scopes.includes(s));
      if (missing.length) {
        record({ tool, ok: false, reason: `missing scope ${missing.join(' ')}`, ...seen, tokenSha256 });
        return refuse(`the token lacks ${missing.join(', ')}`);
      }
      record({ tool, ok: true, ...seen, tokenSha256 });
      return { user: payload.sub!, agent, scopes };
    } catch (err) {
      record({ tool, ok: false, reason: (err as Error).message, ...seen, tokenSha256 });
      return refuse('the credential is not valid here');
    }
  };

  const register = server.registerTool.bind(server) as (...a: unknown[]) => unknown;
  (server as unknown as { registerTool: (...a: unknown[]) => unknown }).registerTool = (name: unknown, config: unknown, handler: unknown) =>
    register(name, config, async (args: unknown, extra: Extra) => {
      const c = await check(extra, String(name));
      if ('isError' in c) return c;
      return (handler as (a: unknown, e: unknown) => unknown)(args, { ...extra, authInfo: { token: '', clientId: c.agent, scopes: c.scopes, extra: { sub: c.user } } });
    });
}

/** The verified caller of a guarded tool (requireTrinaryToken put it in `extra.authInfo`). */
export function callerOf(extra: { authInfo?: { clientId?: string; extra?: Record<string, unknown> } }): Caller | undefined {
  const user = extra.authInfo?.extra?.sub;
  return typeof user === 'string' && extra.authInfo?.clientId ? { user, agent: extra.authInfo.clientId, scopes: [] } : undefined;
}

/**
 * Skillgate's JWKS: its URL (`<publicUrl>/.well-known/jwks.json`), or — for tests that run a
 * worker without a front door — a `file:` URL of the key file, read on each verification
 * (public halves only).
 */
function keySet(uri: string): Parameters<typeof jwtVerify>[1] {
  if (!uri.startsWith('file:')) return createRemoteJWKSet(new URL(uri));
  const file = fileURLToPath(uri);
  return (header, token) => {
    const keys = (JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] }).keys.map(({ d: _d, ...pub }) => pub);
    return createLocalJWKSet({ keys })(header, token);
  };
}
