/**
 * MCP sessions of the front door, each bound to the (user, agent, gateway) that opened it:
 * a session id presented with another identity's token is refused, so a leaked session id
 * is useless without the same user's token.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Principal } from '../identity/principal.js';
import type { HttpServerTransport } from './http-transport.js';

export interface Session {
  id: string;
  gateway: string;
  /** `user|agent` of the principal that initialized the session. */
  owner: string;
  transport: HttpServerTransport;
  server: Server;
  lastSeen: number;
}

export function ownerKey(p: Principal, gateway: string): string {
  return `${gateway}\u0000${p.user.id}\u0000${p.agent.id}`;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  add(s: Session): void {
    this.sessions.set(s.id, s);
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  all(): Session[] {
    return [...this.sessions.values()];
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Close every session (server shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.server.close().catch(() => {})));
  }

  /** Close sessions idle for longer than `maxIdleMs`. */
  async sweep(maxIdleMs: number, now = Date.now()): Promise<number> {
    const stale = [...this.sessions.values()].filter((s) => now - s.lastSeen > maxIdleMs);
    for (const s of stale) this.sessions.delete(s.id);
    await Promise.all(stale.map((s) => s.server.close().catch(() => {})));
    return stale.length;
  }
}
