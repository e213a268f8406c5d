/**
 * The downstream credential of one tool call — the service behind the pipeline's `credential`
 * step, the /connect pages, `skillgate.disconnect` and `skillgate grants`:
 *
 *   server auth          credential                                   when it cannot
 *   ───────────────────  ───────────────────────────────────────────  ─────────────────────────────
 *   (none)               nothing                                      —
 *   audience: <aud>      a trinary token for (user, agent, aud,       —
 *                        the tool's scopes), minted or cached
 *   provider: <p>        the user's grant for (user, agent, p) from   GrantRequiredError: a URL
 *                        the vault, refreshed shortly before expiry   elicitation for the missing
 *                        (single-flight)                              scopes only
 *
 * An upstream 401 on a vault grant means the provider revoked it: the grant is marked and the
 * call elicits again (`refused`). Completing a /connect flow stores the grant, completes every
 * pending elicitation it satisfies and tells the listeners (MCP sessions, waiting runs).
 */
import { randomBytes } from 'node:crypto';
import type { AuditSink } from '../../src/contracts/audit.js';
import type { AuthorizationRequired, GrantReason } from '../../src/contracts/grants.js';
import type { Json } from '../../src/contracts/json.js';
import type { Principal } from '../../src/contracts/principal.js';
import type { SkillgateConfig } from '../../src/config/schema.js';
import { own } from '../../src/shared/own.js';
import { DownstreamError, GrantRequiredError } from './errors.js';
import type { OAuthClient, TokenResult } from './providers.js';
import type { TrinaryMinter } from './trinary.js';
import type { Elicitation, Grant, GrantKey, Vault } from './vault.js';

/** What one call carries upstream. */
export type Credential =
  | { kind: 'token'; authorization: string; audience: string; scopes: string[]; jti: string }
  | { kind: 'grant'; authorization: string; key: GrantKey; scopes: string[]; version: number };

/** Who asks, for what. */
export interface CredentialRequest {
  principal: Principal;
  workspace: string;
  server: string;
  tool: string;
  /** Set when a skill run's step asks: the run is signalled when the grant arrives. */
  workflowId?: string;
}

/** A grant arrived: the elicitations it completed (each may belong to a waiting run or an MCP session). */
export interface GrantEvent {
  key: GrantKey;
  scopes: string[];
  completed: Elicitation[];
}

export interface CredentialServiceDeps {
  config: SkillgateConfig;
  vault: Vault;
  minter: TrinaryMinter;
  /** The OAuth client of a configured provider (built lazily; secrets resolved at use). */
  provider: (name: string) => OAuthClient;
  /** `<publicUrl>` for /connect links. */
  publicUrl: string;
  /** Refresh this many ms before expiry (vault.refreshBefore). */
  refreshBeforeMs: number;
  /** How long an elicitation link stays valid (default 1 h; a waiting run asks again after). */
  elicitationTtlMs?: number;
  /** Where grant connects, refreshes and revocations are recorded (never a token). Required. */
  audit: AuditSink;
  now?: () => number;
}

export interface CredentialService {
  readonly minter: TrinaryMinter;
  readonly vault: Vault;
  /** The credential for a call, undefined when the server takes none; throws GrantRequiredError. */
  forCall(req: CredentialRequest): Promise<Credential | undefined>;
  /**
   * The upstream refused `cred` (HTTP 401, or 403 insufficient_scope naming `scopes`): a vault
   * grant is marked revoked by the provider, and the error to throw is returned. Undefined for a
   * trinary token (nothing the user can grant).
   */
  refused(cred: Credential, req: CredentialRequest, challenge?: { insufficientScope?: string[] }): Promise<GrantRequiredError | undefined>;
  elicitation(id: string): Promise<Elicitation | undefined>;
  /** The scopes to ask the provider for when answering `e` (what is granted already + what is missing + alwaysRequest). */
  scopesToRequest(e: Elicitation): Promise<string[]>;
  /** Store the grant a /connect flow obtained for the elicitation's (user, agent, provider). */
  completeConnect(e: Elicitation, tokens: TokenResult, requested: string[]): Promise<GrantEvent>;
  /** Forget (user, agent, provider)'s grant and revoke it at the provider (RFC 7009). */
  disconnect(key: GrantKey, by: 'user' | 'admin'): Promise<{ removed: boolean; revokedAtProvider: boolean }>;
  onGrant(listener: (e: GrantEvent) => void): () => void;
  providerName(provider: string): string;
  /** The OAuth client of a configured provider. */
  providerClient(provider: string): OAuthClient;
}

