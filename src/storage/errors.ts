/** A storage failure with a stable code (never carries a stored value, never a password). */
export class StorageError extends Error {
  /** Its message is for people (the CLI prints it without a stack trace). */
  readonly userFacing = true;
  readonly exitCode = 1;
  constructor(
    readonly code: 'ERR_STORAGE_OPEN' | 'ERR_STORAGE_NEWER' | 'ERR_STORAGE_MIGRATION' | 'ERR_STORAGE_IMPORT',
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/** The message a refused unknown (newer) migration carries, on every backend. */
export function newerMigrationMessage(component: string, unknown: readonly string[]): string {
  return `the state database has ${component} migration ${unknown.join(', ')}, which this version of Skillgate does not know: it was written by a newer version. Run that version, or restore a backup; nothing was changed.`;
}
