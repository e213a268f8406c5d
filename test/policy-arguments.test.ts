/**
 * JSON arguments → Cedar values (arguments.ts), what a policy reads (analyze.ts), and the
 * gateway visibility patterns (visibility.ts).
 */
import { policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { policyReads } from '../gateway/policy/analyze.js';
import { type ArgType, argTypeFromSchema, toCedarArguments } from '../gateway/policy/arguments.js';
import { skillVisibleOnGateway, visibleOnGateway } from '../gateway/policy/visibility.js';

const convert = (args: Record<string, unknown>, declared?: ArgType, pick?: string[]) =>
  toCedarArguments(args, declared, pick ? new Set(pick) : undefined);

const dec = (arg: string) => ({ __extn: { fn: 'decimal', arg } });

describe('toCedarArguments', () => {
  it('keeps strings, booleans and safe integers as they are', () => {
    expect(convert({ s: 'x', b: true, n: 42, neg: -7, max: Number.MAX_SAFE_INTEGER })).toEqual({
      ok: true,
      value: { s: 'x', b: true, n: 42, neg: -7, max: Number.MAX_SAFE_INTEGER },
    });
  });

  it('turns non-integers into decimals when exact, and anything else into strings, never rounding', () => {
    expect(convert({ a: 12.5, b: -0.0001, c: 0.00001, d: 0.1 + 0.2, e: 2 ** 60, f: 1e21 })).toEqual({
      ok: true,
      value: { a: dec('12.5'), b: dec('-0.0001'), c: '0.00001', d: '0.30000000000000004', e: '1152921504606847000', f: '1e+21' },
    });
  });

  it('follows the declared types: decimal amounts, extension strings, nested records and sets', () => {
    const declared = argTypeFromSchema({
      Money: { type: 'EntityOrCommon', name: 'decimal' },
      Arguments: {
        type: 'Record',
        attributes: {
          amount: { type: 'EntityOrCommon', name: 'Money' },
          when: { type: 'Extension', name: 'datetime' },
          from: { type: 'EntityOrCommon', name: 'ipaddr' },
          lines: { type: 'Set', element: { type: 'Record', attributes: { price: { type: 'EntityOrCommon', name: 'decimal' } } } },
          count: { type: 'Long' },
        },
      },
    });
    expect(declared).toMatchObject({ kind: 'record' });
    expect(
      convert({ amount: 5000, when: '2026-01-01', from: '10.0.0.1', lines: [{ price: 3 }, { price: '4.25' }, null], count: 1.5 }, declared),
    ).toEqual({
      ok: true,
      value: {
        amount: dec('5000.0'),
        when: { __extn: { fn: 'datetime', arg: '2026-01-01' } },
        from: { __extn: { fn: 'ip', arg: '10.0.0.1' } },
        lines: [{ price: dec('3.0') }, { price: dec('4.25') }],
        // Declared Long but fractional: a decimal, so `<`/`<=` raise a type error and deny.
        count: dec('1.5'),
      },
    });
    // A declared decimal that is not a decimal literal stays a string.
    expect(convert({ amount: 'lots' }, declared)).toEqual({ ok: true, value: { amount: 'lots' } });
    expect(convert({ amount: 1.23456 }, declared)).toEqual({ ok: true, value: { amount: '1.23456' } });
  });

  it('drops nulls: null fields are absent (`has` is false), null set elements are gone', () => {
    expect(convert({ a: null, b: undefined, c: [1, null, 2], d: { e: null, f: 'x' } })).toEqual({ ok: true, value: { c: [1, 2], d: { f: 'x' } } });
  });

  it('refuses Cedar escapes smuggled in as keys, at any depth', () => {
    expect(convert({ who: { __entity: { type: 'Skillgate::User', id: 'ceo' } } })).toEqual({
      ok: false,
      error: 'argument "who.__entity" uses a key reserved by Cedar\'s JSON format',
    });
    expect(convert({ list: [{ ok: 1 }, { __extn: { fn: 'ip', arg: '1.1.1.1' } }] })).toMatchObject({ ok: false, error: expect.stringContaining('list[1].__extn') });
    expect(convert({ __expr: 'x' })).toMatchObject({ ok: false });
  });

  it('refuses nesting deeper than 32 levels instead of overflowing the stack', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 40; i++) deep = { x: deep };
    expect(convert({ deep })).toMatchObject({ ok: false, error: expect.stringMatching(/nested deeper than 32/) });
  });

  it('converts only the picked names', () => {
    expect(convert({ amount: 3, body: { __entity: 'never looked at' } }, undefined, ['amount', 'absent'])).toEqual({ ok: true, value: { amount: 3 } });
  });
});

