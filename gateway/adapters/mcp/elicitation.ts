/**
 * A call that needs the user's grant (GrantRequiredError), answered to a 2025-11-25 client
 * (MCP client/elicitation, URL mode):
 *
 *  - the client declared `elicitation.url`: JSON-RPC error -32042 URLElicitationRequiredError
 *    with `data.elicitations[{ mode: "url", elicitationId, url, message }]`; once the grant
 *    arrives, `notifications/elicitation/complete` goes to that session only (the one that
 *    was asked), and the client retries;
 *  - it did not: a tool error (isError) with the link and what to do.
 *
 * A 2026-07-28 client that declared `elicitation.url` gets an `input_required` result instead
 * (multi round-trip requests): one input request `elicitation/create` in URL mode, under the
 * key GRANT_INPUT_KEY, and Skillgate's sealed requestState; its retry runs the call again, and
 * the credential step finds the grant (or asks again). Without the capability: the tool error.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Json } from '../../../src/contracts/json.js';
import { type CallToolResult, UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import type { GrantEvent } from '../../downstream/credentials.js';
import type { GrantRequiredError } from '../../downstream/errors.js';

/** Which session was asked which elicitation (in this process), to tell it when it completes. */
export class ElicitationSessions {
  private readonly asked = new Map<string, WeakRef<Server>>();

  remember(elicitationId: string, server: Server): void {
    if (this.asked.size > 10_000) this.asked.delete(this.asked.keys().next().value!);
    this.asked.set(elicitationId, new WeakRef(server));
  }

  /** Send `notifications/elicitation/complete` to the session that was asked each completed elicitation. */
  async completed(event: GrantEvent): Promise<number> {
    let sent = 0;
    for (const e of event.completed) {
      const server = this.asked.get(e.id)?.deref();
      this.asked.delete(e.id);
      if (!server) continue;
      try {
        await server.createElicitationCompletionNotifier(e.id)();
        sent++;
      } catch {
        // The session has gone; the client retries on its own.
      }
    }
    return sent;
  }
}

/**
 * The 2025-11-25 answer to a call that needs a grant: throws the -32042 error when the client
 * declared URL elicitation (and `asked` records which session was asked), else returns a tool
 * error with the link. (The 2026-07-28 era: grantInputRequest.)
 */
export function answerGrantRequired(capabilities: { elicitation?: { url?: object } } | undefined, err: GrantRequiredError, asked?: (elicitationId: string) => void): CallToolResult {
  const r = err.required;
  if (capabilities?.elicitation?.url !== undefined) {
    asked?.(r.elicitationId);
    throw new UrlElicitationRequiredError([{ mode: 'url', elicitationId: r.elicitationId, url: r.url, message: r.message }], `authorization required: ${r.providerName}`);
  }
  return {
    content: [
      {
        type: 'text',
        text: `Authorization required: ${r.message} Ask the user to open ${r.url} in a browser (they sign in and grant ${r.scopes.join(', ')} to ${r.providerName}), then call this tool again.`,
      },
    ],
    isError: true,
  };
}

/** The key of Skillgate's own input request in a 2026-07-28 `input_required` result. */
export const GRANT_INPUT_KEY = 'dev.skillgate/grant';

/** The 2026-07-28 input request for a missing grant: `elicitation/create` in URL mode (what the SDK's `inputRequired.elicitUrl` builds). */
export function grantInputRequest(err: GrantRequiredError): Json {
  const r = err.required;
  return { method: 'elicitation/create', params: { mode: 'url', elicitationId: r.elicitationId, url: r.url, message: r.message } };
}
