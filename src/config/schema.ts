/**
 * `skillgate.yaml`: one workspace's servers, users, agents, gateways and runtime settings.
 * Validated with zod at the edge; every error names its key path (see load.ts).
 */
import { z } from 'zod';
import { DURATION_RE, parseDuration } from '../pure/durations.js';
import { parseSecretTemplate } from './secrets.js';

/**
 * A value that may hold secret references (`${env:NAME}`, `${file:path}`, see secrets.ts). Only
 * the syntax is checked here; whether the variable or file exists is checked at load (load.ts).
 */
const secretValue = z.string().superRefine((value, ctx) => {
  const parsed = parseSecretTemplate(value);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason, params: { diagnostic: 'secret-ref-syntax' } });
});

const id = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'use lowercase letters, digits and single hyphens (e.g. "core-banking")');

/**
 * The downstream credential a server's tool calls carry (docs/security.md, "Downstream
 * credentials"): a trinary token Skillgate mints for the server's `audience`, or the user's
 * grant from the vault for `provider`. Scopes: `tools.<tool>` when listed, else `scopes`.
 */
const serverAuthSchema = z
  .object({
    /** The server is an OAuth resource server of the company: Skillgate mints tokens with this `aud`. */
    audience: z.string().min(1).optional(),
    /** The server belongs to a third party: calls carry the user's grant for this provider (key of `providers`). */
    provider: id.optional(),
    /** Scopes every tool of the server needs, unless listed under `tools`. */
    scopes: z.array(z.string().min(1)).default([]),
    /** Per tool: the scopes it needs (instead of `scopes`). */
    tools: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
  })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.audience === undefined) === (a.provider === undefined)) {
      ctx.addIssue({ code: 'custom', message: '`auth` needs exactly one of `audience` (Skillgate mints a token) or `provider` (the user\'s grant from the vault)' });
    }
  });

/**
 * An upstream MCP server: `command` (stdio child process) or `url` (Streamable HTTP).
 * One object with a refinement rather than a union, so a typo gets "unknown key, did you mean".
 */
export const serverSchema = z
  .object({
    /** stdio: executable; `node` means the Node.js running Skillgate. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    /** stdio: the child's variables besides PATH, HOME, …; values may reference secrets. */
    env: z.record(z.string(), secretValue).optional(),
    /** stdio: working directory, relative to the config file. */
    cwd: z.string().optional(),
    /** Streamable HTTP endpoint of the upstream MCP server. */
    url: z.url().optional(),
    /** Streamable HTTP: extra request headers; values may reference secrets. */
    headers: z.record(z.string(), secretValue).optional(),
    /**
     * Which MCP era the server speaks: `auto` (default) asks it with `server/discover` once per
     * connection (2026-07-28) and falls back to `initialize` (2025-11-25); `legacy` / `modern`
     * skip the question.
     */
    era: z.enum(['auto', 'legacy', 'modern']).default('auto'),
    /**
     * With `command`: `http` when the child serves MCP over Streamable HTTP on a loopback port
     * instead of stdio; it prints its MCP URL as the first line of its standard output.
     */
    transport: z.enum(['stdio', 'http']).optional(),
    /** The credential every call to this server carries (trinary token or vault grant). */
    auth: serverAuthSchema.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.command === undefined) === (s.url === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a server needs exactly one of `command` (stdio) or `url` (Streamable HTTP)' });
    }
    if (s.url !== undefined && (s.args || s.env || s.cwd)) {
      ctx.addIssue({ code: 'custom', message: '`args`, `env` and `cwd` only apply to stdio servers (with `command`)' });
    }
    if (s.command !== undefined && s.headers) {
      ctx.addIssue({ code: 'custom', message: '`headers` only applies to HTTP servers (with `url`)' });
    }
    if (s.url !== undefined && s.transport !== undefined) {
      ctx.addIssue({ code: 'custom', message: '`transport` only applies to servers Skillgate starts (with `command`)' });
    }
  });

/**
 * A downstream OAuth 2 / OIDC provider (a third party's authorization server) whose grants the
 * vault keeps per (user, agent, provider). Endpoints: `issuer` (discovery, RFC 8414 / OIDC),
 * `server` (the authorization server named by that MCP server's RFC 9728 metadata), or explicit.
 */