/** The scopes a tool declares (its own list, else the server's default). */
export function toolScopes(auth: { scopes: string[]; tools: Record<string, string[]> }, tool: string): string[] {
  return own(auth.tools, tool) ?? auth.scopes;
}

export function createCredentialService(deps: CredentialServiceDeps): CredentialService {
  const { config, vault, minter } = deps;
  const now = deps.now ?? Date.now;
  const ttl = deps.elicitationTtlMs ?? 60 * 60_000;
  const listeners = new Set<(e: GrantEvent) => void>();
  const refreshing = new Map<string, Promise<Grant | 'no-refresh-token' | 'refused'>>();
  const base = deps.publicUrl.replace(/\/+$/, '');

  const providerName = (p: string) => own(config.providers, p)?.name ?? p;
  /** One audit event about a grant: its owner and provider, the scopes, why — never a token. */
  const recordGrant = (kind: 'grant.connected' | 'grant.refreshed' | 'grant.revoked', key: GrantKey, reason: string, detail: { [k: string]: Json } = {}) =>
    deps.audit.record({ kind, outcome: 'ok', reason, workspace: key.workspace, user: key.user, agent: key.agent, server: key.provider, detail: { provider: key.provider, ...detail } });

  const elicit = async (req: CredentialRequest, provider: string, scopes: string[], reason: GrantReason): Promise<GrantRequiredError> => {
    const owner = { workspace: req.workspace, user: req.principal.user.id, agent: req.principal.agent.id, provider };
    const wanted = [...new Set(scopes)].sort();
    // The same question from the same place is asked once: reuse a pending link while it is valid.
    const pending = await vault.store.pendingElicitations(owner);
    let e = pending.find((p) => p.expiresAt > now() + 60_000 && p.workflowId === req.workflowId && p.reason === reason && p.scopes.join(' ') === wanted.join(' '));
    if (!e) {
      e = { id: randomBytes(16).toString('base64url'), ...owner, scopes: wanted, reason, ...(req.workflowId ? { workflowId: req.workflowId } : {}), createdAt: now(), expiresAt: now() + ttl, status: 'pending' };
      await vault.store.putElicitation(e);
    }
    const name = providerName(provider);
    const why: Record<GrantReason, string> = {
      missing: `${name} is not connected for you yet`,
      expired: `your ${name} authorization expired`,
      revoked: `your ${name} authorization was revoked`,
      insufficient_scope: `${req.server}.${req.tool} needs more access to ${name} than you granted`,
    };
    const required: AuthorizationRequired = {
      provider,
      providerName: name,
      scopes: wanted,
      reason,
      elicitationId: e.id,
      url: `${base}/connect/${encodeURIComponent(provider)}?e=${e.id}`,
      message: `${why[reason]}: open the link to grant ${wanted.join(', ')}, then try again.`,
    };
    return new GrantRequiredError(required);
  };

  /**
   * Refresh a grant near expiry, once per grant at a time (concurrent callers share the one
   * refresh). `no-refresh-token`: keep using the access token until it expires; `refused`: the
   * provider refused the refresh token (the grant is marked revoked).
   */
  const refresh = (key: GrantKey, grant: Grant): Promise<Grant | 'no-refresh-token' | 'refused'> => {
    const k = `${key.workspace}\0${key.user}\0${key.agent}\0${key.provider}`;
    let p = refreshing.get(k);
    if (!p) {
      p = (async (): Promise<Grant | 'no-refresh-token' | 'refused'> => {
        if (!grant.tokens.refreshToken) return 'no-refresh-token';
        let t: TokenResult;
        try {
          t = await deps.provider(key.provider).refresh(grant.tokens.refreshToken);
        } catch (err) {
          if (err instanceof DownstreamError && err.code === 'ERR_PROVIDER_REFUSED') {
            await vault.markRevoked(key, 'refresh-failed');
            recordGrant('grant.revoked', key, 'refresh-failed', { scopes: grant.scopes });
            return 'refused';
          }
          throw err;
        }
        const next = {
          tokens: { accessToken: t.accessToken, refreshToken: t.refreshToken ?? grant.tokens.refreshToken, tokenType: t.tokenType },
          scopes: t.scopes ?? grant.scopes,
          ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
        };
        // Another process may have refreshed first: then its grant is the one to use.
        await vault.put(key, next, grant.version);
        recordGrant('grant.refreshed', key, 'refreshed', { scopes: next.scopes, ...(next.expiresAt !== undefined ? { expiresAt: new Date(next.expiresAt).toISOString() } : {}) });
        return (await vault.get(key)) ?? 'refused';
      })().finally(() => refreshing.delete(k));
      refreshing.set(k, p);
    }
    return p;
  };

  return {
    minter,
    vault,
    providerName,
    providerClient: (p) => deps.provider(p),
    async forCall(req) {
      const server = own(config.servers, req.server);
      const auth = server?.auth;
      if (!auth) return undefined;
      const scopes = toolScopes(auth, req.tool);
      const user = req.principal.user.id;
      const agent = req.principal.agent.id;
      if (auth.audience !== undefined) {
        const m = await minter.mint({ user, agent, audience: auth.audience, scopes });
        return { kind: 'token', authorization: `Bearer ${m.token}`, audience: auth.audience, scopes, jti: m.jti };
      }
      const provider = auth.provider!;
      const key: GrantKey = { workspace: req.workspace, user, agent, provider };
      let grant = await vault.get(key);
      if (!grant) throw await elicit(req, provider, scopes, 'missing');
      if (grant.status === 'revoked') throw await elicit(req, provider, scopes, 'revoked');
      const missing = scopes.filter((s) => !grant!.scopes.includes(s));
      if (missing.length) throw await elicit(req, provider, missing, 'insufficient_scope');
      if (grant.expiresAt !== undefined && grant.expiresAt - now() < deps.refreshBeforeMs) {
        const fresh = await refresh(key, grant);
        if (fresh === 'refused' || (fresh !== 'no-refresh-token' && fresh.status !== 'active')) throw await elicit(req, provider, scopes, 'expired');
        if (fresh !== 'no-refresh-token') grant = fresh;
        else if (grant.expiresAt <= now()) throw await elicit(req, provider, scopes, 'expired');
      }
      return { kind: 'grant', authorization: `Bearer ${grant.tokens.accessToken}`, key, scopes, version: grant.version };
    },

    async refused(cred, req, challenge) {
      if (cred.kind !== 'grant') return undefined;
      if (challenge?.insufficientScope?.length) return elicit(req, cred.key.provider, challenge.insufficientScope, 'insufficient_scope');
      await vault.markRevoked(cred.key, 'provider');
      recordGrant('grant.revoked', cred.key, 'provider', { scopes: cred.scopes, detectedAt: `${req.server}.${req.tool}` });
      return elicit(req, cred.key.provider, cred.scopes, 'revoked');
    },

    elicitation: (id) => vault.store.getElicitation(id),

    async scopesToRequest(e) {
      const p = own(config.providers, e.provider);
      const granted = (await vault.store.get(e))?.scopes ?? [];
      return [...new Set([...(p?.alwaysRequest ?? []), ...granted, ...e.scopes])];
    },

    async completeConnect(e, tokens, requested) {
      const key: GrantKey = { workspace: e.workspace, user: e.user, agent: e.agent, provider: e.provider };
      const scopes = tokens.scopes ?? requested;
      await vault.put(key, {
        tokens: { accessToken: tokens.accessToken, ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}), tokenType: tokens.tokenType },
        scopes,
        ...(tokens.expiresAt !== undefined ? { expiresAt: tokens.expiresAt } : {}),
      });
      const pending = await vault.store.pendingElicitations(key);
      const completed = pending.filter((p) => p.id === e.id || p.scopes.every((s) => scopes.includes(s)));
      await vault.store.completeElicitations(completed.map((c) => c.id));
      recordGrant('grant.connected', key, 'connected', { scopes, elicitationId: e.id, completed: completed.map((c) => c.id) });
      const event: GrantEvent = { key, scopes, completed: completed.map((c) => ({ ...c, status: 'completed' })) };
      for (const l of listeners) {
        try {
          l(event);
        } catch {
          // A listener's failure (a closed session) must not undo the grant.
        }
      }
      return event;
    },

    async disconnect(key, by) {
      const grant = await vault.remove(key);
      if (!grant) return { removed: false, revokedAtProvider: false };
      // RFC 7009 §2: revoking the refresh token revokes the grant at most providers; the access token too, to be sure.
      let revoked = false;
      const client = deps.provider(key.provider);
      if (grant.tokens.refreshToken) revoked = await client.revoke(grant.tokens.refreshToken, 'refresh_token');
      revoked = (await client.revoke(grant.tokens.accessToken, 'access_token')) || revoked;
      recordGrant('grant.revoked', key, by, { scopes: grant.scopes, revokedAtProvider: revoked });
      return { removed: true, revokedAtProvider: revoked };
    },

    onGrant(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}
