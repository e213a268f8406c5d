/**
 * Arguments as the audit trail records them: the SHA-256 of their canonical JSON (RFC 8785),
 * and a copy with the configured JSON Pointers masked; a bad pointer in skillgate.yaml is an
 * error naming its key path.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { argumentRecorder, MASKED, pointerTokens } from '../gateway/audit/args.js';
import { ConfigError, parseConfig } from '../src/config/load.js';

describe('argument digests and masks', () => {
  const rec = argumentRecorder({
    'mail.send': ['/body', '/attachments/*/content', '/headers/x~1api~0key'],
    'skill.credit-*': ['/iban'],
  });

  it('digests the canonical JSON, whatever the key order', () => {
    const a = rec('hr.get_employee', { b: 1, a: [true, null, 'é'] });
    const b = rec('hr.get_employee', { a: [true, null, 'é'], b: 1 });
    expect(a.digest).toBe(b.digest);
    expect(a.digest).toBe(`sha256:${createHash('sha256').update('{"a":[true,null,"é"],"b":1}').digest('hex')}`);
    expect(a.masked).toEqual({ b: 1, a: [true, null, 'é'] });
  });

  it('masks by pointer, with ~0 / ~1 escapes and * for every member, and never changes the caller\'s object', () => {
    const args = { to: 'a@b.example', body: 'secret', attachments: [{ name: 'x.pdf', content: 'AAA' }, { name: 'y.pdf', content: 'BBB' }], headers: { 'x/api~key': 'k', other: 'o' } };
    const r = rec('mail.send', args);
    expect(r.masked).toEqual({ to: 'a@b.example', body: MASKED, attachments: [{ name: 'x.pdf', content: MASKED }, { name: 'y.pdf', content: MASKED }], headers: { 'x/api~key': MASKED, other: 'o' } });
    expect(args.body).toBe('secret');
    expect(r.digest).toBe(rec('other.tool', args).digest);
    expect(rec('skill.credit-issuance', { iban: 'DE89', amount: 5 }).masked).toEqual({ iban: MASKED, amount: 5 });
    // Absent paths, and a "__proto__" key from request data, are left as they are.
    expect(rec('mail.send', JSON.parse('{"__proto__":{"body":1},"to":"x"}')).masked).toEqual(JSON.parse('{"__proto__":{"body":1},"to":"x"}'));
  });

  it('bounds the copy, not the digest', () => {
    const big = { blob: 'x'.repeat(10_000) };
    const r = argumentRecorder({}, { maxCopyBytes: 8192 })('fs.write', big);
    expect(r.masked).toEqual({ $truncated: { bytes: 10_011 } });
    expect(r.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('reads pointers per RFC 6901', () => {
    expect(pointerTokens('')).toEqual([]);
    expect(pointerTokens('/a~1b/~0c/0')).toEqual(['a/b', '~c', '0']);
    expect(() => pointerTokens('a/b')).toThrow(/not a JSON Pointer/);
  });

  it('refuses a bad pointer in skillgate.yaml, naming the key path', () => {
    const text = 'workspace: w\naudit:\n  mask:\n    mail.send: [body]\n';
    expect(() => parseConfig(text, 'skillgate.yaml')).toThrow(ConfigError);
    try {
      parseConfig(text, 'skillgate.yaml');
    } catch (err) {
      expect((err as ConfigError).message).toMatch(/skillgate\.yaml:4:\d+: audit\.mask\.mail\.send\.0: a JSON Pointer like "\/password"/);
    }
  });
});
