/**
 * Assembles the authorizing gateway from a workspace: revocation list, Cedar policy engine
 * (reloaded when a policy file changes), the AND-gate authorizer, token verification (the
 * configured issuers, plus the embedded dev IdP when enabled), skills as MCP tools, and the
 * fastify front door.
 */
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { auditedLogger } from '../../../gateway/audit/refusals.js';
import { type Logger, silentLogger } from '../../../gateway/log.js';
import { inspectToolCall } from '../../../gateway/adapters/mcp/call-params.js';
import { createRunActions, type RunActions } from '../../skills/run-actions.js';
import { createGatewayApp, type HealthReport, resourceUrl } from '../../../gateway/adapters/http/app.js';
import { hostPolicy } from '../../../gateway/adapters/http/host-check.js';
import { mountAdmin } from '../../../gateway/adapters/admin/routes.js';
import { createDevIdp, type DevIdp, devIssuer } from '../../../gateway/adapters/idp/dev-idp.js';
import type { ChainMonitor } from '../../../gateway/audit/monitor.js';
import type { AuditStore } from '../../../gateway/audit/store.js';
import { type TokenVerifier, verifierFromConfig } from '../../../gateway/identity/verify.js';
import { createSkillTools } from '../../../gateway/adapters/mcp/skill-tools.js';
import { createMcpService } from '../../../gateway/adapters/mcp/service.js';
import { createDataLossFilters } from '../../../gateway/dlp/filters.js';
import type { Telemetry } from '../../../gateway/telemetry/telemetry.js';
import type { SessionRegistry } from '../../../gateway/adapters/mcp/sessions.js';
import type { UpstreamPool } from '../../../gateway/upstream/types.js';
import type { PinnedCatalog } from '../../../gateway/curation/catalog.js';
import { globMatcher } from '../../shared/glob.js';
import { own } from '../../shared/own.js';
import { heldReason } from '../../skills/registry.js';
import type { LoadedConfig } from '../../config/load.js';
import type { SkillgateConfig } from '../../config/schema.js';
import type { CompiledSkill } from '../../skills/compile-all.js';
import type { Governance } from './governance.js';
import type { Credentials } from './credentials.js';
import { connectCookieKey, connectRoutes } from '../../../gateway/adapters/connect/routes.js';
import { ElicitationSessions } from '../../../gateway/adapters/mcp/elicitation.js';
import { createOAuthClient, type OAuthClient } from '../../../gateway/downstream/providers.js';
import { resolveSecretValue } from '../../config/secrets.js';
import { parseDuration } from '../../pure/durations.js';

/** The workspace config with the dev IdP added to the trusted issuers when it is enabled. */
export function withDevIssuer(config: SkillgateConfig): SkillgateConfig {
  if (!config.identity.devIdp) return config;
  const issuer = `${config.publicUrl.replace(/\/+$/, '')}/idp`;
  if (config.identity.issuers.some((i) => i.issuer === issuer)) return config;
  return { ...config, identity: { ...config.identity, issuers: [...config.identity.issuers, { issuer, algorithms: ['RS256'] }] } };
}

export interface GatewayOptions {
  loaded: LoadedConfig;
  pool: UpstreamPool;
  governance: Governance;
  /** The pinned tool catalog: only approved, unchanged upstream tools are listed and called. */
  catalog: PinnedCatalog;
  /** Downstream credentials (trinary tokens, the vault, providers). Required. */
  credentials: Credentials;
  /**
   * Skill runs through MCP need a Temporal client and the worker's task queue; `eagerStart`
   * when a worker of this process polls that queue on the client's NativeConnection.
   */
  temporal?: { client: Client; taskQueue: string; eagerStart?: boolean };
  skills?: () => ReadonlyMap<string, CompiledSkill>;
  /** Why a skill is held (default: from the catalog, src/skills/registry.ts). */
  held?: (skill: CompiledSkill) => string | undefined;
  /** Be told when skills are held or offered again (the skill registry), to tell open sessions. */
  onSkillsChanged?: (listener: (skills: string[]) => void) => () => void;
  host?: string;
  /** 0 picks a free port; the config's publicUrl is then rewritten to the real one. */
  port: number;
  /** Structured log (refusals, denials, runs). Default: dropped. */
  log?: Logger;
  /** Override token verification (tests of the front door only). */
  verifier?: TokenVerifier;
  /** How long a skill call waits before answering with a run handle. */
  skillSyncWaitMs?: number;
  /** What /healthz reports beyond the front door itself. */
  health?: () => HealthReport;
  /** Tracing (src/app/runtime/telemetry.ts); absent: off. */
  telemetry?: Telemetry;
  /** The admin page and API over the audit trail (`/admin`), when given. */
  admin?: { store: AuditStore; monitor: ChainMonitor };
}

