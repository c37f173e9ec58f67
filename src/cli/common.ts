/** Pieces shared by several commands: class options, engine start, logging. */
import { parseClassesFlag, classIndex, type ClassDescription } from '../data/classes.js';
import { initEngine } from '../engine/engine.js';
import { DEFAULT_MAX_PIXELS, type DecodeLimits } from '../data/decode.js';
import { GapsegError } from '../util/errors.js';
import type { OptionSpec, Parsed } from './args.js';
import { list, num, str } from './args.js';

export const CLASS_OPTIONS: OptionSpec[] = [
  { name: 'classes', type: 'string', placeholder: 'spec', help: 'label values and class names, e.g. "0=background,255=smoke"' },
  { name: 'void', type: 'list', placeholder: 'value|name', help: 'label value(s) or name(s) that mean unlabelled; repeatable' },
  { name: 'class-file', type: 'string', placeholder: 'file', help: 'a codes.txt or gapseg.json class description' },
];

export const THREADS_OPTION: OptionSpec = { name: 'threads', type: 'int', placeholder: 'n', help: 'compute threads (default: all cores, at most 8)' };

/** The class description given on the command line, if any. */
export function classesFromFlags(p: Parsed): { classes: ClassDescription | null; file: string | null } {
  const spec = str(p, 'classes');
  const file = str(p, 'class-file') ?? null;
  if (spec && file) throw new GapsegError('give either --classes or --class-file, not both', 2);
  if (spec) return { classes: parseClassesFlag(spec, list(p, 'void')), file: null };
  if (list(p, 'void').length > 0) {
    throw new GapsegError('--void goes with --classes; in a class file, name void values there ("void" in codes.txt, "void": [...] in gapseg.json)', 2);
  }
  return { classes: null, file };
}

export const MAX_PIXELS_OPTION: OptionSpec = {
  name: 'max-pixels',
  type: 'int',
  placeholder: 'n',
  help: `refuse images with more pixels than this, before decoding them (default ${DEFAULT_MAX_PIXELS}, 16384^2)`,
};

/** Decode limits from --max-pixels. */
export function limitsFromFlags(p: Parsed): DecodeLimits | undefined {
  const v = p.opts['max-pixels'] as number | undefined;
  if (v === undefined) return undefined;
  if (v < 1) throw new GapsegError('--max-pixels must be at least 1', 2);
  return { maxPixels: v };
}

/** Start the tensor engine with the --threads option. */
export async function startEngine(p: Parsed): Promise<void> {
  const t = p.opts.threads as number | undefined;
  if (t !== undefined && (t < 1 || t > 8)) throw new GapsegError('--threads must be between 1 and 8', 2);
  await initEngine({ threads: t });
}

/** Class indices for --forbid names (or numeric label values). */
export function forbiddenIndices(names: string[], classes: { name: string; value: number }[]): number[] {
  return names.map((n) => {
    const byName = classes.findIndex((c) => c.name === n);
    if (byName >= 0) return byName;
    if (/^\d+$/.test(n)) {
      const byValue = classes.findIndex((c) => c.value === Number(n));
      if (byValue >= 0) return byValue;
    }
    return classIndex({ classes: classes.map((c) => ({ ...c, color: [0, 0, 0] })), voidValues: [] }, n);
  });
}

/** Write a line to stderr (progress and notes go there; results go to stdout). */
export function log(line: string): void {
  process.stderr.write(line + '\n');
}

export { num };
