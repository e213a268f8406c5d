/**
 * How a gateway names what its servers offer. Prefixed (the default): `<server>.<tool>`,
 * `<server>.<prompt>` and resource URIs `<server>+<uri>` (a server id has no `+`, so the
 * first `+` splits, and a URI template stays a template: `fs+file:///{path}`). Unprefixed
 * (`prefix: false`): the gateway fronts one server and passes its names through.
 */
import type { GatewayConfig } from '../../../src/config/schema.js';

export interface Naming {
  tool(server: string, name: string): string;
  prompt(server: string, name: string): string;
  resource(server: string, uri: string): string;
  /** The server and upstream name behind an exposed tool name; undefined when it cannot be one. */
  parseTool(name: string): { server: string; name: string } | undefined;
  parsePrompt(name: string): { server: string; name: string } | undefined;
  parseResource(uri: string): { server: string; uri: string } | undefined;
}

/** The server a gateway with `prefix: false` fronts (the config guarantees there is exactly one). */
function soleServer(gw: Pick<GatewayConfig, 'tools' | 'prompts' | 'resources'>): string {
  const first = [...gw.tools, ...gw.prompts, ...gw.resources][0] ?? '';
  const dot = first.indexOf('.');
  return dot < 0 ? first : first.slice(0, dot);
}

export function namingOf(gw: Pick<GatewayConfig, 'tools' | 'prompts' | 'resources' | 'prefix'>): Naming {
  if (!gw.prefix) {
    const server = soleServer(gw);
    return {
      tool: (_s, n) => n,
      prompt: (_s, n) => n,
      resource: (_s, u) => u,
      parseTool: (name) => ({ server, name }),
      parsePrompt: (name) => ({ server, name }),
      parseResource: (uri) => ({ server, uri }),
    };
  }
  const split = (name: string, sep: string) => {
    const i = name.indexOf(sep);
    return i <= 0 || i === name.length - 1 ? undefined : { server: name.slice(0, i), name: name.slice(i + 1) };
  };
  return {
    tool: (s, n) => `${s}.${n}`,
    prompt: (s, n) => `${s}.${n}`,
    resource: (s, u) => `${s}+${u}`,
    parseTool: (name) => split(name, '.'),
    parsePrompt: (name) => split(name, '.'),
    parseResource: (uri) => {
      const p = split(uri, '+');
      return p && { server: p.server, uri: p.name };
    },
  };
}
