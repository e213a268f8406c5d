/**
 * One raw MCP 2026-07-28 `tools/call` (stateless: headers and `_meta` as the spec asks, no
 * SDK), for tests that look at the wire: `input_required` rounds, sealed request state.
 */
export async function modernToolCall(url: string, token: string, params: Record<string, unknown>): Promise<{ status: number; json: { result?: Record<string, unknown>; error?: { code: number; message: string } } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': String(params.name),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params }),
  });
  return { status: res.status, json: (await res.json()) as { result?: Record<string, unknown>; error?: { code: number; message: string } } };
}
