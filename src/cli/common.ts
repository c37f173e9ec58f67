/** Pieces shared by several commands: common options and logging. */
import { DEFAULT_MAX_PIXELS } from '../data/decode.js';
import type { OptionSpec, Parsed } from './args.js';

export const CLASS_OPTIONS: OptionSpec[] = [
  { name: 'classes', type: 'string', placeholder: 'spec', help: 'label values and class names, e.g. "0=background,255=smoke"' },
  { name: 'void', type: 'list', placeholder: 'value|name', help: 'label value(s) or name(s) that mean unlabelled; repeatable' },
  { name: 'class-file', type: 'string', placeholder: 'file', help: 'a codes.txt or gapseg.json class description' },
];

export const THREADS_OPTION: OptionSpec = { name: 'threads', type: 'int', placeholder: 'n', help: 'compute threads (default: all cores, at most 8)' };

export const MAX_PIXELS_OPTION: OptionSpec = {
  name: 'max-pixels',
  type: 'int',
  placeholder: 'n',
  help: `refuse images with more pixels than this, before decoding them (default ${DEFAULT_MAX_PIXELS}, 16384^2)`,
};

/** A numeric option the user gave, or undefined (so the API applies its default). */
export function given(p: Parsed, name: string): number | undefined {
  return p.given.has(name) ? (p.opts[name] as number) : undefined;
}

/** Write a line to stderr (progress and notes go there; results go to stdout). */
export function log(line: string): void {
  process.stderr.write(line + '\n');
}
