import type { DataLossFinding } from '../../src/contracts/data-loss.js';
import { DETECTOR_LABEL } from './detectors.js';

/** Calls the data-loss filters refused, one closed family narrowed by `code`. */
export type DataLossErrorCode =
  /** A `block` rule matched in the arguments: nothing was sent upstream. */
  | 'ERR_DLP_BLOCKED_ARGUMENTS'
  /** A `block` rule matched in the result: the tool ran, its result is withheld. */
  | 'ERR_DLP_BLOCKED_RESULT';

/**
 * A call refused by a data-loss rule. The message names the rule, the config key that set it,
 * what was found and where (a JSON Pointer) — never the value — so it can be shown to the agent.
 */
export class DataLossError extends Error {
  readonly code: DataLossErrorCode;

  constructor(readonly finding: DataLossFinding) {
    const what = DETECTOR_LABEL[finding.rule];
    super(
      finding.in === 'arguments'
        ? `blocked by data-loss rule "${finding.rule}" (${finding.source}): the arguments hold ${what} at ${finding.path || '/'}; remove it and call again`
        : `result withheld by data-loss rule "${finding.rule}" (${finding.source}): it holds ${what} at ${finding.path}`,
    );
    this.name = 'DataLossError';
    this.code = finding.in === 'arguments' ? 'ERR_DLP_BLOCKED_ARGUMENTS' : 'ERR_DLP_BLOCKED_RESULT';
  }
}
