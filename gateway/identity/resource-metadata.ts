/**
 * The OAuth 2.0 Protected Resource Metadata (RFC 9728) of a gateway: how an MCP client learns,
 * from a 401, which authorization server issues tokens for `<publicUrl>/mcp/<gateway>` and that
 * tokens go in the Authorization header only.
 */
import type { SkillgateConfig } from '../../src/config/schema.js';

/** The scopes a gateway names in challenges and metadata. Informational: authorization is Cedar's. */
export const GATEWAY_SCOPES: readonly string[] = ['openid', 'mcp'];

/**
 * `<publicUrl>/mcp/<gateway>`: the RFC 8707 resource indicator a token must be minted for
 * (its `aud`). Example: `resourceUrl('http://127.0.0.1:8787', 'hr-desk')` →
 * `http://127.0.0.1:8787/mcp/hr-desk`.
 */
export function resourceUrl(publicUrl: string, gateway: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/mcp/${gateway}`;
}

/** `<publicUrl>/admin`: the resource the admin page's tokens are for (their `aud`). */
export function adminResourceUrl(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/admin`;
}

/**
 * Where the metadata of a gateway is served. RFC 9728 §3.1: the well-known segment goes between
 * the host and the resource's path, so `http://h/mcp/hr-desk` →
 * `http://h/.well-known/oauth-protected-resource/mcp/hr-desk`.
 */
export function resourceMetadataUrl(publicUrl: string, gateway: string): string {
  const u = new URL(resourceUrl(publicUrl, gateway));
  return `${u.origin}${RESOURCE_METADATA_PREFIX}${u.pathname}`;
}

/** The path prefix of RFC 9728 metadata documents (RFC 9728 §3). */
export const RESOURCE_METADATA_PREFIX = '/.well-known/oauth-protected-resource';

/** The RFC 9728 §2 document; only the members Skillgate fills. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  /** RFC 6750 §2.1 only: query and body tokens are refused. */
  bearer_methods_supported: ['header'];
  resource_name: string;
}

/**
 * The metadata of one gateway, or undefined when the config has no such gateway. The
 * authorization servers are the configured issuers (the dev IdP appears there when the runtime
 * adds it; see `devIssuer`).
 */
export function protectedResourceMetadata(config: SkillgateConfig, gateway: string): ProtectedResourceMetadata | undefined {
  const gw = Object.hasOwn(config.gateways, gateway) ? config.gateways[gateway] : undefined;
  if (!gw) return undefined;
  const servers = config.identity.issuers.map((i) => i.issuer);
  const dev = `${config.publicUrl.replace(/\/+$/, '')}/idp`;
  if (config.identity.devIdp && !servers.includes(dev)) servers.push(dev);
  return {
    resource: resourceUrl(config.publicUrl, gateway),
    authorization_servers: servers,
    scopes_supported: [...GATEWAY_SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: gw.description ?? `Skillgate gateway ${gateway}`,
  };
}
