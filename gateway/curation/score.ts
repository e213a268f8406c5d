/**
 * Scores one server: every rule over every tool and over the server itself, then a grade per
 * tool and for the server.
 *
 * Grades: a tool starts at 100 and loses 35 per error, 10 per warning, 2 per note (notes at most
 * 10 in all); A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, else F. A security error makes it F whatever
 * the rest: a poisoned tool is not "mostly fine". The server's score is the mean of its
 * tools' less its own findings' penalties, and it is F when any security error was found in it
 * (its tools' text all reaches the model together).
 */
import { definitionHash } from './definition.js';
import { RULE_INFO, RULES } from './rules/index.js';
import type { Finding, Level, Probe, RuleContext } from './rules/types.js';
import type { UpstreamInventory, UpstreamServerInfo } from '../upstream/types.js';

export type Grade = 'A' | 'B' | 'C' | 'D' | 'F';

/** How the gateway reaches the server: what was approved is this server, launched this way. */
export interface ServerIdentity extends UpstreamServerInfo {
  /** stdio: the command and arguments as configured. */
  command?: string;
  args?: string[];
  /** Streamable HTTP: the endpoint. */
  url?: string;
}

export interface ToolReport {
  name: string;
  title?: string;
  description?: string;
  /** The definition hash a pin would record (absent when the definition has no canonical form). */
  hash?: string;
  score: number;
  grade: Grade;
  findings: Finding[];
  /** The definition as the server sent it. */
  definition: { [key: string]: unknown };
}

export interface CurationReport {
  server: string;
  identity: ServerIdentity;
  generatedAt: string;
  score: number;
  grade: Grade;
  counts: Record<Level, number>;
  tools: ToolReport[];
  /** Findings about the server itself (instructions, prompts, resources, the list as a whole). */
  serverFindings: Finding[];
  inventory: {
    instructions?: string;
    resources: Array<{ name?: string; uri?: string; description?: string }>;
    resourceTemplates: Array<{ name?: string; uriTemplate?: string; description?: string }>;
    prompts: Array<{ name?: string; description?: string; arguments?: unknown }>;
    errors: string[];
  };
  /** Tools called with their documented example (read-only ones), and what came back. */
  probed: string[];
}

const PENALTY: Record<Level, number> = { error: 35, warning: 10, note: 2 };

export function gradeOf(score: number): Grade {
  return score >= 90 ? 'A' : score >= 80 ? 'B' : score >= 70 ? 'C' : score >= 60 ? 'D' : 'F';
}

function scoreOf(findings: readonly Finding[]): number {
  let notes = 0;
  let s = 100;
  for (const f of findings) {
    if (f.level === 'note') notes += PENALTY.note;
    else s -= PENALTY[f.level];
  }
  return Math.max(0, s - Math.min(notes, 10));
}

const securityError = (f: Finding): boolean => f.level === 'error' && RULE_INFO.get(f.ruleId)?.family === 'security';

export interface ScoreInput {
  server: string;
  identity: ServerIdentity;
  inventory: UpstreamInventory;
  /** Tool names of the other configured servers (shadowing). */
  otherServers?: ReadonlyMap<string, readonly string[]>;
  probes?: ReadonlyMap<string, Probe>;
  /** Clock for `generatedAt` (tests). */
  now?: () => Date;
}

/**
 * Score a server's inventory.
 *
 * @example const report = scoreServer({ server: 'hr', identity, inventory: await pool.inventory('hr') });
 */
export function scoreServer(input: ScoreInput): CurationReport {
  const ctx: RuleContext = {
    server: input.server,
    inventory: input.inventory,
    otherServers: input.otherServers ?? new Map(),
    ...(input.probes ? { probes: input.probes } : {}),
  };
  const tools: ToolReport[] = input.inventory.tools.map((def, i) => {
    const name = typeof def.name === 'string' ? def.name : `(tool ${i})`;
    const findings: Finding[] = [];
    for (const rule of RULES) {
      if (rule.scope !== 'tool') continue;
      for (const f of rule.check(def, ctx)) findings.push({ ruleId: rule.id, level: f.level ?? rule.level, tool: name, pointer: f.pointer, message: f.message });
    }
    let hash: string | undefined;
    try {
      hash = definitionHash(def);
    } catch {
      hash = undefined;
    }
    return {
      name,
      ...(typeof def.title === 'string' ? { title: def.title } : {}),
      ...(typeof def.description === 'string' ? { description: def.description } : {}),
      ...(hash ? { hash } : {}),
      score: 0,
      grade: 'F' as Grade,
      findings,
      definition: def,
    };
  });
  const serverFindings: Finding[] = [];
  for (const rule of RULES) {
    if (rule.scope !== 'server') continue;
    for (const f of rule.check(ctx)) {
      const finding: Finding = { ruleId: rule.id, level: f.level ?? rule.level, pointer: f.pointer, message: f.message, ...(f.tool !== undefined ? { tool: f.tool } : {}) };
      const owner = f.tool !== undefined ? tools.find((t) => t.name === f.tool) : undefined;
      if (owner) owner.findings.push(finding);
      else serverFindings.push(finding);
    }
  }
  for (const t of tools) {
    t.findings.sort((a, b) => a.ruleId.localeCompare(b.ruleId) || a.pointer.localeCompare(b.pointer));
    t.score = t.findings.some(securityError) ? Math.min(scoreOf(t.findings), 59) : scoreOf(t.findings);
    t.grade = gradeOf(t.score);
  }
  const mean = tools.length ? tools.reduce((s, t) => s + t.score, 0) / tools.length : 100;
  let score = Math.round(Math.max(0, mean - (100 - scoreOf(serverFindings))));
  if (serverFindings.some(securityError) || tools.some((t) => t.findings.some(securityError))) score = Math.min(score, 59);
  const all = [...serverFindings, ...tools.flatMap((t) => t.findings)];
  const counts: Record<Level, number> = { error: 0, warning: 0, note: 0 };
  for (const f of all) counts[f.level]++;
  const inv = input.inventory;
  const pick = <K extends string>(o: { [k: string]: unknown }, keys: readonly K[]): Partial<Record<K, string>> =>
    Object.fromEntries(keys.filter((k) => typeof o[k] === 'string').map((k) => [k, o[k]])) as Partial<Record<K, string>>;
  return {
    server: input.server,
    identity: input.identity,
    generatedAt: (input.now?.() ?? new Date()).toISOString(),
    score,
    grade: gradeOf(score),
    counts,
    tools,
    serverFindings,
    inventory: {
      ...(inv.instructions !== undefined ? { instructions: inv.instructions } : {}),
      resources: inv.resources.map((r) => pick(r, ['name', 'uri', 'description'] as const)),
      resourceTemplates: inv.resourceTemplates.map((r) => pick(r, ['name', 'uriTemplate', 'description'] as const)),
      prompts: inv.prompts.map((p) => ({ ...pick(p, ['name', 'description'] as const), ...(p.arguments !== undefined ? { arguments: p.arguments } : {}) })),
      errors: inv.errors,
    },
    probed: [...(input.probes?.keys() ?? [])],
  };
}
