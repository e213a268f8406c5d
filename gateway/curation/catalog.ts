/**
 * The pinned catalog on the call path: the gateway serves an upstream tool only when it is
 * approved in `tools.lock.json` AND its current definition hashes to the pin AND the server is
 * the one approved (serverInfo name, command or URL). Everything else is withheld — listed
 * nowhere, every call refused with a stable code — until someone approves it again.
 *
 * How a change is seen: the pool drops its cached list on `notifications/tools/list_changed`
 * and tells the catalog, which lists again and compares; a list fetched for any other reason (a
 * reconnect) is compared the first time it is used. Each comparison against the last one logs
 * a warning and records `catalog.changed` audit events with the diff, and `onChange` listeners
 * (the front door) tell the clients whose visible tools changed. The lock is followed (its
 * file watched, or its PostgreSQL row: lock-source.ts): a re-approval (`skillgate curate
 * <server> --approve`) takes effect without a restart and is recorded as `catalog.approved`.
 * A replica that cannot confirm its copy of a shared lock serves nothing (fail closed).
 *
 * The check on the call path is a Map lookup and a string compare on a state computed once per
 * (tool list, lock version): hashes are never computed per call (BENCHMARKS.md).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { AuditEventInput, AuditSink } from '../../src/contracts/audit.js';
import type { Json } from '../../src/contracts/json.js';
import { isStdioServer, type ServerConfig } from '../../src/config/schema.js';
import { own } from '../../src/shared/own.js';
import type { Logger } from '../log.js';
import type { UpstreamPool, UpstreamServerInfo } from '../upstream/types.js';
import { definitionHash, diffDefinitions, type FieldChange } from './definition.js';
import { LockError, type PinLock, type ServerPins, type ToolPin } from './lock.js';
import type { LockSource } from './lock-source.js';

/** Why a tool is not served (ToolCallError codes on the call path). */
export type CatalogRefusalCode =
  /** The server does not list this tool and it was never approved: there is no such tool. */
  | 'ERR_TOOL_UNKNOWN'
  /** No pin for this tool: never approved (or its server never curated). */
  | 'ERR_TOOL_NOT_APPROVED'
  /** The server's current definition differs from the pin (a rug pull, or an update nobody approved). */
  | 'ERR_TOOL_CHANGED'
  /** The server is not the one approved (another serverInfo name, command or URL). */
  | 'ERR_TOOL_SERVER_CHANGED'
  /** A skill step's tool was approved again with another definition than the skill was compiled against. */
  | 'ERR_TOOL_CHANGED_SINCE_COMPILE'
  /** The lock file is missing or corrupt: nothing is served. */
  | 'ERR_CATALOG_UNAVAILABLE'
  /** A shared lock (PostgreSQL) this replica could not confirm current: nothing is served until it can (retryable). */
  | 'ERR_CATALOG_UNCONFIRMED';

export type ToolStatus =
  | { ok: true; tool: Tool; hash: string }
  | {
      ok: false;
      code: CatalogRefusalCode;
      /** Safe to show the agent. */
      message: string;
      /** For the log and the audit trail. */
      detail: string;
    };

/** What a tool's state is in the catalog. */
export type PinState = 'approved' | 'changed' | 'unapproved' | 'server-changed' | 'unpinnable';

interface Entry {
  tool: Tool;
  /** Undefined when the definition has no canonical form. */
  hash?: string;
  state: PinState;
  pin?: ToolPin;
}

interface ServerState {
  lockVersion: number;
  tools: readonly Tool[];
  byName: Map<string, Entry>;
  visible: Tool[];
  /** Why the whole server is withheld (identity), if it is. */
  identityProblem?: string;
  info?: UpstreamServerInfo;
}

/** One thing that changed, as the audit trail and the log tell it. */
export interface ToolChange {
  tool: string;
  /**
   * `changed`: the definition differs from the pin; `added`: a tool nobody approved appeared;
   * `removed`: an approved tool is gone; `renamed`: an approved tool came back under another
   * name (same definition otherwise); `approved`: a withheld tool is served again after approval.
   */
  kind: 'changed' | 'added' | 'removed' | 'renamed' | 'approved' | 'server-changed';
  pinned?: string;
  current?: string;
  /** For `renamed`: the name it was approved under. */
  from?: string;
  fields?: FieldChange[];
}

/** What one evaluation found: what changed, and which tools appeared in or left the visible set. */
export interface CatalogChange {
  server: string;
  changes: ToolChange[];
  shown: string[];
  hidden: string[];
}

