/**
 * A curation rule: one check with a stable id (`SG-SPEC-…` spec adherence, `SG-SEC-…`
 * security, `SG-USE-…` LLM usability), a level, and a sentence saying why it matters. Ids are
 * never reused or renumbered: reports, SARIF baselines and suppressions refer to them.
 */
import type { UpstreamInventory } from '../../upstream/types.js';

/** SARIF's levels: `error` blocks approval unless accepted, `warning` lowers the grade, `note` is advice. */
export type Level = 'error' | 'warning' | 'note';

export type Family = 'spec' | 'security' | 'usability';

/** Where a finding is: a tool (or the server itself) and a JSON Pointer into its definition. */
export interface FindingLocation {
  /** The tool's name, or undefined for the server (its instructions, its lists). */
  tool?: string;
  /** RFC 6901 pointer into the tool definition (or the server's inventory), e.g. `/inputSchema/properties/cmd`. */
  pointer: string;
}

export interface Finding extends FindingLocation {
  ruleId: string;
  level: Level;
  /** What was found here, specifically (quotes the offending text, with hidden characters shown). */
  message: string;
}

/** What a rule sees about the rest of the world. */
export interface RuleContext {
  /** The server being scored (its configured name). */
  server: string;
  inventory: UpstreamInventory;
  /**
   * Tool names of the OTHER configured servers, by server: text that steers the model to one
   * of them is shadowing.
   */
  otherServers: ReadonlyMap<string, readonly string[]>;
  /** Results of calling read-only tools with their own documented input example, by tool name. */
  probes?: ReadonlyMap<string, Probe>;
}

/** One call of a tool with its documented example (`skillgate curate` probes read-only tools). */
export type Probe = { input: unknown; result: unknown } | { input: unknown; error: string };

/** What a check returns: where and what; the rule's id and level (unless overridden) are added by the scorer. */
export interface RawFinding {
  pointer: string;
  message: string;
  /** Only for server rules: the tool the finding is about. */
  tool?: string;
  level?: Level;
}

/** A rule over one tool. `tool` is the raw definition as the server sent it. */
export interface ToolRule {
  id: string;
  family: Family;
  level: Level;
  /** Short name (SARIF `name`, HTML heading). */
  name: string;
  /** Why it matters (SARIF `fullDescription`, the report's explanation). */
  why: string;
  scope: 'tool';
  check(tool: { readonly [key: string]: unknown }, ctx: RuleContext): RawFinding[];
}

/** A rule over the server as a whole (its instructions, its tool set, duplicates). */
export interface ServerRule {
  id: string;
  family: Family;
  level: Level;
  name: string;
  why: string;
  scope: 'server';
  check(ctx: RuleContext): RawFinding[];
}

export type Rule = ToolRule | ServerRule;
