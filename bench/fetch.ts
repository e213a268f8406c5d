/**
 * `fetch` for long-lived MCP HTTP client transports. The SDK's Streamable HTTP client passes
 * one transport-wide AbortSignal to every request; undici releases each request's abort
 * listener only when the request is garbage-collected, so under load thousands pile up
 * between collections and Node prints a MaxListenersExceededWarning for every new one — a
 * stderr write per call that cost the gateway ~13 % of its CPU. Lifting the limit on those
 * signals (they are not leaking, just collected late) removes the warning storm.
 */
import { setMaxListeners } from 'node:events';

const lifted = new WeakSet<AbortSignal>();

export function transportFetch(url: string | URL, init?: RequestInit): Promise<Response> {
  const signal = init?.signal;
  if (signal && !lifted.has(signal)) {
    setMaxListeners(0, signal);
    lifted.add(signal);
  }
  return fetch(url, init);
}
