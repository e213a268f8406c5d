import type { CatalogRefusalCode } from '../curation/catalog.js';

/** Failures of the tool-call pipeline, one closed family narrowed by `code`. */
export type ToolCallErrorCode =
  /** The server does not offer this tool. */
  | 'ERR_TOOL_UNKNOWN'
  /** The pinned catalog withholds it (not approved, changed, server changed, catalog unavailable). */
  | CatalogRefusalCode;

export class ToolCallError extends Error {
  constructor(
    readonly code: ToolCallErrorCode,
    /** Safe to show the agent. */
    message: string,
    /** For logs and audit only. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'ToolCallError';
  }
}
