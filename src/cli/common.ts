/** What every command shares: a command's shape, its log and its progress. */
import type { CommandSchema, ParsedArgs } from '../options/schema.js';
import { progressBars } from './progress.js';

/** A command: its options (options/) and what it does with them; returns the exit code. */
export interface Command {
  schema: CommandSchema;
  run: (args: ParsedArgs) => Promise<number>;
}

/** Write a line to stderr (progress and notes go there; results go to stdout). */
export function log(line: string): void {
  process.stderr.write(line + '\n');
}

/**
 * The API's options from the parsed flags: the command-line-only ones (--quiet) taken out, and the
 * log and progress bars added.
 */
export function apiOptions(
  args: ParsedArgs,
): Record<string, unknown> & { log: (line: string) => void; onProgress: ReturnType<typeof progressBars> } {
  const { quiet, ...values } = args.values;
  return { ...values, log, onProgress: progressBars(quiet === true) };
}
