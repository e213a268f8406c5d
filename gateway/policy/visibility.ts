/**
 * The visibility half of the AND-gate: what a gateway exposes at all, from skillgate.yaml.
 * It is config rather than Cedar because it answers a different question — what exists on
 * this front door (it shapes `tools/list`), not who may use it — and it is checked before
 * any identity is evaluated. Policies can still narrow by gateway through `context.gateway`.
 */
import type { GatewayConfig } from '../../src/config/schema.js';

const compiled = new Map<string, RegExp>();

/** `core-banking.*` → /^core-banking\..*$/ (`*` matches any run of characters, dots included). */
function patternRegex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * Whether the gateway exposes the tool `<server>.<tool>`: some entry of its `tools` matches.
 * @example visibleOnGateway({ tools: ['hr.*'], … }, 'hr', 'get_employee') // true
 */
export function visibleOnGateway(gateway: Pick<GatewayConfig, 'tools'>, server: string, tool: string): boolean {
  const name = `${server}.${tool}`;
  return gateway.tools.some((p) => patternRegex(p).test(name));
}

/** Whether the gateway exposes the skill (by folder name) as an MCP tool. */
export function skillVisibleOnGateway(gateway: Pick<GatewayConfig, 'skills'>, skill: string): boolean {
  return gateway.skills.includes(skill);
}
