import type { Allowed, Authorizer } from '../../gateway/authz/authorizer.js';
import type { PinnedCatalog } from '../../gateway/curation/catalog.js';
import { definitionHash } from '../../gateway/curation/definition.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import type { DataLossFilters } from '../../gateway/dlp/filters.js';
import { NO_RULES } from '../../gateway/dlp/rules.js';
import { silentLogger } from '../../gateway/log.js';

/** What a stand-in authorizer answers for an allowed action (no decision was recorded: no real id). */
export const ALLOWED: Allowed = { decisionId: 'test-allow-all', args: { digest: 'sha256:not-recorded' } };

/**
 * The AND-gate replaced by "allow everything", for interpreter tests that are not about
 * authorization. Said explicitly: the activities cannot be built without an authorizer.
 */
export const ALLOW_ALL: Authorizer = { check: () => ALLOWED, admit() {}, canList: () => true };

/**
 * The pinned catalog replaced by "every tool the server lists is approved", for interpreter
 * tests that are not about curation. Said explicitly: the pipeline cannot be built without a
 * catalog. Gateway tests use the real one (test/helpers/catalog.ts).
 */
export function approveEverything(pool: UpstreamPool): PinnedCatalog {
  const find = async (server: string, tool: string) => (await pool.listTools(server)).find((t) => t.name === tool);
  return {
    async check(server, tool) {
      const t = await find(server, tool);
      return t ? { ok: true, tool: t, hash: definitionHash(t as never) } : { ok: false, code: 'ERR_TOOL_NOT_APPROVED', message: 'is not listed', detail: `${server} does not list ${tool}` };
    },
    visibleTools: (server) => pool.listTools(server),
    async approvedTools(servers) {
      return new Map(await Promise.all(servers.map(async (s) => [s, { tools: await pool.listTools(s), withheld: new Map<string, string>() }] as const)));
    },
    heldReason: () => undefined,
    refresh: async () => {},
    reload() {},
    onChange: () => () => {},
    status: () => ({ lock: 'ok', servers: [] }),
    close() {},
  };
}

/**
 * No data-loss rules on any gateway, for interpreter tests whose runs name gateways the test
 * config need not define. Said explicitly: the pipeline cannot be built without filters.
 */
export const NO_DATA_LOSS: DataLossFilters = { rulesFor: () => NO_RULES, log: silentLogger };