export interface PinnedCatalogDeps {
  pool: UpstreamPool;
  /** Where the lock is: tools.lock.json (fileLockSource), or PostgreSQL (lock-postgres.ts). */
  lock: LockSource;
  /** The configured servers (their command/args or URL are part of what was approved). */
  servers: Readonly<Record<string, ServerConfig>>;
  workspace: string;
  /** Required: a change to what agents can call is always recorded. */
  audit: AuditSink;
  log: Logger;
  /** Follow the lock's changes and re-read it (default true). */
  watch?: boolean;
}

export interface CatalogStatus {
  /** `ok`, or the LockError message (how to recover included). */
  lock: 'ok' | string;
  servers: Array<{ server: string; approved: number; withheld: Array<{ tool: string; state: PinState }>; identityProblem?: string }>;
}

/** The catalog: what the gateway may serve, checked on every call and every listing. */
export interface PinnedCatalog {
  /** The call path: is this tool served, and (skill steps) is it the definition the skill was compiled against? */
  check(server: string, tool: string, expectedHash?: string): Promise<ToolStatus>;
  /** The approved tools of a server, as served (tools/list). Empty when the server or the lock is unavailable. */
  visibleTools(server: string): Promise<Tool[]>;
  /** Approved tools per server and why the others are withheld (for compiling skills against). */
  approvedTools(servers: readonly string[]): Promise<Map<string, { tools: Tool[]; withheld: Map<string, string> } | { error: string }>>;
  /**
   * Why a compiled skill cannot run now (a tool it uses is withheld, or was approved again with
   * another definition than it was compiled against), or undefined. Reads the last evaluated
   * state: call `refresh` first when there may be none (the CLI).
   */
  heldReason(tools: ReadonlyArray<{ server: string; name: string; hash?: string }>): string | undefined;
  /** List the servers again now and compare (what the pool's list-changed notification triggers). */
  refresh(servers?: readonly string[]): Promise<void>;
  /** Re-read the lock now (following its changes does this). */
  reload(): void;
  onChange(listener: (change: CatalogChange) => void): () => void;
  status(): CatalogStatus;
  close(): void;
}

/** Who the server is as the lock records it, from config + serverInfo. */
export function identityOf(cfg: ServerConfig, info: UpstreamServerInfo): ServerPins['identity'] {
  return {
    name: info.name,
    version: info.version,
    ...(info.title ? { title: info.title } : {}),
    ...(isStdioServer(cfg) ? { command: cfg.command, args: cfg.args ?? [] } : { url: cfg.url! }),
  };
}

const sameArgs = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

/** What differs between the approved identity and the current one that withholds the server (version alone does not). */
function identityMismatch(pinned: ServerPins['identity'], current: ServerPins['identity']): string | undefined {
  if (pinned.name !== current.name) return `it now says it is "${current.name}", not "${pinned.name}"`;
  if ((pinned.url ?? '') !== (current.url ?? '')) return `it is now reached at ${current.url ?? '(stdio)'}, not ${pinned.url ?? '(stdio)'}`;
  if ((pinned.command ?? '') !== (current.command ?? '') || !sameArgs(pinned.args, current.args)) {
    return `it is now started as \`${[current.command, ...(current.args ?? [])].join(' ')}\`, not \`${[pinned.command, ...(pinned.args ?? [])].join(' ')}\``;
  }
  return undefined;
}

const toJson = (v: unknown): Json => JSON.parse(JSON.stringify(v ?? null)) as Json;

/**
 * Build the catalog over a pool and a lock file.
 *
 * @example
 * const catalog = createPinnedCatalog({ pool, lockFile: loaded.path('tools.lock.json'), servers: config.servers, workspace, audit, log });
 * const s = await catalog.check('core-banking', 'get_customer'); // { ok: true, tool, hash } or a refusal
 */
