/**
 * `requestState` of MCP 2026-07-28 multi round-trip requests (basic/patterns/mrtr): the opaque
 * string a server hands the client with an `input_required` result and gets back on the retry.
 * The spec: "servers MUST treat requestState as an attacker-controlled input … MUST protect its
 * integrity … SHOULD include the authenticated principal, a short expiry, an identifier for the
 * originating request". Skillgate's is AES-256-GCM sealed (so an upstream server's own state,
 * carried inside, is neither readable nor changeable by the client), bound as additional data
 * to (user, agent, gateway, method, name), with an expiry inside.
 *
 * Key: derived with HKDF-SHA-256 from the workspace's run key (run-key.ts), which every gateway
 * replica already shares — so a retry may reach any replica.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Json } from '../../src/contracts/json.js';
import type { Principal } from '../../src/contracts/principal.js';

/** Why a request state was refused. */
export type RequestStateErrorCode = 'ERR_STATE_MALFORMED' | 'ERR_STATE_FORGED' | 'ERR_STATE_EXPIRED';

export class RequestStateError extends Error {
  constructor(
    readonly code: RequestStateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RequestStateError';
  }
}

/** What a sealed state is bound to: the request it may be presented with, by whom. */
export interface StateBinding {
  principal: Principal;
  gateway: string;
  /** `tools/call`, `resources/read`, `prompts/get`. */
  method: string;
  /** The tool or prompt name, or the resource URI, as the client sent it. */
  name: string;
}

export interface RequestStateCodec {
  /** Seal `data` for a retry of exactly this request by this principal, valid for `ttlMs`. */
  seal(binding: StateBinding, data: Json, ttlMs?: number): string;
  /** The data of a state sealed for this binding; throws RequestStateError otherwise. */
  open(binding: StateBinding, state: string, now?: number): Json;
}

const VERSION = 1;
const DEFAULT_TTL_MS = 15 * 60_000;

/**
 * @example
 * const codec = createRequestStateCodec(runKey);
 * const s = codec.seal({ principal, gateway: 'hr-desk', method: 'tools/call', name: 'hr.x' }, { up: 'abc' });
 * codec.open({ principal, gateway: 'hr-desk', method: 'tools/call', name: 'hr.x' }, s) // { up: 'abc' }
 */
export function createRequestStateCodec(runKey: Uint8Array): RequestStateCodec {
  const key = Buffer.from(hkdfSync('sha256', runKey, Buffer.alloc(0), 'skillgate/mcp-request-state/v1', 32));
  const aad = (b: StateBinding) => Buffer.from(JSON.stringify([VERSION, b.principal.user.id, b.principal.agent.id, b.gateway, b.method, b.name]), 'utf8');
  return {
    seal(binding, data, ttlMs = DEFAULT_TTL_MS) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(binding));
      const plain = Buffer.from(JSON.stringify({ exp: Date.now() + ttlMs, data }), 'utf8');
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return `sg${VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
    },
    open(binding, state, now = Date.now()) {
      const prefix = `sg${VERSION}.`;
      if (typeof state !== 'string' || !state.startsWith(prefix) || state.length > 64 * 1024) {
        throw new RequestStateError('ERR_STATE_MALFORMED', 'requestState was not issued by this server');
      }
      const raw = Buffer.from(state.slice(prefix.length), 'base64url');
      if (raw.length < 12 + 16 + 1) throw new RequestStateError('ERR_STATE_MALFORMED', 'requestState was not issued by this server');
      let plain: Buffer;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAAD(aad(binding));
        decipher.setAuthTag(raw.subarray(raw.length - 16));
        plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
      } catch {
        // Changed, or issued for another principal, gateway or request: the same answer for all.
        throw new RequestStateError('ERR_STATE_FORGED', 'requestState does not belong to this request');
      }
      const { exp, data } = JSON.parse(plain.toString('utf8')) as { exp: number; data: Json };
      if (now > exp) throw new RequestStateError('ERR_STATE_EXPIRED', 'requestState has expired; send the request again without it');
      return data;
    },
  };
}
