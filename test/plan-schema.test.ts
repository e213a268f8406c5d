/**
 * schemas/plan.schema.json, the JSON Schema editors check plan.yaml against while the analyst
 * types (yaml-language-server), stays true to what the compiler accepts: every plan that
 * compiles is valid under it, and plans the compiler refuses for their shape are not.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ajv } from '../src/shared/json-schema.js';
import { findSkillDirs } from '../src/skills/load.js';

const ROOT = resolve(import.meta.dirname, '..');
const SCHEMA_FILE = join(ROOT, 'schemas', 'plan.schema.json');
const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
const MODELINE = /^# yaml-language-server: \$schema=(\S+)/m;

/** Errors of a plan under the schema (a copy: the project's Ajv fills in defaults). */
function errors(plan: unknown): string[] {
  return validate(structuredClone(plan)) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

describe('the plan schema', () => {
  const compiled = findSkillDirs([
    join(ROOT, 'skills'),
    join(ROOT, 'test', 'fixtures', 'good-skills'),
    join(ROOT, 'test', 'fixtures', 'gateway-skills'),
    join(ROOT, 'test', 'fixtures', 'skills-runtime'),
    join(ROOT, 'bench', 'skills'),
  ]).dirs;

  it('accepts every plan that compiles: the shipped skills and the fixtures', () => {
    expect(compiled.length).toBeGreaterThanOrEqual(13);
    for (const dir of compiled) expect(errors(parse(readFileSync(join(dir, 'plan.yaml'), 'utf8'))), dir).toEqual([]);
  });

  it('is named by the shipped skills for their editors, and the comment changes nothing in the plan', () => {
    for (const dir of findSkillDirs([join(ROOT, 'skills')]).dirs) {
      const text = readFileSync(join(dir, 'plan.yaml'), 'utf8');
      const ref = MODELINE.exec(text)?.[1];
      expect(ref, dir).toBe('../../schemas/plan.schema.json');
      expect(resolve(dirname(join(dir, 'plan.yaml')), ref!)).toBe(SCHEMA_FILE);
      expect(parse(text.replace(/^# yaml-language-server:.*$/m, ''))).toEqual(parse(text));
    }
  });

  it("refuses plans whose shape the compiler refuses, and says where", () => {
    const step = { id: 'customer', tool: 'core-banking.get_customer', with: { customerId: 'C-1001' } };
    const plan = (over: Record<string, unknown>) => ({ inputs: { type: 'object' }, steps: [step], ...over });
    const refused: Array<[string, unknown, string]> = [
      ['unknown top-level key', plan({ output: {} }), ''],
      ['no steps', plan({ steps: [] }), '/steps'],
      ['inputs not an object schema', plan({ inputs: { type: 'array' } }), '/inputs/type'],
      ['inputs with a type that does not exist', plan({ inputs: { type: 'object', properties: { a: { type: 'strng' } } } }), '/inputs/properties/a/type'],
      ['a step without id', plan({ steps: [{ tool: 'core-banking.get_customer' }] }), '/steps/0'],
      ['an id not usable in expressions', plan({ steps: [{ ...step, id: 'low-score' }] }), '/steps/0/id'],
      ['a step that does nothing', plan({ steps: [{ id: 'nothing' }] }), '/steps/0'],
      ['tool and fail together', plan({ steps: [{ ...step, fail: 'no' }] }), '/steps/0'],
      ['an unknown step key', plan({ steps: [{ ...step, retries: 3 }] }), '/steps/0'],
      ['with: on an approval step', plan({ steps: [{ id: 'ok', approval: { role: 'credit-officer' }, with: {} }] }), '/steps/0/with'],
      ['an approval without role', plan({ steps: [{ id: 'ok', approval: { timeout: '1h' } }] }), '/steps/0/approval'],
      ['a duration in words', plan({ steps: [{ ...step, timeout: '30 seconds' }] }), '/steps/0/timeout'],
      ['a zero duration', plan({ steps: [{ ...step, retry: { backoff: '0s' } }] }), '/steps/0/retry/backoff'],
      ['attempts: 0', plan({ steps: [{ ...step, retry: { attempts: 0 } }] }), '/steps/0/retry/attempts'],
      ['a tool without its server', plan({ steps: [{ ...step, tool: 'get_customer' }] }), '/steps/0/tool'],
      ['a compensation without tool', plan({ steps: [{ ...step, compensate: { with: {} } }] }), '/steps/0/compensate'],
      ['an output without value', plan({ outputs: { name: { type: 'string' } } }), '/outputs/name'],
      ['readOnlySteps other than local or activity', plan({ readOnlySteps: 'fast' }), '/readOnlySteps'],
      ['execution other than local or activity', plan({ steps: [{ ...step, execution: 'remote' }] }), '/steps/0/execution'],
      ['execution: on an approval step', plan({ steps: [{ id: 'ok', approval: { role: 'credit-officer' }, execution: 'local' }] }), '/steps/0/execution'],
    ];
    // How a step runs, at the plan's and at the step's level (docs/skills.md).
    expect(errors(plan({ readOnlySteps: 'activity', steps: [{ ...step, execution: 'local' }] }))).toEqual([]);
    for (const [what, p, at] of refused) {
      const errs = errors(p);
      expect(errs.length, what).toBeGreaterThan(0);
      expect(errs.some((e) => e.startsWith(`${at} `)), `${what}: ${errs.join('; ')}`).toBe(true);
    }
  });

  it('refuses the broken fixtures whose plans have the wrong shape', () => {
    for (const name of ['structure', 'mismatched-folder', 'schemas']) {
      const file = join(ROOT, 'test', 'fixtures', 'bad-skills', name, 'plan.yaml');
      expect(errors(parse(readFileSync(file, 'utf8'))).length, name).toBeGreaterThan(0);
    }
  });
});