const providerSchema = z
  .object({
    /** Display name on the /connect pages. */
    name: z.string().optional(),
    issuer: z.url().optional(),
    /** An MCP server (key of `servers`) whose protected resource metadata names the authorization server. */
    server: id.optional(),
    authorizationEndpoint: z.url().optional(),
    tokenEndpoint: z.url().optional(),
    /** RFC 7009; without it, disconnecting only forgets the grant locally. */
    revocationEndpoint: z.url().optional(),
    clientId: secretValue,
    /** Confidential client (client_secret_basic); absent: a public client with PKCE. */
    clientSecret: secretValue.optional(),
    /** The provider's own scope vocabulary: every scope a tool declares must be one of these. */
    scopes: z.array(z.string().min(1)).min(1),
    /** Always requested besides the tool's scopes (e.g. `offline_access` for a refresh token). */
    alwaysRequest: z.array(z.string().min(1)).default([]),
    /** Extra authorization request parameters (e.g. `access_type: offline`). */
    authorizeParams: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    const explicit = p.authorizationEndpoint !== undefined || p.tokenEndpoint !== undefined;
    const ways = [p.issuer !== undefined, p.server !== undefined, explicit].filter(Boolean).length;
    if (ways !== 1) ctx.addIssue({ code: 'custom', message: 'a provider needs exactly one of `issuer` (discovery), `server` (RFC 9728 metadata of that MCP server) or `authorizationEndpoint` + `tokenEndpoint`' });
    if (explicit && (p.authorizationEndpoint === undefined || p.tokenEndpoint === undefined)) {
      ctx.addIssue({ code: 'custom', message: '`authorizationEndpoint` and `tokenEndpoint` go together' });
    }
  });

const userSchema = z
  .object({
    name: z.string().optional(),
    roles: z.array(z.string()).default([]),
    groups: z.array(z.string()).default([]),
    /** Per-user settings skills read as `user.attributes.<key>` (e.g. `mailbox: gmail`). */
    attributes: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an attribute name like "mailbox"'), z.string()).default({}),
  })
  .strict();

const durationSchema = z.string().regex(DURATION_RE, 'a duration like "500ms", "30s", "5m", "24h"');

/** A JSON Pointer (RFC 6901), with `*` tokens allowed (audit masks). */
const jsonPointer = z.string().regex(/^(\/([^~/]|~[01])*)*$/, 'a JSON Pointer like "/password" or "/items/*/card" (RFC 6901: "~0" for "~", "~1" for "/")');

/** A trusted token issuer (the company IdP in production, the embedded dev IdP in dev). */
const issuerSchema = z
  .object({
    /** Exact `iss` value; its OIDC discovery document gives the JWKS unless jwksUri is set. */
    issuer: z.url(),
    jwksUri: z.url().optional(),
    /** Signature algorithms accepted from this issuer (never `none`, never HS*). */
    algorithms: z
      .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
      .min(1)
      .default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  })
  .strict();

/** Where user roles/groups and the agent id are found in the token claims. */
const claimsSchema = z
  .object({
    /** Claim holding the user's roles (array or space-separated string). */
    roles: z.string().default('roles'),
    groups: z.string().default('groups'),
    /** Claims naming the OAuth client (the agent), tried in order. */
    agent: z.array(z.string()).min(1).default(['azp', 'client_id']),
  })
  .strict();

const agentSchema = z
  .object({
    /** OAuth client id of the agent at the issuer. */
    clientId: z.string().min(1),
    name: z.string().optional(),
    description: z.string().optional(),
  })
  .strict();

/** Patterns of `<server>.<tool>`; `*` matches any run of characters (e.g. `core-banking.*`). */
const toolPattern = z.string().regex(/^[a-z0-9*][a-z0-9*-]*\.[A-Za-z0-9_*.-]+$/, 'a tool pattern like "core-banking.get_customer" or "hr.*"');

/** Server names, globs allowed (`core-*`). */
const serverPattern = z.string().regex(/^[a-z0-9*][a-z0-9*-]*$/, 'a server name like "filesystem", or a glob like "demo-*"');
/** Patterns of `<server>.<prompt>`, as for tools. */
const promptPattern = z.string().regex(/^[a-z0-9*][a-z0-9*-]*\.[A-Za-z0-9_*.-]+$/, 'a prompt pattern like "everything.simple-prompt" or "everything.*"');

/** The one server a pattern's server part names, or undefined when it is a glob. */
function literalServer(pattern: string): string | undefined {
  const dot = pattern.indexOf('.');
  const server = dot < 0 ? pattern : pattern.slice(0, dot);
  return server.includes('*') ? undefined : server;
}

