/**
 * DNS-rebinding protection (MCP transport spec, "Security Warning"): a browser page on another
 * origin must not be able to reach a gateway on loopback by re-pointing its own hostname.
 * The Host header must name this server; an Origin header, when sent, must be allowed.
 */

export interface HostPolicy {
  hosts: Set<string>;
  origins: Set<string>;
}

/** Allowed hosts/origins for a server reachable at `publicUrl` and on loopback `port`. */
export function hostPolicy(publicUrl: string, port: number, extraOrigins: string[] = []): HostPolicy {
  const pub = new URL(publicUrl);
  const hosts = new Set<string>([pub.host.toLowerCase()]);
  const origins = new Set<string>([pub.origin.toLowerCase(), ...extraOrigins.map((o) => o.toLowerCase())]);
  for (const h of ['127.0.0.1', 'localhost', '[::1]']) {
    hosts.add(`${h}:${port}`);
    origins.add(`http://${h}:${port}`);
  }
  return { hosts, origins };
}

/** Undefined when allowed, else the reason (for the log; the client gets a plain 403). */
export function checkHost(policy: HostPolicy, host: string | undefined, origin: string | undefined): string | undefined {
  if (!host || !policy.hosts.has(host.toLowerCase())) return `Host "${host ?? ''}" is not this server`;
  if (origin !== undefined && origin !== 'null' && !policy.origins.has(origin.toLowerCase())) return `Origin "${origin}" is not allowed`;
  if (origin === 'null') return 'Origin "null" is not allowed';
  return undefined;
}
