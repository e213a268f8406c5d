/**
 * The visibility half of the AND-gate: what a gateway exposes at all, from skillgate.yaml.
 * It is config rather than Cedar because it answers a different question — what exists on
 * this front door (it shapes `tools/list`), not who may use it — and it is checked before
 * any identity is evaluated. Policies can still narrow by gateway through `context.gateway`.
 */
import type { GatewayConfig } from '../../src/config/schema.js';
import { globMatcher } from '../../src/shared/glob.js';


/**
 * Whether the gateway exposes the tool `<server>.<tool>`: some entry of its `tools` matches.
 * @example visibleOnGateway({ tools: ['hr.*'], … }, 'hr', 'get_employee') // true
 */
export function visibleOnGateway(gateway: Pick<GatewayConfig, 'tools'>, server: string, tool: string): boolean {
  const name = `${server}.${tool}`;
  return gateway.tools.some((p) => globMatcher(p)(name));
}

/** Whether the gateway exposes the skill (by folder name) as an MCP tool. */
export function skillVisibleOnGateway(gateway: Pick<GatewayConfig, 'skills'>, skill: string): boolean {
  return gateway.skills.includes(skill);
}
