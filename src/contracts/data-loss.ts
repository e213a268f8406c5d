/**
 * What the data-loss filters (gateway/dlp/, the pipeline's `filter-arguments` and
 * `filter-result` steps) found in one tool call: the mark every filtered call carries on its
 * pipeline context, for the audit event and the log. Never a matched value: a finding says
 * which rule, where (a JSON Pointer), what was done and how often.
 */

/** The detectors a gateway's `dataLoss` rules name (docs/config.md, `gateways.<g>.dataLoss`). */
export type DataLossDetector = 'email' | 'phone' | 'card-number' | 'iban' | 'us-ssn';

/** What a rule does with a match. `allow` rules are not scanned for at all. */
export type DataLossAction = 'redact' | 'block' | 'allow';

/** Which side of the call a finding is in. */
export type DataLossSide = 'arguments' | 'result';

/** Matches of one rule in one string of a call. */
export interface DataLossFinding {
  /** The detector, which is also the rule's name (`card-number`). */
  rule: DataLossDetector;
  /** The config key path of the rule that decided (a tool override or the gateway's rule). */
  source: string;
  in: DataLossSide;
  /**
   * JSON Pointer (RFC 6901) of the string: into the arguments (`/note`), or into the result
   * (`/content/0/text`, `/structuredContent/customer/email`).
   */
  path: string;
  action: 'redact' | 'block';
  /** Matches in that string. */
  count: number;
}

/** The data-loss outcome of one call (absent on calls whose gateway scans for nothing). */
export interface DataLossOutcome {
  findings: DataLossFinding[];
  /** The first finding of a `block` rule: the call was refused (arguments) or its result withheld. */
  blocked?: DataLossFinding;
}
