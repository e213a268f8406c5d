/** Failures of the audit trail's own operations (not of what it records), one closed family. */
export type AuditErrorCode =
  /** The signing key cannot be read or is not an Ed25519 key. */
  | 'ERR_AUDIT_KEY'
  /** Another writer holds the store; the log retries. */
  | 'ERR_AUDIT_BUSY'
  /** The store cannot be written or read. */
  | 'ERR_AUDIT_STORAGE'
  /** An export file or a query is malformed (the message names the line or the parameter). */
  | 'ERR_AUDIT_INPUT';

export class AuditError extends Error {
  /** Its message is for people (the CLI prints it without a stack trace). */
  readonly userFacing = true;
  readonly exitCode = 1;
  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AuditError';
  }
}
