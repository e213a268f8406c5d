/** The machine-readable report: the reports as scored, plus the rules they refer to. */
import { RULE_INFO, type RuleInfo } from '../rules/index.js';
import type { CurationReport } from '../score.js';

export interface JsonReport {
  reports: CurationReport[];
  /** Every rule a finding names, by id. */
  rules: RuleInfo[];
}

/** `skillgate curate --json`. */
export function renderJson(reports: readonly CurationReport[]): string {
  const used = new Set(reports.flatMap((r) => [...r.serverFindings, ...r.tools.flatMap((t) => t.findings)].map((f) => f.ruleId)));
  const doc: JsonReport = { reports: [...reports], rules: [...RULE_INFO.values()].filter((r) => used.has(r.id)) };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
