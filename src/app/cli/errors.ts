/** An error whose message is written for the person at the terminal (no stack trace). */
export class CliError extends Error {
  readonly userFacing = true;
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