describe('policyReads', () => {
  const reads = (text: string) => {
    const parsed = policyToJson(text);
    if (parsed.type !== 'success') throw new Error(JSON.stringify(parsed.errors));
    return policyReads(parsed.json);
  };

  it('collects argument names, context attributes and entity attributes by name', () => {
    const r = reads(
      'permit (principal, action, resource in Skillgate::Server::"hr") when { resource.name like "get_*" && context.arguments has employeeId && context.arguments.employeeId == principal.id && context has arguments.amount && context.gateway == "x" };',
    );
    expect([...r.arguments].sort()).toEqual(['amount', 'employeeId']);
    expect([...r.context].sort()).toEqual(['arguments', 'gateway']);
    expect([...r.attributes].sort()).toEqual(['id', 'name']);
    expect(r.allArguments).toBe(false);
    expect(r.allContext).toBe(false);
    expect(r.entities).toEqual([{ type: 'Skillgate::Server', id: 'hr' }]);
  });

  it('falls back to everything when arguments or context are used as a whole', () => {
    expect(reads('permit (principal, action, resource) when { context.arguments == {} };')).toMatchObject({ allArguments: true, allContext: false });
    expect(reads('permit (principal, action, resource) when { context == {} };')).toMatchObject({ allArguments: true, allContext: true });
  });

  it('finds entity literals in scopes, sets and conditions, but not records that look like one', () => {
    const r = reads(
      'permit (principal in Skillgate::Role::"r", action in [Skillgate::Action::"approve"], resource) when { [Skillgate::Tool::"a.b"].contains(resource) && {type: "x", id: "y"} == {type: "x", id: "y"} };',
    );
    expect(r.entities).toEqual([
      { type: 'Skillgate::Role', id: 'r' },
      { type: 'Skillgate::Action', id: 'approve' },
      { type: 'Skillgate::Tool', id: 'a.b' },
    ]);
  });
});

describe('visibility', () => {
  const gateway = { tools: ['core-banking.*', 'hr.get_employee', 'fs.read_*'], skills: ['credit-issuance'] };

  it('matches <server>.<tool> against the gateway patterns', () => {
    expect(visibleOnGateway(gateway, 'core-banking', 'issue_credit')).toBe(true);
    expect(visibleOnGateway(gateway, 'hr', 'get_employee')).toBe(true);
    expect(visibleOnGateway(gateway, 'hr', 'get_compensation')).toBe(false);
    expect(visibleOnGateway(gateway, 'fs', 'read_text_file')).toBe(true);
    expect(visibleOnGateway(gateway, 'fs', 'write_file')).toBe(false);
    // `.` in a pattern is literal, and a server name is matched whole.
    expect(visibleOnGateway(gateway, 'core-bankingX', 'issue_credit')).toBe(false);
    expect(visibleOnGateway({ tools: ['hr.get.employee'] }, 'hr', 'getXemployee')).toBe(false);
    expect(visibleOnGateway({ tools: [] }, 'hr', 'get_employee')).toBe(false);
  });

  it('exposes only the listed skills', () => {
    expect(skillVisibleOnGateway(gateway, 'credit-issuance')).toBe(true);
    expect(skillVisibleOnGateway(gateway, 'hr-onboarding')).toBe(false);
  });
});
