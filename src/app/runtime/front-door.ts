/**
 * Assembles the authorizing gateway from a workspace: revocation list, Cedar policy engine
 * (reloaded when a policy file changes), the AND-gate authorizer, token verification (the
 * configured issuers, plus the embedded dev IdP when enabled), skills as MCP tools, and the
 * fastify front door.
 */
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { type Authorizer, createAuthorizer } from '../../../gateway/authz/authorizer.js';
import { createRunAttestor, type RunAttestor } from '../../../gateway/authz/run-attestation.js';
import { decodeRunKey, loadOrCreateRunKey } from '../../../gateway/authz/run-key.js';
import { resolveSecretValue } from '../../config/secrets.js';
import { type Logger, silentLogger } from '../../../gateway/log.js';
import { inspectToolCall } from '../../../gateway/adapters/mcp/call-params.js';
import { createRunActions, type RunActions } from '../../skills/run-actions.js';
import { createGatewayApp, resourceUrl } from '../../../gateway/adapters/http/app.js';
import { hostPolicy } from '../../../gateway/adapters/http/host-check.js';
import { createDevIdp, type DevIdp } from '../../../gateway/adapters/idp/dev-idp.js';
import { openRevocations, type RevocationStore } from '../../../gateway/identity/revocations.js';
import { type TokenVerifier, verifierFromConfig } from '../../../gateway/identity/verify.js';
import { createSkillTools } from '../../../gateway/adapters/mcp/skill-tools.js';
import type { SessionRegistry } from '../../../gateway/adapters/mcp/sessions.js';
import { createPolicyEngine, type PolicyEngine } from '../../../gateway/policy/engine.js';
import type { UpstreamPool } from '../../../gateway/upstream/types.js';
import type { LoadedConfig } from '../../config/load.js';
import type { SkillgateConfig } from '../../config/schema.js';
import type { CompiledSkill } from '../../skills/compile-all.js';

/** The parts of authorization shared by the gateway and the worker's activities. */
export interface Governance {
  config: SkillgateConfig;
  revocations: RevocationStore;
  policy: PolicyEngine;
  authorizer: Authorizer;
  /** Signs (service) and verifies (worker) run attestations, under the workspace's run key. */
  attestor: RunAttestor;
  /** Be told after every successful policy reload (what each (user, agent) may see may have changed). */
  onPolicyReload(listener: () => void): () => void;
  close(): void;
}

/** Revocations + Cedar (watching the policy files) + the AND-gate, for one workspace. */
export function createGovernance(loaded: LoadedConfig, opts: { log?: (line: string) => void; watch?: boolean } = {}): Governance {
  const { config } = loaded;
  const revocations = openRevocations(loaded.path(config.stateDir));
  const listeners = new Set<() => void>();
  const policy = createPolicyEngine({
    config: loaded,
    watch: opts.watch ?? true,
    onReload: (r) => {
      opts.log?.(r.ok ? `policies reloaded (${r.policies} policies, version ${r.version})` : `policy reload failed, keeping the previous set:\n${r.diagnostics.map((d) => `  ${d.file}:${d.line}:${d.col}: ${d.message}`).join('\n')}`);
      if (r.ok) for (const l of listeners) l();
    },
  });
  const authorizer = createAuthorizer({ config, policy, revocations });
  const attestor = createRunAttestor(runKey(loaded));
  return {
    config,
    revocations,
    policy,
    authorizer,
    attestor,
    onPolicyReload: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: () => policy.close(),
  };
}

/** The workspace's run key: `runs.attestationKey` (a secret reference, resolved now), else the generated one in the state folder. */
function runKey(loaded: LoadedConfig): Uint8Array {
  const ref = loaded.config.runs.attestationKey;
  if (ref === undefined) return loadOrCreateRunKey(loaded.path(loaded.config.stateDir));
  return decodeRunKey(resolveSecretValue(ref, ['runs', 'attestationKey'], { env: process.env, baseDir: loaded.baseDir }), 'runs.attestationKey');
}

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
  /** Skill runs through MCP need a Temporal client and the worker's task queue. */
  temporal?: { client: Client; taskQueue: string };
  skills?: () => ReadonlyMap<string, CompiledSkill>;
  host?: string;
  /** 0 picks a free port; the config's publicUrl is then rewritten to the real one. */
  port: number;
  /** Structured log (refusals, denials, runs). Default: dropped. */
  log?: Logger;
  /** Override token verification (tests of the front door only). */
  verifier?: TokenVerifier;
  /** How long a skill call waits before answering with a run handle. */
  skillSyncWaitMs?: number;
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
  const log = opts.log ?? silentLogger;
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

  const idp = config.identity.devIdp ? await createDevIdp({ config, stateDir: opts.loaded.path(config.stateDir) }) : undefined;
  const verifier = opts.verifier ?? verifierFromConfig(config);
  const runs =
    opts.temporal && opts.skills
      ? createRunActions({
          client: opts.temporal.client,
          workspace: config.workspace,
          taskQueue: opts.temporal.taskQueue,
          authorizer: opts.governance.authorizer,
          attestor: opts.governance.attestor,
          skills: opts.skills,
          log,
        })
      : undefined;
  const skillTools =
    runs && opts.skills
      ? createSkillTools({
          actions: runs,
          skills: opts.skills,
          authorizer: opts.governance.authorizer,
          ...(opts.skillSyncWaitMs !== undefined ? { syncWaitMs: opts.skillSyncWaitMs } : {}),
        })
      : undefined;

  const { app, sessions } = await createGatewayApp({
    config,
    verifier,
    authorizer: opts.governance.authorizer,
    ...(runs ? { runs } : {}),
    hostPolicy: () => hostPolicy(publicUrl, port),
    log,
    mcp: {
      config,
      pipeline: { pool: opts.pool, authorizer: opts.governance.authorizer },
      ...(skillTools ? { skills: skillTools } : {}),
      inspect: inspectToolCall(config.limits),
      log,
    },
    plugins: idp ? [(a) => idp.mount(a)] : [],
  });
  // Visibility follows the policies: tell every open session to list its tools again.
  const unsubscribe = opts.governance.onPolicyReload(() => {
    for (const s of sessions.all()) void s.server.sendToolListChanged().catch(() => {});
  });
  app.addHook('onClose', async () => {
    unsubscribe();
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