export interface RunningGateway {
  url: string;
  config: SkillgateConfig;
  /** The run-actions service the MCP tools and /runs routes use (absent without Temporal). */
  runs?: RunActions;
  app: FastifyInstance;
  sessions: SessionRegistry;
  idp?: DevIdp;
  verifier: TokenVerifier;
  resourceUrl(gateway: string): string;
  close(): Promise<void>;
}

/** Start the front door. With port 0, `publicUrl` becomes the bound address. */
export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  // Every refusal the front door logs is recorded too (the run-actions service wraps its own).
  const plainLog = opts.log ?? silentLogger;
  const log = auditedLogger(plainLog, opts.governance.audit, opts.loaded.config.workspace);
  const host = opts.host ?? '127.0.0.1';
  // The public URL decides token audiences and the dev IdP's issuer, so it is fixed before
  // anything is built; with port 0 we bind first and build once the port is known.
  const net = await import('node:net');
  let port = opts.port;
  if (port === 0) {
    port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, host, () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
  }
  const base = opts.loaded.config;
  const publicUrl = opts.port === 0 ? `http://${host}:${port}` : base.publicUrl;
  const config = withDevIssuer({ ...base, publicUrl });

  const held = opts.held ?? ((s: CompiledSkill) => heldReason(opts.catalog, s));
  const idp = config.identity.devIdp ? await createDevIdp({ config, stateDir: opts.loaded.path(config.stateDir) }) : undefined;
  const verifier = opts.verifier ?? verifierFromConfig(config);
  const runs =
    opts.temporal && opts.skills
      ? createRunActions({
          client: opts.temporal.client,
          workspace: config.workspace,
          taskQueue: opts.temporal.taskQueue,
          ...(opts.temporal.eagerStart ? { eagerStart: true } : {}),
          authorizer: opts.governance.authorizer,
          attestor: opts.governance.attestor,
          skills: opts.skills,
          held,
          log: plainLog,
          audit: opts.governance.audit,
          authorizationTimeoutMs: parseDuration(config.defaults.authorizationTimeout) ?? 24 * 3_600_000,
        })
      : undefined;
  const skillTools =
    runs && opts.skills
      ? createSkillTools({
          actions: runs,
          skills: opts.skills,
          authorizer: opts.governance.authorizer,
          held,
          ...(opts.skillSyncWaitMs !== undefined ? { syncWaitMs: opts.skillSyncWaitMs } : {}),
        })
      : undefined;

  const elicitations = new ElicitationSessions();
  const plugins: Array<(app: FastifyInstance) => void | Promise<void>> = [];
  if (idp) plugins.push((a) => idp.mount(a));
  if (opts.admin) {
    const admin = opts.admin;
    plugins.push((a) => mountAdmin(a, adminDeps(config, admin, opts.governance, log)));
  }
  // Skillgate's own keys for the tokens it mints upstream (trinary tokens): RFC 7517 JWK set.
  plugins.push((a) => {
    a.get('/.well-known/jwks.json', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(opts.credentials.service.minter.jwks()));
  });
  const webLogin = webLoginClient(config, opts.loaded);
  if (webLogin && Object.keys(config.providers).length) {
    plugins.push(connectRoutes({ config, credentials: opts.credentials.service, webLogin, cookieKey: connectCookieKey(opts.credentials.vaultKey), log }));
  }
  const { app, sessions, listChanged } = await createGatewayApp({
    config,
    verifier,
    authorizer: opts.governance.authorizer,
    ...(runs ? { runs } : {}),
    hostPolicy: () => hostPolicy(publicUrl, port),
    log,
    mcp: {
      config,
      service: createMcpService({
        config,
        pipeline: {
          pool: opts.pool,
          authorizer: opts.governance.authorizer,
          catalog: opts.catalog,
          audit: opts.governance.audit,
          credentials: opts.credentials.service,
          dataLoss: createDataLossFilters(config.gateways, log),
          ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
        },
        ...(skillTools ? { skills: skillTools } : {}),
        requestState: opts.governance.requestState,
        log,
      }),
      elicitations,
      ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
      ...(skillTools ? { skills: skillTools } : {}),
      inspect: inspectToolCall(config.limits),
    },
    plugins,
    ...(opts.health ? { health: opts.health } : {}),
  });
  // Visibility follows the policies, the upstream servers and the pinned catalog: tell every
  // open session (and every 2026-07-28 listen stream) that may see a change to list again.
  const exposing = (names: Set<string>) => (g: string) => (own(config.gateways, g)?.tools ?? []).some((p) => [...names].some((n) => globMatcher(p)(n)));
  const unsubscribe = [
    opts.governance.onPolicyReload(() => listChanged(['tools', 'resources', 'prompts'])),
    opts.pool.onListChanged((_server, kind) => {
      // Tool list changes reach clients through the catalog (which decides what is still served).
      if (kind !== 'tools') listChanged([kind]);
    }),
    // The catalog withholds or serves a tool a gateway's patterns match.
    opts.catalog.onChange((change) => {
      const names = new Set([...change.shown, ...change.hidden, ...change.changes.flatMap((c) => [c.tool, ...(c.from ? [c.from] : [])])].map((t) => `${change.server}.${t}`));
      listChanged(['tools'], exposing(names));
    }),
    // A skill is held or offered again: its tool, resource and prompt come or go.
    opts.onSkillsChanged?.((changed) => listChanged(['tools', 'resources', 'prompts'], (g) => (own(config.gateways, g)?.skills ?? []).some((n) => changed.includes(n)))) ?? (() => {}),
  ];
  // A grant arrived through /connect: tell the session that was asked (notifications/elicitation/complete),
  // and every skill run waiting for it (signal through the run-actions service).
  const unsubscribeGrants = opts.credentials.service.onGrant((e) => {
    void elicitations.completed(e);
    if (runs) void runs.grantArrived(e);
  });
  app.addHook('onClose', async () => {
    for (const u of unsubscribe) u();
    unsubscribeGrants();
  });
  await app.listen({ host, port });
  // Fetch the issuers' discovery documents and JWKS now, not on the first agent's request.
  for (const r of await verifier.warmUp()) {
    if (!r.ok) log.warn('issuer warm-up failed; will retry on first use', { issuer: r.issuer, detail: r.detail });
  }
  return {
    url: publicUrl,
    config,
    app,
    sessions,
    verifier,
    ...(runs ? { runs } : {}),
    ...(idp ? { idp } : {}),
    resourceUrl: (g) => resourceUrl(publicUrl, g),
    close: () => app.close(),
  };
}