/** What a data-loss rule does with a match (gateway/dlp/). */
const dataLossAction = z.enum(['redact', 'block', 'allow']);
/** One action for both sides of a call, or one per side. */
const dataLossRule = z.union([
  dataLossAction,
  z.object({ arguments: dataLossAction.optional(), results: dataLossAction.optional() }).strict(),
]);
/** Rules by detector (src/contracts/data-loss.ts DataLossDetector); a detector left out is not scanned for. */
const dataLossRules = z
  .object({
    email: dataLossRule.optional(),
    phone: dataLossRule.optional(),
    'card-number': dataLossRule.optional(),
    iban: dataLossRule.optional(),
    'us-ssn': dataLossRule.optional(),
  })
  .strict();

/** A gateway's data-loss filters: detectors in tool arguments and results, with per-tool overrides. */
const dataLossSchema = z
  .object({
    rules: dataLossRules.default({}),
    /** Per-tool overrides, by tool pattern; every matching pattern applies in the order written, a later one wins. */
    tools: z.record(toolPattern, dataLossRules).default({}),
    /** ISO 3166 region for phone numbers written without a country code (`US`, `DE`); unset: only `+<country>` numbers. */
    phoneRegion: z.string().regex(/^[A-Z]{2}$/, 'a two-letter region code like "US" or "DE"').optional(),
  })
  .strict();

const gatewaySchema = z
  .object({
    description: z.string().optional(),
    /** Agents (keys of `agents`) allowed to connect to this gateway. */
    agents: z.array(id).default([]),
    /** Tools exposed here; anything not matched is invisible on this gateway. */
    tools: z.array(toolPattern).default([]),
    /** Servers whose resources (and resource templates) exist here; each read is still decided by policy (`read_resource`). */
    resources: z.array(serverPattern).default([]),
    /** Prompts exposed here (`<server>.<prompt>` patterns); each get is still decided by policy (`get_prompt`). */
    prompts: z.array(promptPattern).default([]),
    /** Skills (folder names) exposed here as MCP tools. */
    skills: z.array(id).default([]),
    /**
     * `true` (default): names carry their server (`hr.get_employee`, prompt `everything.simple`,
     * resource `filesystem+file:///…`), so servers never collide. `false`: the gateway fronts
     * exactly one server and shows its names as that server does.
     */
    prefix: z.boolean().default(true),
    /** Data-loss filters on this gateway's tool calls (direct and skill steps). Unset: nothing is scanned. */
    dataLoss: dataLossSchema.optional(),
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.prefix) return;
    const named = new Set([...g.tools, ...g.prompts, ...g.resources].map(literalServer));
    if (named.size !== 1 || named.has(undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['prefix'],
        message: '`prefix: false` needs every entry of `tools`, `prompts` and `resources` to name one and the same server (no glob in the server part)',
      });
    }
  });

