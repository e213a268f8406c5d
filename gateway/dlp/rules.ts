/**
 * A gateway's data-loss rules, resolved once per (gateway, server, tool): which detectors to
 * scan the arguments and the result for, and what each does on a match. From
 * `gateways.<g>.dataLoss` (docs/config.md): `rules` by detector, then every `tools` pattern
 * that matches `<server>.<tool>`, in the order written (a later one wins for the same detector).
 * A detector whose action is `allow` is not scanned for at all.
 */
import type { DataLossAction, DataLossDetector, DataLossSide } from '../../src/contracts/data-loss.js';
import type { DataLossConfig, DataLossRuleConfig, GatewayConfig } from '../../src/config/schema.js';
import { globMatcher } from '../../src/shared/glob.js';
import { own } from '../../src/shared/own.js';
import { DETECTORS } from './detectors.js';

/** What one detector does on one side of a call, and the config key that said so. */
export interface ResolvedRule {
  action: Exclude<DataLossAction, 'allow'>;
  /** Key path of the deciding rule, e.g. `gateways.credit-desk.dataLoss.rules.card-number`. */
  source: string;
}

/** The rules of one side of one tool's calls: detector → rule (allowed detectors absent). */
export interface SideRules {
  rules: ReadonlyMap<DataLossDetector, ResolvedRule>;
  /** The detectors to scan for (the map's keys). */
  detectors: ReadonlySet<DataLossDetector>;
}

/** Everything the filters need for one tool on one gateway. */
export interface ToolRules {
  arguments: SideRules;
  result: SideRules;
  phoneRegion?: string;
}

const NOTHING: SideRules = { rules: new Map(), detectors: new Set() };
/** The rules of a gateway without `dataLoss`: nothing to scan. */
export const NO_RULES: ToolRules = { arguments: NOTHING, result: NOTHING };

function actionOn(rule: DataLossRuleConfig, side: DataLossSide): DataLossAction | undefined {
  if (typeof rule === 'string') return rule;
  return side === 'arguments' ? rule.arguments : rule.results;
}

function sideRules(dl: DataLossConfig, gateway: string, toolName: string, side: DataLossSide): SideRules {
  const decided = new Map<DataLossDetector, { action: DataLossAction; source: string }>();
  const apply = (rules: DataLossConfig['rules'], keyPath: string) => {
    for (const detector of DETECTORS) {
      const rule = rules[detector];
      if (rule === undefined) continue;
      const action = actionOn(rule, side);
      if (action !== undefined) decided.set(detector, { action, source: `${keyPath}.${detector}` });
    }
  };
  apply(dl.rules, `gateways.${gateway}.dataLoss.rules`);
  for (const [pattern, rules] of Object.entries(dl.tools)) {
    if (globMatcher(pattern)(toolName)) apply(rules, `gateways.${gateway}.dataLoss.tools["${pattern}"]`);
  }
  const rules = new Map<DataLossDetector, ResolvedRule>();
  for (const [detector, r] of decided) if (r.action !== 'allow') rules.set(detector, { action: r.action, source: r.source });
  return rules.size ? { rules, detectors: new Set(rules.keys()) } : NOTHING;
}

/**
 * The rules for calls of `server.tool` on `gateway`. Fails closed: a gateway that is not in
 * the config is an error, never "no rules".
 *
 * @example resolveToolRules(config.gateways, 'credit-desk', 'core-banking', 'get_customer').result.detectors // Set { 'card-number' }
 */
export function resolveToolRules(gateways: Readonly<Record<string, GatewayConfig>>, gateway: string, server: string, tool: string): ToolRules {
  const gw = own(gateways, gateway);
  if (!gw) throw new Error(`data-loss rules: unknown gateway "${gateway.slice(0, 64)}"`);
  const dl = gw.dataLoss;
  if (!dl) return NO_RULES;
  const name = `${server}.${tool}`;
  const args = sideRules(dl, gateway, name, 'arguments');
  const result = sideRules(dl, gateway, name, 'result');
  if (args === NOTHING && result === NOTHING) return NO_RULES;
  return { arguments: args, result, ...(dl.phoneRegion ? { phoneRegion: dl.phoneRegion } : {}) };
}