export function createPinnedCatalog(deps: PinnedCatalogDeps): PinnedCatalog {
  const { pool, log, audit, workspace } = deps;
  let lock: PinLock | undefined;
  let lockError: LockError | undefined;
  let lockVersion = 0;
  const states = new WeakMap<readonly Tool[], Promise<ServerState>>();
  const last = new Map<string, ServerState>();
  const listeners = new Set<(c: CatalogChange) => void>();
  let closed = false;

  const load = (): void => {
    lockVersion++;
    try {
      lock = deps.lock.read();
      lockError = undefined;
    } catch (err) {
      if (!(err instanceof LockError)) throw err;
      lock = undefined;
      lockError = err;
      log.error('pinned tool catalog unavailable: no upstream tool is served', { event: 'catalog', code: err.code, detail: err.message });
    }
  };
  load();

  const record = (e: Omit<AuditEventInput, 'workspace'>): void => audit.record({ workspace, ...e });

  async function evaluate(server: string, tools: readonly Tool[]): Promise<ServerState> {
    const version = lockVersion;
    const pins = lock ? own(lock.servers, server) : undefined;
    const cfg = own(deps.servers, server);
    let identityProblem: string | undefined;
    let info: UpstreamServerInfo | undefined;
    if (pins && cfg) {
      info = await pool.serverInfo(server).catch(() => undefined);
      const current = info ? identityOf(cfg, info) : undefined;
      identityProblem = current ? identityMismatch(pins.identity, current) : 'its identity could not be read';
      if (!identityProblem && current && current.version !== pins.identity.version) {
        log.warn('upstream server version differs from the approved one; tool definitions are still pinned', { event: 'catalog', server, approved: pins.identity.version, current: current.version });
      }
    }
    const byName = new Map<string, Entry>();
    const visible: Tool[] = [];
    for (const tool of tools) {
      let hash: string | undefined;
      try {
        hash = definitionHash(tool as unknown as { [k: string]: unknown });
      } catch {
        hash = undefined;
      }
      const pin = pins ? own(pins.tools, tool.name) : undefined;
      const state: PinState = !hash ? 'unpinnable' : !pin ? 'unapproved' : identityProblem ? 'server-changed' : pin.hash === hash ? 'approved' : 'changed';
      byName.set(tool.name, { tool, ...(hash ? { hash } : {}), state, ...(pin ? { pin } : {}) });
      if (state === 'approved') visible.push(tool);
    }
    const st: ServerState = { lockVersion: version, tools, byName, visible, ...(identityProblem ? { identityProblem } : {}), ...(info ? { info } : {}) };
    compare(server, last.get(server), st);
    last.set(server, st);
    return st;
  }

  /** The diff between the previous evaluation and this one: log, audit, listeners. */
  function compare(server: string, before: ServerState | undefined, after: ServerState): void {
    const changes: ToolChange[] = [];
    const prevVisible = new Set(before?.visible.map((t) => t.name) ?? []);
    const nowVisible = new Set(after.visible.map((t) => t.name));
    // Approved tools that are gone from the list (removed upstream, or renamed: matched below).
    const gone = new Set(before ? [...before.byName.values()].filter((e) => e.state === 'approved' && !after.byName.has(e.tool.name)).map((e) => e.tool.name) : []);
    for (const [name, e] of after.byName) {
      const prev = before?.byName.get(name);
      const fresh = prev === undefined || prev.hash !== e.hash || prev.state !== e.state;
      if (!fresh) continue;
      if (e.state === 'approved' && prev !== undefined && prev.state !== 'approved') {
        changes.push({ tool: name, kind: 'approved', ...(e.hash ? { current: e.hash } : {}) });
      } else if (e.state === 'changed') {
        const approvedDef = prev?.state === 'approved' && prev.hash === e.pin?.hash ? prev.tool : undefined;
        changes.push({ tool: name, kind: 'changed', pinned: e.pin!.hash, ...(e.hash ? { current: e.hash } : {}), ...(approvedDef ? { fields: diffDefinitions(approvedDef as never, e.tool as never) } : {}) });
      } else if (e.state === 'unapproved' && before !== undefined && prev === undefined) {
        const renamedFrom = [...gone].find((old) => {
          const oldDef = before.byName.get(old)?.tool;
          return oldDef !== undefined && e.hash !== undefined && definitionHash({ ...oldDef, name } as never) === e.hash;
        });
        if (renamedFrom) {
          gone.delete(renamedFrom);
          changes.push({ tool: name, kind: 'renamed', from: renamedFrom, ...(e.hash ? { current: e.hash } : {}), fields: [{ field: 'name', before: renamedFrom, after: name }] });
        } else {
          changes.push({ tool: name, kind: 'added', ...(e.hash ? { current: e.hash } : {}) });
        }
      } else if (e.state === 'server-changed' && prev?.state !== 'server-changed') {
        changes.push({ tool: name, kind: 'server-changed', ...(e.pin ? { pinned: e.pin.hash } : {}), ...(e.hash ? { current: e.hash } : {}) });
      }
    }
    for (const name of gone) changes.push({ tool: name, kind: 'removed', pinned: before!.byName.get(name)!.hash! });
    const shown = [...nowVisible].filter((n) => !prevVisible.has(n));
    const hidden = [...prevVisible].filter((n) => !nowVisible.has(n));
    if (before === undefined) {
      // First sight of this server: report what is withheld once, no diff to tell.
      const withheld = [...after.byName.values()].filter((e) => e.state !== 'approved' && e.state !== 'unapproved');
      for (const e of withheld) log.warn('tool withheld: it differs from its approved definition', { event: 'catalog', server, tool: e.tool.name, state: e.state, ...(after.identityProblem ? { detail: after.identityProblem } : {}) });
      return;
    }
    if (!changes.length && !shown.length && !hidden.length) return;
    for (const c of changes) {
      if (c.kind === 'approved') {
        const pin = after.byName.get(c.tool)?.pin;
        log.info('tool approved again: served', { event: 'catalog', server, tool: c.tool, hash: c.current, approvedBy: pin?.approvedBy });
        record({ kind: 'catalog.approved', outcome: 'allow', reason: 'ok', server, tool: c.tool, detail: { hash: c.current ?? null, approvedBy: pin?.approvedBy ?? null, approvedAt: pin?.approvedAt ?? null, source: 'lock-file' } });
        continue;
      }
      const code: CatalogRefusalCode = c.kind === 'server-changed' ? 'ERR_TOOL_SERVER_CHANGED' : c.kind === 'removed' ? 'ERR_TOOL_NOT_APPROVED' : c.kind === 'changed' ? 'ERR_TOOL_CHANGED' : 'ERR_TOOL_NOT_APPROVED';
      log.warn(`tool withheld: upstream definition ${c.kind}`, {
        event: 'catalog',
        server,
        tool: c.tool,
        change: c.kind,
        ...(c.from ? { from: c.from } : {}),
        ...(c.pinned ? { pinned: c.pinned } : {}),
        ...(c.current ? { current: c.current } : {}),
        ...(c.fields ? { fields: c.fields.map((f) => f.field) } : {}),
        ...(after.identityProblem ? { detail: after.identityProblem } : {}),
      });
      record({
        kind: 'catalog.changed',
        outcome: c.kind === 'removed' ? 'info' : 'deny',
        reason: code,
        server,
        tool: c.tool,
        decision: { stage: 'catalog pin' },
        detail: {
          change: c.kind,
          ...(c.from ? { from: c.from } : {}),
          ...(c.pinned ? { pinned: c.pinned } : {}),
          ...(c.current ? { current: c.current } : {}),
          ...(c.fields ? { diff: c.fields.map((f) => ({ field: f.field, ...(f.before !== undefined ? { before: toJson(f.before) } : {}), ...(f.after !== undefined ? { after: toJson(f.after) } : {}) })) } : {}),
          ...(after.identityProblem ? { server: after.identityProblem } : {}),
        },
      });
    }
    const change: CatalogChange = { server, changes, shown, hidden };
    for (const l of listeners) {
      try {
        l(change);
      } catch (err) {
        log.error('catalog change listener failed', { error: (err as Error).message });
      }
    }
  }

  async function stateOf(server: string): Promise<ServerState> {
    const tools = await pool.listTools(server);
    const cached = states.get(tools);
    if (cached) {
      const st = await cached;
      if (st.lockVersion === lockVersion) return st;
    }
    const p = evaluate(server, tools);
    states.set(tools, p);
    p.catch(() => states.delete(tools));
    return p;
  }

  const unavailable = (): ToolStatus => ({
    ok: false,
    code: 'ERR_CATALOG_UNAVAILABLE',
    message: "is not available: the gateway's tool catalog cannot be read",
    detail: lockError?.message ?? 'the catalog is closed',
  });

  const refusal = (server: string, tool: string, st: ServerState): ToolStatus => {
    const e = st.byName.get(tool);
    const pin = lock ? own(lock.servers, server) : undefined;
    const approve = `skillgate curate ${server} --approve ${tool}`;
    if (!e) {
      // Not listed by the server now: unknown, unless it was approved (then it was removed or renamed upstream).
      return pin && own(pin.tools, tool)
        ? { ok: false, code: 'ERR_TOOL_NOT_APPROVED', message: 'is withheld: the server no longer offers the approved tool', detail: `${server}.${tool} is pinned but the server does not list it (removed or renamed upstream)` }
        : { ok: false, code: 'ERR_TOOL_UNKNOWN', message: 'is not a tool of this server', detail: `${server} does not list ${tool}` };
    }
    switch (e.state) {
      case 'changed':
        return { ok: false, code: 'ERR_TOOL_CHANGED', message: 'is withheld: its definition changed since it was approved; an operator must review and approve it again', detail: `${server}.${tool}: pinned ${e.pin!.hash}, now ${e.hash}; ${approve}` };
      case 'server-changed':
        return { ok: false, code: 'ERR_TOOL_SERVER_CHANGED', message: 'is withheld: its server changed since it was approved; an operator must review and approve it again', detail: `${server}: ${st.identityProblem}; skillgate curate ${server} --approve` };
      case 'unpinnable':
        return { ok: false, code: 'ERR_TOOL_NOT_APPROVED', message: 'is not an approved tool', detail: `${server}.${tool}: its definition has no canonical JSON form and cannot be pinned` };
      default:
        return { ok: false, code: 'ERR_TOOL_NOT_APPROVED', message: 'is not an approved tool', detail: `${server}.${tool} has no pin in ${deps.lock.name}; ${approve}` };
    }
  };

  const reloadAndCompare = (): void => {
    if (closed) return;
    load();
    for (const server of [...last.keys()]) void stateOf(server).catch(() => {});
  };
  const unwatch = (deps.watch ?? true) ? deps.lock.watch(reloadAndCompare) : () => {};
  const unsubscribe = pool.onToolListChanged((server) => {
    if (!closed) void stateOf(server).catch((err: unknown) => log.warn('upstream unavailable while checking its changed tool list', { event: 'catalog', server, error: (err as Error).message }));
  });

  return {
    async check(server, tool, expectedHash) {
      if (!lock || closed) return unavailable();
      // A copy that could not be confirmed current (PostgreSQL unreachable): fail closed, retryably.
      const stale = deps.lock.problem();
      if (stale) return { ok: false, code: 'ERR_CATALOG_UNCONFIRMED', message: "is not available right now: the gateway's tool catalog cannot be confirmed current; try again shortly", detail: stale.message };
      const st = await stateOf(server);
      const e = st.byName.get(tool);
      if (!e || e.state !== 'approved') return refusal(server, tool, st);
      if (expectedHash !== undefined && expectedHash !== e.hash) {
        return {
          ok: false,
          code: 'ERR_TOOL_CHANGED_SINCE_COMPILE',
          message: 'is withheld for this skill: the tool was approved again with another definition than the skill was compiled against; the skill must be validated again',
          detail: `${server}.${tool}: compiled against ${expectedHash}, approved ${e.hash}`,
        };
      }
      return { ok: true, tool: e.tool, hash: e.hash! };
    },

    async visibleTools(server) {
      if (!lock || closed || deps.lock.problem()) return [];
      return (await stateOf(server)).visible;
    },

    async approvedTools(servers) {
      const out = new Map<string, { tools: Tool[]; withheld: Map<string, string> } | { error: string }>();
      await Promise.all(
        servers.map(async (s) => {
          if (!lock) {
            out.set(s, { error: lockError?.message ?? 'the catalog is closed' });
            return;
          }
          try {
            const st = await stateOf(s);
            const withheld = new Map<string, string>();
            for (const [name, e] of st.byName) {
              if (e.state === 'approved') continue;
              const r = refusal(s, name, st);
              if (!r.ok) withheld.set(name, `${r.message} (${r.detail})`);
            }
            out.set(s, { tools: st.visible, withheld });
          } catch (err) {
            out.set(s, { error: (err as Error).message });
          }
        }),
      );
      return out;
    },

    heldReason(tools) {
      if (!lock) return `the tool catalog is unavailable (${lockError?.message ?? 'closed'})`;
      for (const t of tools) {
        const st = last.get(t.server);
        const e = st?.byName.get(t.name);
        if (!st || !e) return `its tool ${t.server}.${t.name} is not served${st ? ' (the server no longer lists it)' : ''}`;
        if (e.state !== 'approved') {
          const r = refusal(t.server, t.name, st);
          return `its tool ${t.server}.${t.name} ${r.ok ? 'is withheld' : r.message}`;
        }
        if (t.hash !== undefined && t.hash !== e.hash) return `its tool ${t.server}.${t.name} was approved again with another definition than the skill was compiled against; it is offered again once it is validated against it`;
      }
      return undefined;
    },

    async refresh(servers = pool.servers()) {
      await Promise.all(servers.map((s) => stateOf(s).catch(() => undefined)));
    },

    reload: reloadAndCompare,
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },

    status() {
      return {
        lock: lockError ? lockError.message : 'ok',
        servers: [...last.entries()].map(([server, st]) => ({
          server,
          approved: st.visible.length,
          withheld: [...st.byName.values()].filter((e) => e.state !== 'approved').map((e) => ({ tool: e.tool.name, state: e.state })),
          ...(st.identityProblem ? { identityProblem: st.identityProblem } : {}),
        })),
      };
    },

    close() {
      closed = true;
      unwatch();
      unsubscribe();
    },
  };
}
