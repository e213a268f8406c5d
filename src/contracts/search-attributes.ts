/**
 * The search attributes every skill run carries (Keyword, ids only — never PII), by name and
 * as typed keys. Operations filter runs in the Temporal UI with them (`SkillName="credit-issuance"`).
 */
import { defineSearchAttributeKey } from '@temporalio/common';

/** Their names, in the order the runtime registers them. */
export const SEARCH_ATTRIBUTES = ['SkillName', 'UserId', 'AgentId', 'Gateway', 'Workspace', 'RunState'] as const;

export type SearchAttributeName = (typeof SEARCH_ATTRIBUTES)[number];

/** The typed keys, by role: read them by key, never by position. */
export const RUN_SEARCH_ATTRIBUTES = {
  skillName: defineSearchAttributeKey('SkillName', 'KEYWORD'),
  userId: defineSearchAttributeKey('UserId', 'KEYWORD'),
  agentId: defineSearchAttributeKey('AgentId', 'KEYWORD'),
  gateway: defineSearchAttributeKey('Gateway', 'KEYWORD'),
  workspace: defineSearchAttributeKey('Workspace', 'KEYWORD'),
  /**
   * Set by the run while it waits on the user: `AwaitingAuthorization` (a step needs a
   * downstream grant), back to `Running` when it resumes. Filter: `RunState="AwaitingAuthorization"`.
   */
  runState: defineSearchAttributeKey('RunState', 'KEYWORD'),
} as const;

/** Values of RunState. */
export type RunStateValue = 'Running' | 'AwaitingAuthorization';
