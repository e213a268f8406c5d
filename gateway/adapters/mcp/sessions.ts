/**
 * MCP sessions of the front door, each bound to the (user, agent, gateway) that opened it:
 * a session id presented with another identity's token is refused, so a leaked session id
 * is useless without the same user's token.
 *
 * Bounded: at most `perOwner` sessions per (gateway, user, agent) — opening one more closes
 * that owner's oldest (a client that lost its session id re-initializes; one token cannot
 * pile up sessions, and nobody else's are touched) — and `total` in all, past which new ones
 * are refused (503) until idle ones are swept.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Principal } from '../../../src/contracts/principal.js';
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

export interface SessionLimits {
  perOwner: number;
  total: number;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  /** Owner → its session ids, oldest first (Set keeps insertion order). */
  private readonly byOwner = new Map<string, Set<string>>();

  constructor(private readonly limits: SessionLimits = { perOwner: 16, total: 10_000 }) {}

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /** No room for another session. */
  full(): boolean {
    return this.sessions.size >= this.limits.total;
  }

  /** Add a session; returns the owner's oldest one if it had to be closed to make room. */
  add(s: Session): Session | undefined {
    let mine = this.byOwner.get(s.owner);
    if (!mine) this.byOwner.set(s.owner, (mine = new Set()));
    let evicted: Session | undefined;
    if (mine.size >= this.limits.perOwner) {
      const oldest = mine.values().next().value as string;
      evicted = this.sessions.get(oldest);
      this.delete(oldest);
      void evicted?.server.close().catch(() => {});
    }
    this.sessions.set(s.id, s);
    mine.add(s.id);
    return evicted;
  }

  delete(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    const mine = this.byOwner.get(s.owner);
    mine?.delete(id);
    if (mine?.size === 0) this.byOwner.delete(s.owner);
  }

  /** Open sessions of one owner (tests, metrics). */
  countOf(owner: string): number {
    return this.byOwner.get(owner)?.size ?? 0;
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
    this.byOwner.clear();
    await Promise.all(all.map((s) => s.server.close().catch(() => {})));
  }

  /** Close sessions idle for longer than `maxIdleMs`. */
  async sweep(maxIdleMs: number, now = Date.now()): Promise<number> {
    const stale = [...this.sessions.values()].filter((s) => now - s.lastSeen > maxIdleMs);
    for (const s of stale) this.delete(s.id);
    await Promise.all(stale.map((s) => s.server.close().catch(() => {})));
    return stale.length;
  }
}
