/** Pieces shared by several commands: common options and logging. */
import { DEFAULT_MAX_PIXELS } from '../data/decode.js';
import type { OptionSpec, Parsed } from './args.js';
import { flag, list, str } from './args.js';
import { DEFAULT_DENSE_CRF, type RefineOption } from '../crf/denseCrf.js';
import { GapsegError } from '../util/errors.js';

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

/** --refine, --crf and --flips, shared by predict and eval. */
export const REFINE_OPTIONS: OptionSpec[] = [
  { name: 'refine', type: 'string', placeholder: 'crf|auto|none', help: 'auto: as the model\'s refinement check on its validation images says (flip averaging where it raised their accuracy, the dense CRF where it was harmless); crf: always refine with a dense CRF over the image colours; none: the network alone', default: 'auto' },
  { name: 'flips', type: 'boolean', help: 'average the network over the four flips of each window (4x its time; with --refine auto: as the check says, unless given)' },
  { name: 'crf', type: 'list', placeholder: 'key=value', help: `dense CRF settings over the defaults, e.g. sigmaRGB=8,iterations=10 (${Object.entries(DEFAULT_DENSE_CRF).map(([k, v]) => `${k}=${v}`).join(', ')})` },
];

/** --flips: true when given, else undefined (refine 'auto' then decides). */
export function flipsOption(p: Parsed): true | undefined {
  return flag(p, 'flips') || undefined;
}

/** The API's refine option from --refine and --crf. */
export function refineOption(p: Parsed): RefineOption {
  const kind = str(p, 'refine') ?? 'auto';
  const settings = list(p, 'crf');
  if (kind !== 'crf' && kind !== 'auto' && kind !== 'none') throw new GapsegError(`--refine must be crf, auto or none, not "${kind}"`, 2);
  if (kind !== 'crf' && settings.length) throw new GapsegError('--crf goes with --refine crf', 2);
  if (kind === 'none') return false;
  if (kind === 'auto') return 'auto';
  const o: Record<string, number> = {};
  for (const s of settings) {
    const m = /^\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(s);
    if (!m || !Number.isFinite(Number(m[2]))) throw new GapsegError(`--crf expects key=number, got "${s}"`, 2);
    o[m[1]] = Number(m[2]);
  }
  return settings.length ? o : true;
}
