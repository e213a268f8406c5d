/**
 * Every curation rule, in report order. An id names one check forever; a text rule that reads
 * both tools and the server's own text appears twice here (once per scope) under one id.
 */
import { SECURITY_RULES } from './security.js';
import { SPEC_RULES } from './spec.js';
import type { Family, Level, Rule } from './types.js';
import { USABILITY_RULES } from './usability.js';

export const RULES: readonly Rule[] = [...SPEC_RULES, ...SECURITY_RULES, ...USABILITY_RULES];

/** What a report says about a rule (one entry per id). */
export interface RuleInfo {
  id: string;
  family: Family;
  level: Level;
  name: string;
  why: string;
}

/** One entry per rule id, sorted by id. */
export const RULE_INFO: ReadonlyMap<string, RuleInfo> = new Map(
  [...new Map(RULES.map((r) => [r.id, { id: r.id, family: r.family, level: r.level, name: r.name, why: r.why }])).values()].sort((a, b) => a.id.localeCompare(b.id)).map((r) => [r.id, r]),
);
