/**
 * The data-loss filters of a workspace, as the tool-call pipeline needs them: each gateway's
 * rules resolved per tool (cached), and the log every filtered call writes one line to.
 */
import { LRUCache } from 'lru-cache';
import type { GatewayConfig } from '../../src/config/schema.js';
import type { Logger } from '../log.js';
import { own } from '../../src/shared/own.js';
import { loadDetectors } from './detectors.js';
import { NO_RULES, resolveToolRules, type ToolRules } from './rules.js';

export interface DataLossFilters {
  /** The rules for calls of `server.tool` on `gateway` (an unknown gateway throws). */
  rulesFor(gateway: string, server: string, tool: string): ToolRules;
  /** Where each filtered or refused call is logged (never a matched value). */
  log: Logger;
}

/**
 * Build the filters from the workspace's gateways.
 *
 * @example const dataLoss = createDataLossFilters(config.gateways, log);
 */
export function createDataLossFilters(gateways: Readonly<Record<string, GatewayConfig>>, log: Logger): DataLossFilters {
  if (Object.values(gateways).some((g) => g.dataLoss)) loadDetectors();
  // Keyed by resolved tools (the pipeline resolves the tool first), so bounded by the catalogs.
  const cache = new LRUCache<string, ToolRules>({ max: 10_000 });
  return {
    log,
    rulesFor(gateway, server, tool) {
      // Most gateways have no rules: answered without building a key.
      const gw = own(gateways, gateway);
      if (gw && !gw.dataLoss) return NO_RULES;
      const key = `${gateway}\u0000${server}\u0000${tool}`;
      let r = cache.get(key);
      if (!r) {
        r = resolveToolRules(gateways, gateway, server, tool);
        cache.set(key, r);
      }
      return r;
    },
  };
}
