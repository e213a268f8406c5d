/**
 * Demo core-banking system as an MCP server: customers, accounts, credit lines, notices.
 * `issue_credit` is side-effecting and dedupes by the caller's idempotency key
 * (`_meta["dev.skillgate/idempotency-key"]`), as a real core system dedupes by request id.
 */
import { META_IDEMPOTENCY_KEY } from '../../src/contracts/meta.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { openStore, type Store } from '../store.js';

/** The `_meta` key carrying the idempotency key of a tool call. */


export interface Customer {
  customerId: string;
  name: string;
  segment: 'retail' | 'private' | 'business';
  email: string;
  address: string | null;
}

export interface Credit {
  creditId: string;
  customerId: string;
  amount: number;
  termMonths: number;
  status: 'active' | 'cancelled';
  cancelReason?: string;
  idempotencyKey?: string;
}

export interface CoreBankingData {
  customers: Record<string, Customer>;
  accounts: Record<string, Array<{ accountId: string; type: 'checking' | 'savings'; balance: number; currency: 'EUR' }>>;
  credits: Record<string, Credit>;
  notices: Array<{ noticeId: string; customerId: string; subject: string; idempotencyKey?: string }>;
  /** idempotency key → how many times a side effect was applied for it (must stay 1). */
  appliedKeys: Record<string, number>;
  nextCredit: number;
}

export function seedCoreBanking(): CoreBankingData {
  const customers: Customer[] = [
    { customerId: 'C-1001', name: 'Ada Lovelace', segment: 'private', email: 'ada@example.com', address: '12 St James Square, London' },
    { customerId: 'C-1002', name: 'Bob Marley', segment: 'retail', email: 'bob@example.com', address: '56 Hope Road, Kingston' },
    { customerId: 'C-1003', name: 'Grace Hopper', segment: 'retail', email: 'grace@example.com', address: null },
    { customerId: 'C-1004', name: 'Alan Turing', segment: 'business', email: 'alan@example.com', address: 'Bletchley Park, Milton Keynes' },
  ];
  return {
    customers: Object.fromEntries(customers.map((c) => [c.customerId, c])),
    accounts: {
      'C-1001': [
        { accountId: 'A-1001-1', type: 'checking', balance: 12_500, currency: 'EUR' },
        { accountId: 'A-1001-2', type: 'savings', balance: 80_000, currency: 'EUR' },
      ],
      'C-1002': [{ accountId: 'A-1002-1', type: 'checking', balance: 320, currency: 'EUR' }],
      'C-1003': [{ accountId: 'A-1003-1', type: 'checking', balance: 4_100, currency: 'EUR' }],
      'C-1004': [{ accountId: 'A-1004-1', type: 'checking', balance: 54_000, currency: 'EUR' }],
    },
    credits: {},
    notices: [],
    appliedKeys: {},
    nextCredit: 1,
  };
}

export function openCoreBanking(stateDir: string | undefined): Store<CoreBankingData> {
  return openStore('core-banking', stateDir, seedCoreBanking);
}

const customerId = z.string().regex(/^C-\d{4}$/).describe('Customer id, e.g. "C-1001"');
const creditShape = {
  creditId: z.string().describe('Credit reference, e.g. "CR-000001"'),
  customerId: z.string(),
  amount: z.number().describe('Amount in EUR'),
  termMonths: z.number().int(),
  status: z.enum(['active', 'cancelled']),
};

function ok<T extends Record<string, unknown>>(data: T): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

