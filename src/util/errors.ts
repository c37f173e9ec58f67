/**
 * User-facing errors. A GapsegError is a mistake in the user's input or environment:
 * the CLI prints its one-line message and exits non-zero, without a stack trace.
 * Any other exception is a bug in gapseg and keeps its stack.
 */
export class GapsegError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'GapsegError';
    this.exitCode = exitCode;
  }
}

/** Throw a GapsegError that names the file and what is wrong with it. */
export function fileError(file: string, problem: string): never {
  throw new GapsegError(`${file}: ${problem}`);
}

/** Short text of an unknown thrown value, for wrapping library errors into user errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}
