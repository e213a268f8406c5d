/**
 * The visibility half of the AND-gate: what a gateway exposes at all, from skillgate.yaml.
 * It is config rather than Cedar because it answers a different question — what exists on
 * this front door (it shapes `tools/list`), not who may use it — and it is checked before
 * any identity is evaluated. Policies can still narrow by gateway through `context.gateway`.
 */
import type { GatewayConfig } from '../../src/config/schema.js';
import { globMatcher } from '../../src/shared/glob.js';
import type { PolicyResource } from './model.js';


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

/**
 * Whether the gateway exposes this resource at all: a tool, prompt or skill by its pattern
 * lists, a resource by its server (each URI is then decided by policy).
 */
export function exposedOnGateway(gateway: Pick<GatewayConfig, 'tools' | 'resources' | 'prompts' | 'skills'>, r: PolicyResource): boolean {
  switch (r.type) {
    case 'tool':
      return visibleOnGateway(gateway, r.server, r.tool);
    case 'resource':
      return gateway.resources.some((p) => globMatcher(p)(r.server));
    case 'prompt':
      return gateway.prompts.some((p) => globMatcher(p)(`${r.server}.${r.prompt}`));
    case 'skill':
      return skillVisibleOnGateway(gateway, r.name);
  }
}

/** How a resource is named to people (messages, logs): `tool "hr.get_employee"`, `resource "fs+file:///a"`. */
export function describeResource(r: PolicyResource): string {
  switch (r.type) {
    case 'tool':
      return `tool "${r.server}.${r.tool}"`;
    case 'resource':
      return `resource "${r.uri.slice(0, 200)}" of ${r.server}`;
    case 'prompt':
      return `prompt "${r.server}.${r.prompt}"`;
    case 'skill':
      return `skill "${r.name}"`;
  }
}
