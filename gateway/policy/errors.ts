/**
 * Errors of the policy family. Loading is the only operation that fails as a whole; a request
 * never throws — a problem while evaluating it denies that side and is recorded in the
 * decision (see decision.ts).
 */
import { type Diagnostic, formatDiagnostic, sortDiagnostics } from '../../src/shared/diagnostics.js';

/** Closed set of policy error codes. */
export type PolicyErrorCode =
  /** A policy or schema file is missing, unreadable, malformed or fails validation. */
  'ERR_POLICY_INVALID';

/** The policy set could not be loaded; `diagnostics` lists every problem, `file:line:col`. */
export class PolicyLoadError extends Error {
  readonly code: PolicyErrorCode = 'ERR_POLICY_INVALID';
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    const sorted = sortDiagnostics(diagnostics);
    super(`invalid policies:\n${sorted.map(formatDiagnostic).join('\n')}`);
    this.name = 'PolicyLoadError';
    this.diagnostics = sorted;
  }
}
