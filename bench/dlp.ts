/**
 * Cost of the data-loss filters per tool call, in process: the pipeline's two steps
 * (`filter-arguments` + `filter-result`) on realistic calls, side by side in one run:
 *
 *   no rules       the gateway has no `dataLoss` (every gateway today): the steps' fixed cost
 *   clean          all five detectors on, a customer record without personal numbers
 *   with PII       all five detectors on, the record holds an e-mail, a phone, a card, an IBAN, an SSN (all redacted)
 *   10 KB result   all five detectors on, a 10 KB list of such records
 *
 * and each detector alone on the PII record, plus phone detection done the two ways tried
 * (libphonenumber-js searching the whole text vs parsing only candidate runs).
 *
 *   npm run bench:dlp            (node --import tsx bench/dlp.ts)
 *
 * Each case: warm-up, then 7 rounds of N calls; the figure is the median µs per call.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { findPhoneNumbersInText } from 'libphonenumber-js/max';
import type { DataLossDetector } from '../src/contracts/data-loss.js';
import type { Json } from '../src/contracts/json.js';
import { parseConfig } from '../src/config/load.js';
import { detect, DETECTORS } from '../gateway/dlp/detectors.js';
import { createDataLossFilters } from '../gateway/dlp/filters.js';
import { silentLogger } from '../gateway/log.js';
import type { PipelineDeps, ToolCallContext } from '../gateway/pipeline/context.js';
import { filterArguments } from '../gateway/pipeline/filter-arguments.js';
import { filterResult } from '../gateway/pipeline/filter-result.js';
import { normalizeResult } from '../gateway/pipeline/normalize-result.js';

const config = parseConfig(
  `workspace: bench
gateways:
  plain: { tools: ["bank.*"] }
  filtered:
    tools: ["bank.*"]
    dataLoss:
      phoneRegion: US
      rules: { email: redact, phone: redact, card-number: redact, iban: redact, us-ssn: redact }
  nophone:
    tools: ["bank.*"]
    dataLoss:
      rules: { email: redact, card-number: redact, iban: redact, us-ssn: redact }
`,
  'bench.yaml',
).config;
const dataLoss = createDataLossFilters(config.gateways, silentLogger);
const deps = { dataLoss } as unknown as PipelineDeps;
const principal = { user: { id: 'u', roles: [], groups: [] }, agent: { id: 'a' } };

const clean = { customerId: 'C-1001', name: 'Ada Lovelace', segment: 'private', since: '2019-03-01', creditLimit: 12000, address: '12 St James Square, London', accounts: ['A-100', 'A-101'] };
const pii = { ...clean, email: 'ada@example.com', phone: '(415) 555-2671', card: '4111 1111 1111 1111', iban: 'DE89 3704 0044 0532 0130 00', ssn: '123-45-6789' };
const asResult = (v: Json): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(v) }], structuredContent: v as { [k: string]: unknown } });
const big = Array.from({ length: 40 }, (_, i) => ({ ...pii, customerId: `C-${1000 + i}` }));

function call(gateway: string, args: { [k: string]: Json }, result: CallToolResult): () => void {
  return () => {
    const ctx: ToolCallContext = { request: { principal, workspace: 'bench', gateway, server: 'bank', tool: 'get_customer', arguments: args }, result };
    void filterArguments(ctx, deps);
    void normalizeResult(ctx, deps);
    void filterResult(ctx, deps);
  };
}

/** `normalize-result` alone: subtracted, so that the figures are the two filter steps only. */
function normalizeOnly(result: CallToolResult): () => void {
  return () => {
    const ctx: ToolCallContext = { request: { principal, workspace: 'bench', gateway: 'plain', server: 'bank', tool: 'get_customer', arguments: {} }, result };
    void normalizeResult(ctx, deps);
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(fn: () => void, n: number): number {
  for (let i = 0; i < Math.min(n, 500); i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    rounds.push(((performance.now() - t0) * 1000) / n);
  }
  return median(rounds);
}

const args = { customerId: 'C-1001', note: 'please check the limit' };
const argsPii = { customerId: 'C-1001', note: 'reply to ada@example.com, card 4111 1111 1111 1111' };
const f = (x: number) => x.toFixed(1);
const rows: Array<[string, number, number]> = [];
for (const [name, gw, a, res, n] of [
  ['no rules (gateway without dataLoss)', 'plain', args, asResult(clean), 20_000],
  ['all five detectors, clean record (~250 B)', 'filtered', args, asResult(clean), 5_000],
  ['all five detectors, record with PII (~400 B, 5 redactions ×2)', 'filtered', argsPii, asResult(pii), 2_000],
  ['four detectors (no phone), record with PII', 'nophone', argsPii, asResult(pii), 2_000],
  ['all five detectors, 10 KB result (40 records with PII)', 'filtered', args, asResult(big), 100],
] as const) {
  const total = measure(call(gw, a as { [k: string]: Json }, res), n);
  const base = measure(normalizeOnly(res), n);
  rows.push([name, total - base, JSON.stringify(res).length]);
}

const text = JSON.stringify(pii);
const perDetector = DETECTORS.map((d) => [d, measure(() => detect(text, new Set<DataLossDetector>([d]), { phoneRegion: 'US' }), 2_000)] as const);
const phoneWhole = measure(() => findPhoneNumbersInText(text, { defaultCountry: 'US' }), 500);

const os = await import('node:os');
console.log(`\nData-loss filters — Node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}\n`);
console.log('| call | filter-arguments + filter-result, µs per call (median) | result size |');
console.log('|---|---:|---:|');
for (const [name, us, size] of rows) console.log(`| ${name} | ${us < 0.1 ? '< 0.1' : f(us)} | ${size} B |`);
console.log(`\nOne detector alone on the PII record (${text.length} characters), µs:`);
console.log('| detector | µs |');
console.log('|---|---:|');
for (const [d, us] of perDetector) console.log(`| ${d} | ${f(us)} |`);
console.log(`| phone, libphonenumber-js findPhoneNumbersInText over the whole text (not used) | ${f(phoneWhole)} |`);
