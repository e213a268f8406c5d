/**
 * The real tool lists of the configured upstream servers, as the compiler checks skills
 * against them.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';

/**
 * server name → its tools, or why they could not be listed. Built from the pinned catalog, it
 * holds only approved tools, and `withheld` says why each other one is not there.
 */
export type ToolCatalog = Map<string, { tools: Tool[]; withheld?: ReadonlyMap<string, string> } | { error: string }>;

/** List every server's tools once (in parallel); unreachable servers are recorded, not thrown. */
export async function fetchCatalog(pool: UpstreamPool, servers: string[] = pool.servers()): Promise<ToolCatalog> {
  const entries = await Promise.all(
    servers.map(async (s): Promise<[string, { tools: Tool[] } | { error: string }]> => {
      try {
        return [s, { tools: await pool.listTools(s) }];
      } catch (err) {
        return [s, { error: (err as Error).message }];
      }
    }),
  );
  return new Map(entries);
}

/** A catalog built from literal tool lists (tests, offline checks). */
export function catalogOf(servers: Record<string, Tool[]>): ToolCatalog {
  return new Map(Object.entries(servers).map(([s, tools]) => [s, { tools }]));
}
