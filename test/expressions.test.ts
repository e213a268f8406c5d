/**
 * Skill expressions (src/pure/expressions.ts): a plain reference (`inputs.x`, `steps.a.output.b`,
 * `user.id`) is read straight from the context, without CEL; it must give exactly what CEL gives,
 * and leave every miss to CEL, which says what is missing.
 */
import { describe, expect, it } from 'vitest';
import { evaluateExpression, ExpressionEvaluationError, type ExpressionContext } from '../src/pure/expressions.js';

const ctx: ExpressionContext = {
  inputs: { customerId: 'C-1001', amount: 5000, rate: 1.5, big: 2 ** 60, flag: false, none: null, tags: ['a', 'b'], limits: { currency: 'EUR', max: 10 } },
  steps: {
    score: { output: { score: 780, band: 'A', history: [{ year: 2024, ok: true }] }, skipped: false },
    maybe: { output: null, skipped: true },
  },
  user: { id: 'loan-clerk', roles: ['loan-clerk'], groups: [], attributes: { branch: 'north' } },
};

/** The same expression through CEL only: wrapped so that it is not a plain reference. */
const viaCel = (expr: string) => evaluateExpression(`(${expr})`, ctx);

describe('plain references', () => {
  it('give what CEL gives, for every kind of value', () => {
    for (const expr of [
      'inputs.customerId',
      'inputs.amount',
      'inputs.rate',
      'inputs.big',
      'inputs.flag',
      'inputs.none',
      'inputs.tags',
      'inputs.limits',
      'inputs.limits.currency',
      'steps.score.output',
      'steps.score.output.score',
      'steps.score.output.history',
      'steps.maybe.output',
      'steps.maybe.skipped',
      'user.id',
      'user.roles',
      'user.attributes.branch',
      ' inputs.amount ',
    ]) {
      expect(evaluateExpression(expr, ctx), expr).toEqual(viaCel(expr));
    }
  });

  it('return a copy: changing the answer does not change the run\'s context', () => {
    const limits = evaluateExpression('inputs.limits', ctx) as { max: number };
    limits.max = 99;
    expect(ctx.inputs.limits).toEqual({ currency: 'EUR', max: 10 });
  });

  it('leave misses to CEL, which names what is missing', () => {
    for (const expr of ['inputs.missing', 'steps.maybe.output.score', 'steps.nope.output', 'inputs.customerId.length', 'inputs.tags.first']) {
      expect(() => evaluateExpression(expr, ctx), expr).toThrow(ExpressionEvaluationError);
      expect(() => evaluateExpression(expr, ctx), expr).toThrow(new RegExp(expr.replaceAll('.', '\\.')));
    }
  });

  it('do not read inherited properties', () => {
    expect(() => evaluateExpression('inputs.constructor', ctx)).toThrow(ExpressionEvaluationError);
    expect(() => evaluateExpression('inputs.__proto__', ctx)).toThrow();
  });
});