export const configSchema = z
  .object({
    workspace: id,
    temporal: z
      .object({
        /** host:port of a Temporal frontend; the env var TEMPORAL_ADDRESS wins over this. */
        address: z.string().optional(),
        namespace: z.string().default('default'),
        taskQueue: z.string().default('skillgate'),
        /** Base URL of the Temporal Web UI, for links to runs (default: the embedded dev server's UI when no address is set). */
        uiUrl: z.url().optional(),
        /** The embedded dev server (used when no address is set). */
        dev: z
          .object({
            port: z.number().int().min(1).max(65535).default(7233),
            uiPort: z.number().int().min(1).max(65535).default(8233),
            /** SQLite file of the dev server, relative to the config file. */
            dbFile: z.string().default('.skillgate/temporal.db'),
          })
          .strict()
          .default({ port: 7233, uiPort: 8233, dbFile: '.skillgate/temporal.db' }),
      })
      .strict()
      .default({
        namespace: 'default',
        taskQueue: 'skillgate',
        dev: { port: 7233, uiPort: 8233, dbFile: '.skillgate/temporal.db' },
      }),
    /** Folder holding `skills/<name>/`, relative to the config file. */
    skillsDir: z.string().default('skills'),
    /** Where Skillgate keeps its state (demo data, dev server db), relative to the config file. */
    stateDir: z.string().default('.skillgate'),
    servers: z.record(id, serverSchema).default({}),
    /** Users known to this workspace (the dev IdP's demo users; approvers' roles in dev). */
    users: z.record(id, userSchema).default({}),
    /**
     * Base URL agents use to reach Skillgate; a gateway's resource URL is `<publicUrl>/mcp/<gateway>`.
     * Unset: `http://127.0.0.1:<SKILLGATE_PORT or 8787>` (load.ts).
     */
    publicUrl: z.url().default('http://127.0.0.1:8787'),
    identity: z
      .object({
        issuers: z.array(issuerSchema).default([]),
        claims: claimsSchema.default({ roles: 'roles', groups: 'groups', agent: ['azp', 'client_id'] }),
        /** Accepted clock difference for exp/nbf/iat. */
        clockSkew: durationSchema.default('30s'),
        /** Longest accepted token lifetime (exp − iat, or exp − now without iat). */
        maxTokenLifetime: durationSchema.default('24h'),
        /** Run the embedded dev IdP at `<publicUrl>/idp` with `users` and `agents` as its accounts and clients. Never in production. */
        devIdp: z.boolean().default(false),
        /**
         * How Skillgate signs in the person who opens a /connect page (OIDC code + PKCE at the
         * company IdP; `sub` must be the user the elicitation was made for). Default with the
         * dev IdP: the dev IdP's own `skillgate-web` client.
         */
        webLogin: z
          .object({ issuer: z.url(), clientId: secretValue, clientSecret: secretValue.optional() })
          .strict()
          .optional(),
      })
      .strict()
      .default({ issuers: [], claims: { roles: 'roles', groups: 'groups', agent: ['azp', 'client_id'] }, clockSkew: '30s', maxTokenLifetime: '24h', devIdp: false }),
    /** The agents (OAuth clients) this workspace knows; tokens from unknown clients are refused. */
    agents: z.record(id, agentSchema).default({}),
    gateways: z.record(id, gatewaySchema).default({}),
    /** Cedar policy files (globs allowed), relative to the config file. */
    policies: z.array(z.string()).default(['policies/*.cedar']),
    /** Downstream OAuth providers (third-party systems) whose grants the vault keeps. */
    providers: z.record(id, providerSchema).default({}),
    /** The tokens Skillgate mints for company systems (trinary tokens). */
    tokens: z
      .object({
        /**
         * The signing keys: a JWK set (private, ES256 or EdDSA, each with a `kid`; the first
         * signs, all are published), usually a secret reference. Default: generated into
         * `<stateDir>/keys/token-signing.json`.
         */
        signingKeys: secretValue.optional(),
        /** Lifetime of a minted token (at most 5m). */
        lifetime: durationSchema.default('5m'),
      })
      .strict()
      .default({ lifetime: '5m' }),
    /** The vault of downstream grants (in `storage`). */
    vault: z
      .object({
        /**
         * AES-256-GCM key (base64url, 32 bytes), usually `${env:SKILLGATE_VAULT_KEY}`.
         * Default: generated into `<stateDir>/keys/vault.key` (dev only: keep it apart from the database in production).
         */
        key: secretValue.optional(),
        /** Refresh an access token this long before it expires. */
        refreshBefore: durationSchema.default('60s'),
      })
      .strict()
      .default({ refreshBefore: '60s' }),
    /** Skill runs. */
    runs: z
      .object({
        /**
         * The run key (base64url, ≥ 32 bytes) under which starts and approvals are attested;
         * usually a secret reference. Default: generated into `<stateDir>/keys/run-attestation.key`.
         * Every gateway and worker of the workspace needs the same one.
         */
        attestationKey: secretValue.optional(),
      })
      .strict()
      .default({}),
    /** Bounds on what one client may send or hold at the front door. */
    limits: z
      .object({
        /** Largest request body. */
        bodyBytes: z.number().int().min(1024).default(1024 * 1024),
        /** Deepest nesting of tool-call arguments (objects and arrays). */
        argumentDepth: z.number().int().min(1).max(1000).default(32),
        /** Open MCP sessions per (gateway, user, agent); opening one more closes the oldest. */
        sessionsPerPrincipal: z.number().int().min(1).default(16),
        /** Open MCP sessions in all; past it, new ones are refused with 503 + Retry-After. */
        sessions: z.number().int().min(1).default(10_000),
        /** Sessions idle longer than this are closed. */
        sessionIdle: durationSchema.default('30m'),
      })
      .strict()
      .default({ bodyBytes: 1024 * 1024, argumentDepth: 32, sessionsPerPrincipal: 16, sessions: 10_000, sessionIdle: '30m' }),
    /**
     * Skillgate's own state (vault, audit trail, pinned catalogs, …). One machine: a SQLite file
     * (relative to the config file). Several machines share a database server (scale-out):
     * `kind: postgres` puts the state replicas must share (the revocation list) in PostgreSQL.
     */
    storage: z
      .object({
        kind: z.enum(['sqlite', 'postgres']).default('sqlite'),
        file: z.string().min(1).default('.skillgate/skillgate.db'),
        /** `full`: every commit fsynced before it returns; `normal`: at WAL checkpoints (survives a process crash, not a power loss). */
        synchronous: z.enum(['full', 'normal']).default('full'),
        /** Required when `kind` is `postgres`. */
        postgres: z
          .object({
            /** `postgres://user:password@host:port/db`, usually a secret reference (`${env:SKILLGATE_DATABASE_URL}`). */
            url: secretValue,
            /** A replica that has not confirmed its copy of the revocation list for this long refuses everyone (fail closed). */
            maxStalenessMs: z.number().int().min(1_000).max(600_000).default(5_000),
            /** How often a replica re-reads the list's version, beside LISTEN/NOTIFY (which a dropped connection loses). */
            pollMs: z.number().int().min(50).max(60_000).default(500),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ kind: 'sqlite', file: '.skillgate/skillgate.db', synchronous: 'full' }),
    /** The pinned tool catalog (gateway/curation): which upstream tools are approved, by definition hash. */
    catalog: z
      .object({
        /** The lock file written by `skillgate curate --approve`, relative to the config file. */
        lockFile: z.string().min(1).default('tools.lock.json'),
      })
      .strict()
      .default({ lockFile: 'tools.lock.json' }),
    /** Structured log (JSON lines): every refusal and denial, runs started, approvals. */
    logging: z
      .object({
        /** A file (relative to the config file), or `stderr` / `stdout`. */
        destination: z.string().min(1).default('.skillgate/logs/skillgate.log'),
        level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      })
      .strict()
      .default({ destination: '.skillgate/logs/skillgate.log', level: 'info' }),
    /**
     * OpenTelemetry traces, off unless an OTLP endpoint is configured here or in the standard
     * variables OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT (which win).
     */
    telemetry: z
      .object({
        otlp: z
          .object({
            /** OTLP/HTTP base URL (`http://collector:4318`); spans go to `<endpoint>/v1/traces`. */
            endpoint: z.url().optional(),
            /** Extra request headers (an API key); values may reference secrets. */
            headers: z.record(z.string(), secretValue).default({}),
          })
          .strict()
          .default({ headers: {} }),
        /** `service.name` of the spans (OTEL_SERVICE_NAME wins). */
        serviceName: z.string().min(1).default('skillgate'),
        /** Record tool arguments and results on spans (`gen_ai.tool.call.arguments` / `.result`): opt-in, they may hold personal data. */
        captureContent: z.boolean().default(false),
      })
      .strict()
      .default({ otlp: { headers: {} }, serviceName: 'skillgate', captureContent: false }),
    /** The audit trail: hash-chained events with signed checkpoints, in `storage` (docs/audit.md). */
    audit: z
      .object({
        /** Sign a checkpoint once this many events are unsigned… */
        checkpointEvery: z.number().int().min(1).default(1000),
        /** …or once the oldest unsigned event is this old. */
        checkpointInterval: durationSchema.default('1m'),
        /** `checkpoint`: fsync at every checkpoint (a process crash loses nothing, a power loss what is after the last checkpoint); `commit`: at every write. */
        fsync: z.enum(['checkpoint', 'commit']).default('checkpoint'),
        /** `batched`: a call's events are written right after its answer, off the call path (one transaction per event-loop turn); `before-answer`: before the answer goes out. */
        write: z.enum(['batched', 'before-answer']).default('batched'),
        /** Ed25519 signing key (PKCS#8 PEM or base64url seed), usually a secret reference. Default: generated into `<stateDir>/keys/audit-signing.key`. */
        signingKey: secretValue.optional(),
        /** Argument fields masked in events: `<server>.<tool>` or `skill.<name>` (`*` allowed) → JSON Pointers (RFC 6901; `*` matches every member). */
        mask: z.record(z.string().min(1), z.array(jsonPointer)).default({}),
      })
      .strict()
      .default({ checkpointEvery: 1000, checkpointInterval: '1m', fsync: 'checkpoint', write: 'batched', mask: {} }),
    /** The admin page (`/admin`) and API (`GET /admin/audit`): who may read the audit trail. */
    admin: z
      .object({
        /** Users holding any of these roles (from the IdP's token) may read the audit trail. None: nobody. */
        roles: z.array(z.string().min(1)).default([]),
        /** The admin page's OAuth client at the IdP (public, PKCE). The dev IdP registers it. */
        clientId: z.string().min(1).default('skillgate-admin'),
        /** The IdP people sign in with. Default: the dev IdP when it runs, else the first of identity.issuers. */
        issuer: z.url().optional(),
        /** How long a sign-in lasts. */
        session: durationSchema.default('8h'),
      })
      .strict()
      .default({ roles: [], clientId: 'skillgate-admin', session: '8h' }),
    /** Default per-attempt timeout of a tool step. */
    defaults: z
      .object({
        stepTimeout: durationSchema.default('30s'),
        approvalTimeout: durationSchema.default('24h'),
        /** How long a skill step waits for the user to grant access (URL elicitation) before the run fails. */
        authorizationTimeout: durationSchema.default('24h'),
        /**
         * How read-only tool steps run unless the skill says: `local` (inside the workflow task,
         * no server round trip per step) or `activity` (each one a regular activity).
         */
        readOnlySteps: z.enum(['local', 'activity']).default('local'),
      })
      .strict()
      .default({ stepTimeout: '30s', approvalTimeout: '24h', authorizationTimeout: '24h', readOnlySteps: 'local' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Cross-references of downstream credentials: a server's provider exists, its scopes are
    // in that provider's vocabulary, a provider's discovery server exists.
    for (const [name, s] of Object.entries(c.servers)) {
      const auth = s.auth;
      if (!auth?.provider) continue;
      const provider = Object.hasOwn(c.providers, auth.provider) ? c.providers[auth.provider] : undefined;
      if (!provider) {
        ctx.addIssue({ code: 'custom', path: ['servers', name, 'auth', 'provider'], message: `no provider "${auth.provider}" under \`providers\`` });
        continue;
      }
      const vocabulary = new Set(provider.scopes);
      const check = (scopes: string[], path: (string | number)[]) =>
        scopes.forEach((sc, i) => {
          if (!vocabulary.has(sc)) ctx.addIssue({ code: 'custom', path: [...path, i], message: `"${sc}" is not a scope of provider "${auth.provider}" (its scopes: ${provider.scopes.join(', ')})` });
        });
      check(auth.scopes, ['servers', name, 'auth', 'scopes']);
      for (const [tool, scopes] of Object.entries(auth.tools)) check(scopes, ['servers', name, 'auth', 'tools', tool]);
    }
    for (const [name, p] of Object.entries(c.providers)) {
      if (p.server !== undefined && !Object.hasOwn(c.servers, p.server)) {
        ctx.addIssue({ code: 'custom', path: ['providers', name, 'server'], message: `no server "${p.server}" under \`servers\`` });
      }
    }
    if (c.storage.kind === 'postgres' && !c.storage.postgres) {
      ctx.addIssue({ code: 'custom', path: ['storage', 'postgres', 'url'], message: 'required when storage.kind is postgres (e.g. url: ${env:SKILLGATE_DATABASE_URL})' });
    } else if (c.storage.postgres && c.storage.postgres.pollMs * 2 > c.storage.postgres.maxStalenessMs) {
      ctx.addIssue({ code: 'custom', path: ['storage', 'postgres', 'maxStalenessMs'], message: 'at least twice storage.postgres.pollMs, or a single slow poll refuses everyone' });
    }
    if (c.storage.kind === 'postgres' && c.audit.write === 'before-answer') {
      // A PostgreSQL write is a network round trip the answer would have to wait for; the
      // guarantee holds only for SQLite, whose write completes before the answer is sent.
      ctx.addIssue({ code: 'custom', path: ['audit', 'write'], message: 'before-answer needs storage.kind sqlite (a PostgreSQL write completes after the answer); use batched' });
    }
    const lifetime = parseDuration(c.tokens.lifetime);
    if (lifetime !== undefined && (lifetime < 10_000 || lifetime > 300_000)) {
      ctx.addIssue({ code: 'custom', path: ['tokens', 'lifetime'], message: 'a minted token lives between 10s and 5m' });
    }
  });

export type SkillgateConfig = z.infer<typeof configSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type StdioServerConfig = ServerConfig & { command: string };
export type GatewayConfig = z.infer<typeof gatewaySchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
export type DataLossConfig = z.infer<typeof dataLossSchema>;
export type DataLossRuleConfig = z.infer<typeof dataLossRule>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ServerAuthConfig = z.infer<typeof serverAuthSchema>;

export function isStdioServer(s: ServerConfig): s is StdioServerConfig {
  return s.command !== undefined;
}