/** The admin page's dependencies: its own token verifier (audience `<publicUrl>/admin`, the admin client only) and IdP. */
function adminDeps(config: SkillgateConfig, admin: NonNullable<GatewayOptions['admin']>, governance: Governance, log: Logger) {
  const clientId = config.admin.clientId;
  return {
    config,
    store: admin.store,
    monitor: admin.monitor,
    audit: governance.audit,
    verifier: verifierFromConfig(
      // admin.issuer is trusted for the admin page's tokens even when it issues no agent's.
      config.admin.issuer && !config.identity.issuers.some((i) => i.issuer === config.admin.issuer)
        ? { ...config, identity: { ...config.identity, issuers: [...config.identity.issuers, { issuer: config.admin.issuer, algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] }] } }
        : config,
      { agents: { [clientId]: { clientId, name: 'Skillgate admin page' } } },
    ),
    issuer: config.admin.issuer ?? (config.identity.devIdp ? devIssuer(config) : config.identity.issuers[0]?.issuer),
    log,
  };
}

/**
 * How /connect signs the person in: `identity.webLogin` (the company IdP), else the dev IdP's
 * own `skillgate-web` client (a public client with PKCE). Undefined: no /connect pages.
 */
function webLoginClient(config: SkillgateConfig, loaded: LoadedConfig): OAuthClient | undefined {
  const w = config.identity.webLogin;
  const secrets = { env: process.env, baseDir: loaded.baseDir };
  if (w) {
    return createOAuthClient({
      name: 'web login',
      endpoints: { issuer: w.issuer },
      clientId: resolveSecretValue(w.clientId, ['identity', 'webLogin', 'clientId'], secrets),
      ...(w.clientSecret !== undefined ? { clientSecret: resolveSecretValue(w.clientSecret, ['identity', 'webLogin', 'clientSecret'], secrets) } : {}),
    });
  }
  if (!config.identity.devIdp) return undefined;
  return createOAuthClient({ name: 'dev IdP', endpoints: { issuer: `${config.publicUrl.replace(/\/+$/, '')}/idp` }, clientId: WEB_LOGIN_CLIENT });
}

/** The dev IdP's client for /connect sign-ins. */
export const WEB_LOGIN_CLIENT = 'skillgate-web';
