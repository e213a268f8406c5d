/**
 * `skillgate.disconnect` — the user's own revocation of a downstream grant, as an MCP tool on
 * every gateway that exposes a provider's tools: forgets the grant for (this user, this agent,
 * provider) and revokes it at the provider (RFC 7009). Only ever the caller's own grant.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { SkillgateConfig } from '../../../src/config/schema.js';
import type { Json } from '../../../src/contracts/json.js';
import type { Principal } from '../../../src/contracts/principal.js';
import { globMatcher } from '../../../src/shared/glob.js';
import { own } from '../../../src/shared/own.js';
import type { CredentialService } from '../../downstream/credentials.js';
import { DownstreamError } from '../../downstream/errors.js';

export const DISCONNECT_TOOL = 'skillgate.disconnect';

/** The providers whose tools a gateway exposes. */
export function gatewayProviders(config: SkillgateConfig, gateway: string): string[] {
  const gw = own(config.gateways, gateway);
  if (!gw) return [];
  const servers = Object.entries(config.servers).filter(([name]) => gw.tools.some((p) => globMatcher(p.slice(0, p.indexOf('.')))(name)));
  return [...new Set(servers.flatMap(([, s]) => (s.auth?.provider ? [s.auth.provider] : [])))].sort();
}

/** The tool's definition on a gateway (undefined when it exposes no provider). */
export function disconnectTool(config: SkillgateConfig, gateway: string): Tool | undefined {
  const providers = gatewayProviders(config, gateway);
  if (!providers.length) return undefined;
  return {
    name: DISCONNECT_TOOL,
    description: 'Disconnect one of your services: Skillgate forgets your grant for it (for this agent) and revokes it at the service. The next call that needs it asks you again.',
    inputSchema: { type: 'object', properties: { provider: { type: 'string', enum: providers } }, required: ['provider'] },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  };
}

export async function callDisconnect(credentials: CredentialService, config: SkillgateConfig, principal: Principal, gateway: string, args: { [k: string]: Json }): Promise<CallToolResult> {
  const provider = typeof args.provider === 'string' ? args.provider : '';
  if (!gatewayProviders(config, gateway).includes(provider)) return { content: [{ type: 'text', text: `${DISCONNECT_TOOL}: \`provider\` must be one of ${gatewayProviders(config, gateway).join(', ')}` }], isError: true };
  try {
    const r = await credentials.disconnect({ workspace: config.workspace, user: principal.user.id, agent: principal.agent.id, provider }, 'user');
    const name = credentials.providerName(provider);
    const text = !r.removed ? `${name} was not connected.` : r.revokedAtProvider ? `${name} is disconnected and the grant revoked there.` : `${name} is disconnected (it offers no revocation; remove the access there too).`;
    return { content: [{ type: 'text', text }], structuredContent: { provider, disconnected: r.removed, revokedAtProvider: r.revokedAtProvider } };
  } catch (err) {
    if (err instanceof DownstreamError) return { content: [{ type: 'text', text: `${DISCONNECT_TOOL}: forgotten here, but ${err.message}` }], isError: true };
    throw err;
  }
}