function fail(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

function idempotencyKey(meta: Record<string, unknown> | undefined): string | undefined {
  const k = meta?.[META_IDEMPOTENCY_KEY];
  return typeof k === 'string' && k.length > 0 ? k : undefined;
}

/** The scopes each core-banking tool needs (skillgate.yaml `servers.core-banking.auth` asks for the same). */
export const CORE_BANKING_AUTH = {
  audience: 'urn:acme:core-banking',
  scopes: {
    get_customer: ['banking.read'],
    list_accounts: ['banking.read'],
    get_credit: ['banking.read'],
    issue_credit: ['banking.credit.write'],
    cancel_credit: ['banking.credit.write'],
    send_notice: ['banking.notice.send'],
  },
};

/** Build the MCP server over a store (`guard` makes every tool require a trinary token). */
export function createCoreBankingServer(store: Store<CoreBankingData>, guard?: (server: McpServer) => void): McpServer {
  const server = new McpServer(
    { name: 'demo-core-banking', version: '1.0.0' },
    { instructions: 'Acme Bank core banking: customers, accounts and credit lines. Amounts are in EUR.' },
  );
  guard?.(server);

  server.registerTool(
    'get_customer',
    {
      title: 'Get customer',
      description: 'Look up one customer by id: name, segment, e-mail and postal address (null when none is on file).',
      inputSchema: { customerId },
      outputSchema: {
        customerId: z.string(),
        name: z.string(),
        segment: z.enum(['retail', 'private', 'business']),
        email: z.string(),
        address: z.string().nullable(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ customerId: id }) => {
      const c = store.read().customers[id];
      return c ? ok({ ...c }) : fail(`no customer with id ${id}`);
    },
  );

  server.registerTool(
    'list_accounts',
    {
      title: 'List accounts',
      description: "List a customer's accounts with type and current balance.",
      inputSchema: { customerId },
      outputSchema: {
        accounts: z.array(
          z.object({ accountId: z.string(), type: z.enum(['checking', 'savings']), balance: z.number(), currency: z.literal('EUR') }),
        ),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ customerId: id }) => {
      const data = store.read();
      if (!data.customers[id]) return fail(`no customer with id ${id}`);
      return ok({ accounts: data.accounts[id] ?? [] });
    },
  );

  server.registerTool(
    'issue_credit',
    {
      title: 'Issue credit',
      description:
        'Open a new credit line for a customer. Send an idempotency key in _meta["dev.skillgate/idempotency-key"]: a repeated call with the same key returns the credit already issued instead of issuing twice.',
      inputSchema: {
        customerId,
        amount: z.number().positive().max(1_000_000).describe('Amount in EUR'),
        termMonths: z.number().int().min(1).max(120).describe('Duration in months'),
      },
      outputSchema: creditShape,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ customerId: id, amount, termMonths }, extra) => {
      const key = idempotencyKey(extra._meta);
      return store.update((data) => {
        if (!data.customers[id]) return fail(`no customer with id ${id}`);
        if (key) {
          const existing = Object.values(data.credits).find((c) => c.idempotencyKey === key);
          if (existing) return ok(publicCredit(existing));
        }
        const creditId = `CR-${String(data.nextCredit++).padStart(6, '0')}`;
        const credit: Credit = { creditId, customerId: id, amount, termMonths, status: 'active', ...(key ? { idempotencyKey: key } : {}) };
        data.credits[creditId] = credit;
        if (key) data.appliedKeys[key] = (data.appliedKeys[key] ?? 0) + 1;
        return ok(publicCredit(credit));
      });
    },
  );

  server.registerTool(
    'cancel_credit',
    {
      title: 'Cancel credit',
      description: 'Cancel a credit line. Cancelling an already cancelled credit changes nothing and succeeds.',
      inputSchema: {
        creditId: z.string().describe('Credit reference returned by issue_credit'),
        reason: z.string().min(1).max(500).describe('Why the credit is cancelled (kept on the record)'),
      },
      outputSchema: { creditId: z.string(), status: z.literal('cancelled') },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ creditId, reason }) =>
      store.update((data) => {
        const credit = data.credits[creditId];
        if (!credit) return fail(`no credit with id ${creditId}`);
        if (credit.status !== 'cancelled') {
          credit.status = 'cancelled';
          credit.cancelReason = reason;
        }
        return ok({ creditId, status: 'cancelled' as const });
      }),
  );

  server.registerTool(
    'get_credit',
    {
      title: 'Get credit',
      description: 'Look up a credit line by its reference.',
      inputSchema: { creditId: z.string().describe('Credit reference, e.g. "CR-000001"') },
      outputSchema: creditShape,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ creditId }) => {
      const c = store.read().credits[creditId];
      return c ? ok(publicCredit(c)) : fail(`no credit with id ${creditId}`);
    },
  );

  server.registerTool(
    'send_notice',
    {
      title: 'Send notice',
      description: "Send a letter to the customer's postal address. Fails when no address is on file.",
      inputSchema: {
        customerId,
        subject: z.string().min(1).max(200),
        body: z.string().min(1).max(5000),
      },
      outputSchema: { noticeId: z.string() },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    ({ customerId: id, subject }, extra) => {
      const key = idempotencyKey(extra._meta);
      return store.update((data) => {
        const c = data.customers[id];
        if (!c) return fail(`no customer with id ${id}`);
        if (!c.address) return fail(`customer ${id} has no postal address on file`);
        // A retried step (its worker died after the letter went out) carries the same key: one letter.
        const sent = key ? data.notices.find((n) => n.idempotencyKey === key) : undefined;
        if (sent) return ok({ noticeId: sent.noticeId });
        const noticeId = `N-${String(data.notices.length + 1).padStart(6, '0')}`;
        data.notices.push({ noticeId, customerId: id, subject, ...(key ? { idempotencyKey: key } : {}) });
        if (key) data.appliedKeys[key] = (data.appliedKeys[key] ?? 0) + 1;
        return ok({ noticeId });
      });
    },
  );

  return server;
}

function publicCredit(c: Credit): { creditId: string; customerId: string; amount: number; termMonths: number; status: 'active' | 'cancelled' } {
  return { creditId: c.creditId, customerId: c.customerId, amount: c.amount, termMonths: c.termMonths, status: c.status };
}
