/**
 * The data-loss detectors, scanner and rule resolution (gateway/dlp/) on their own: what each
 * detector finds and what it must not take for personal data, JSON Pointer paths, redaction
 * without copying untouched data, block, and how a gateway's rules and per-tool overrides
 * combine. The filters through the real gateway and skill runs: dlp-gateway.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { DataLossDetector } from '../src/contracts/data-loss.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { detect, DETECTORS } from '../gateway/dlp/detectors.js';
import { resolveToolRules } from '../gateway/dlp/rules.js';
import { scanJson, type ScanState } from '../gateway/dlp/scan.js';

const ALL = new Set<DataLossDetector>(DETECTORS);
const found = (text: string, detectors: Iterable<DataLossDetector> = ALL, phoneRegion?: string) =>
  detect(text, new Set(detectors), phoneRegion ? { phoneRegion } : {}).map((m) => [m.detector, text.slice(m.start, m.end)]);

describe('detectors', () => {
  it('card numbers: an issuer prefix and a valid Luhn checksum, with or without separators', () => {
    expect(found('pay with 4111 1111 1111 1111 today')).toEqual([['card-number', '4111 1111 1111 1111']]);
    expect(found('mc 5500-0000-0000-0004, amex 3782 822463 10005')).toEqual([
      ['card-number', '5500-0000-0000-0004'],
      ['card-number', '3782 822463 10005'],
    ]);
    expect(found('4111111111111111')).toEqual([['card-number', '4111111111111111']]);
    // Luhn fails by one digit; no issuer starts with 1234; an order number; a too-long run.
    expect(found('4111 1111 1111 1112', ['card-number'])).toEqual([]);
    expect(found('1234-5678-9012-3456', ['card-number'])).toEqual([]);
    expect(found('order 20240506123456', ['card-number'])).toEqual([]);
    expect(found('41111111111111110000000', ['card-number'])).toEqual([]);
  });

  it('IBANs: the country format and the mod-97 checksum, also when followed by capitals', () => {
    expect(found('IBAN DE89 3704 0044 0532 0130 00 AND MORE')).toEqual([['iban', 'DE89 3704 0044 0532 0130 00']]);
    expect(found('GB82WEST12345698765432')).toEqual([['iban', 'GB82WEST12345698765432']]);
    expect(found('DE88 3704 0044 0532 0130 00', ['iban'])).toEqual([]);
    expect(found('XX89 3704 0044 0532 0130 00', ['iban'])).toEqual([]);
  });

  it('US SSNs: dashed, with the SSA structural rules; undashed numbers are not detected', () => {
    expect(found('SSN 123-45-6789.')).toEqual([['us-ssn', '123-45-6789']]);
    for (const bad of ['000-12-3456', '666-12-3456', '900-12-3456', '123-00-4567', '123-45-0000', '123456789', '1123-45-6789']) {
      expect(found(bad, ['us-ssn']), bad).toEqual([]);
    }
  });

  it('e-mail addresses need a domain with a top-level domain', () => {
    expect(found('write to ada.lovelace+bank@example.co.uk please')).toEqual([['email', 'ada.lovelace+bank@example.co.uk']]);
    expect(found('root@localhost and @handle and a@b', ['email'])).toEqual([]);
  });

  it('phone numbers: +international always; national form only with the gateway\'s region', () => {
    expect(found('call +44 20 7946 0958')).toEqual([['phone', '+44 20 7946 0958']]);
    expect(found('call (415) 555-2671', ['phone'])).toEqual([]);
    expect(found('call (415) 555-2671', ['phone'], 'US')).toEqual([['phone', '(415) 555-2671']]);
    // Dates, amounts, short numbers, ids are not phone numbers.
    expect(found('on 2024-05-06 we paid 12000.50 for order 42 (ref 1234567)', ['phone'], 'US')).toEqual([]);
  });

  it('overlaps go to the detector earlier in the list: a card number is not also a phone number', () => {
    expect(found('+4111111111111111', ['card-number', 'phone'])).toEqual([['card-number', '4111111111111111']]);
    expect(found('4111 1111 1111 1111', ['phone'], 'US')).toEqual([]);
  });

  it('text with neither a digit nor an @ is not scanned at all', () => {
    expect(found('Ada Lovelace, retail customer since spring')).toEqual([]);
  });
});

describe('scanning JSON', () => {
  const rules = (actions: Partial<Record<DataLossDetector, 'redact' | 'block'>>) => ({
    rules: new Map(Object.entries(actions).map(([d, action]) => [d as DataLossDetector, { action, source: `gateways.g.dataLoss.rules.${d}` }])),
    detectors: new Set(Object.keys(actions) as DataLossDetector[]),
  });

  it('redacts matches in nested strings, names each by JSON Pointer and counts them, never keeping a value', () => {
    const value = { customer: { 'e/mail': 'ada@example.com', cards: ['4111 1111 1111 1111 and 5500 0000 0000 0004'] }, untouched: { id: 'C-1' } };
    const state: ScanState = { findings: [] };
    const out = scanJson(value, '', 'result', rules({ email: 'redact', 'card-number': 'redact' }), state) as typeof value;
    expect(out.customer).toEqual({ 'e/mail': '[REDACTED:email]', cards: ['[REDACTED:card-number] and [REDACTED:card-number]'] });
    expect(out.untouched).toBe(value.untouched);
    expect(value.customer['e/mail']).toBe('ada@example.com');
    expect(state.findings).toEqual([
      { rule: 'email', source: 'gateways.g.dataLoss.rules.email', in: 'result', path: '/customer/e~1mail', action: 'redact', count: 1 },
      { rule: 'card-number', source: 'gateways.g.dataLoss.rules.card-number', in: 'result', path: '/customer/cards/0', action: 'redact', count: 2 },
    ]);
    expect(JSON.stringify(state)).not.toMatch(/4111|5500|ada@/);
  });

  it('returns the very same object when nothing matched', () => {
    const value = { a: ['x', { b: 'no numbers here' }], n: 42 };
    const state: ScanState = { findings: [] };
    expect(scanJson(value, '', 'arguments', rules({ 'card-number': 'redact' }), state)).toBe(value);
    expect(state.findings).toEqual([]);
  });

  it('scans large integers as text: a card number sent as a JSON number', () => {
    const state: ScanState = { findings: [] };
    expect(scanJson({ pan: 4111111111111111 }, '', 'arguments', rules({ 'card-number': 'redact' }), state)).toEqual({ pan: '[REDACTED:card-number]' });
  });

  it('a block rule stops the scan and names where', () => {
    const state: ScanState = { findings: [] };
    scanJson({ note: 'IBAN DE89370400440532013000', later: 'ada@example.com' }, '', 'arguments', rules({ iban: 'block', email: 'redact' }), state);
    expect(state.blocked).toMatchObject({ rule: 'iban', path: '/note', action: 'block', in: 'arguments' });
    expect(state.findings).toHaveLength(1);
  });
});

describe('rules of a gateway', () => {
  const config = parseConfig(
    `workspace: t
gateways:
  desk:
    tools: ["bank.*", "mail.*"]
    dataLoss:
      rules:
        card-number: redact
        iban: { arguments: block, results: redact }
        email: { results: redact }
      tools:
        "mail.*": { email: allow, card-number: block }
        "mail.send": { card-number: redact }
  open:
    tools: ["bank.*"]
`,
    'skillgate.yaml',
  ).config;
  const side = (gw: string, server: string, tool: string, s: 'arguments' | 'result') =>
    Object.fromEntries([...resolveToolRules(config.gateways, gw, server, tool)[s].rules].map(([d, r]) => [d, `${r.action} ← ${r.source}`]));

  it('applies the gateway\'s rules per side', () => {
    expect(side('desk', 'bank', 'get', 'arguments')).toEqual({
      'card-number': 'redact ← gateways.desk.dataLoss.rules.card-number',
      iban: 'block ← gateways.desk.dataLoss.rules.iban',
    });
    expect(side('desk', 'bank', 'get', 'result')).toEqual({
      'card-number': 'redact ← gateways.desk.dataLoss.rules.card-number',
      iban: 'redact ← gateways.desk.dataLoss.rules.iban',
      email: 'redact ← gateways.desk.dataLoss.rules.email',
    });
  });

  it('tool overrides apply in the order written (a later pattern wins); allow drops the detector', () => {
    expect(side('desk', 'mail', 'list', 'result')).toEqual({
      'card-number': 'block ← gateways.desk.dataLoss.tools["mail.*"].card-number',
      iban: 'redact ← gateways.desk.dataLoss.rules.iban',
    });
    expect(side('desk', 'mail', 'send', 'result')['card-number']).toBe('redact ← gateways.desk.dataLoss.tools["mail.send"].card-number');
  });

  it('a gateway without dataLoss scans nothing; an unknown gateway is an error, not "no rules"', () => {
    const open = resolveToolRules(config.gateways, 'open', 'bank', 'get');
    expect(open.arguments.detectors.size + open.result.detectors.size).toBe(0);
    expect(() => resolveToolRules(config.gateways, 'constructor', 'bank', 'get')).toThrow(/unknown gateway/);
  });

  it('a misspelt detector or action is a config error naming the key path', () => {
    const bad = () => parseConfig('workspace: t\ngateways:\n  g:\n    dataLoss:\n      rules:\n        credit-card: redact\n        iban: mask\n', 'skillgate.yaml');
    expect(bad).toThrow(ConfigError);
    const message = (() => {
      try {
        bad();
        return '';
      } catch (e) {
        return (e as ConfigError).message;
      }
    })();
    expect(message).toContain('gateways.g.dataLoss.rules');
    expect(message).toContain('credit-card');
    expect(message).toContain('iban');
  });
});
