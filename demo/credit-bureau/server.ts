/** Demo credit bureau as an MCP server: credit scores by customer. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { openStore, type Store } from '../store.js';

export interface CreditBureauData {
  scores: Record<string, number>;
}

export function seedCreditBureau(): CreditBureauData {
  return { scores: { 'C-1001': 780, 'C-1002': 540, 'C-1003': 710, 'C-1004': 820 } };
}

export function openCreditBureau(stateDir: string | undefined): Store<CreditBureauData> {
  return openStore('credit-bureau', stateDir, seedCreditBureau);
}

/** FICO-like bands. */
function band(score: number): 'poor' | 'fair' | 'good' | 'very-good' | 'exceptional' {
  if (score < 580) return 'poor';
  if (score < 670) return 'fair';
  if (score < 740) return 'good';
  if (score < 800) return 'very-good';
  return 'exceptional';
}

/** The scopes each credit-bureau tool needs (skillgate.yaml `servers.credit-bureau.auth` asks for the same). */
export const CREDIT_BUREAU_AUTH = { audience: 'urn:acme:credit-bureau', scopes: { get_score: ['bureau.score.read'] } };

export function createCreditBureauServer(store: Store<CreditBureauData>, guard?: (server: McpServer) => void): McpServer {
  const server = new McpServer(
    { name: 'demo-credit-bureau', version: '1.0.0' },
    { instructions: 'Credit bureau: consumer credit scores (300–850) and their bands.' },
  );
  guard?.(server);
  server.registerTool(
    'get_score',
    {
      title: 'Get credit score',
      description: "Get a customer's current credit score (300–850) and its band (poor … exceptional).",
      inputSchema: { customerId: z.string().regex(/^C-\d{4}$/).describe('Customer id, e.g. "C-1001"') },
      outputSchema: {
        customerId: z.string(),
        score: z.number().int().min(300).max(850),
        band: z.enum(['poor', 'fair', 'good', 'very-good', 'exceptional']),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ customerId }) => {
      const score = store.read().scores[customerId];
      if (score === undefined) return { content: [{ type: 'text', text: `no credit file for ${customerId}` }], isError: true };
      const data = { customerId, score, band: band(score) };
      return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
    },
  );
  return server;
}
