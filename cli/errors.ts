/** An error the CLI prints as `slipway: message` + `hint`; exit code 1 (2 for usage errors). */
export class CliError extends Error {
  readonly hint?: string;
  readonly id?: string;
  readonly status?: number;
  readonly exitCode: number;
  constructor(message: string, opts: { hint?: string; id?: string; status?: number; exitCode?: number } = {}) {
    super(message);
    this.hint = opts.hint;
    this.id = opts.id;
    this.status = opts.status;
    this.exitCode = opts.exitCode ?? 1;
  }
}

export function usageError(message: string, usage: string): CliError {
  return new CliError(message, { hint: `usage: ${usage}`, exitCode: 2 });
}
