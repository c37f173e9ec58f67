/**
 * Options declared once. Each command lists its options here (name, kind, range, default, help,
 * group), and everything else derives from that list: parsing the command line, its --help,
 * the API's checks of the same options (an option's API key is its name in camelCase) and the
 * checks of a stored run configuration. A mistake is a one-line error naming the option.
 */
import { GapsegError } from '../util/errors.js';

export type OptionKind = 'string' | 'int' | 'number' | 'flag' | 'choice' | 'list' | 'numbers' | 'settings';

export interface OptionDef {
  /** The flag without its dashes, e.g. 'class-balance'; the API's key is its camelCase. */
  name: string;
  kind: OptionKind;
  help: string;
  /** Listed first by --help: the few options most runs need. */
  basic?: boolean;
  placeholder?: string;
  /** The value when the option is not given; stated by --help. */
  default?: string | number | boolean;
  /** Inclusive range of a number, or of each number of a list. */
  min?: number;
  max?: number;
  /** The values a 'choice' (or an 'int') takes. */
  choices?: readonly (string | number)[];
  /** How many numbers a 'numbers' option holds (any count when absent). */
  count?: number;
  /** Only on the command line (the API has no such option, e.g. --quiet). */
  cliOnly?: boolean;
  /** Only in the API (no flag, e.g. a pause after some epochs for a program). */
  apiOnly?: boolean;
}

export interface CommandSchema {
  name: string;
  summary: string;
  usage: string;
  description: string;
  positional: { min: number; max: number; names: string };
  options: readonly OptionDef[];
  examples: readonly string[];
}

/** Values by API key. */
export type OptionValues = Record<string, unknown>;

/** The API key of an option name: 'class-balance' -> 'classBalance'. */
export function keyOf(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The flag of an API key: 'classBalance' -> '--class-balance'. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Edit distance between two short strings. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/** The candidate nearest to `word` (a prefix, or within a third of its length in edits), if any. */
export function nearest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = Infinity;
  for (const c of candidates) {
    const score = c.startsWith(word) || word.startsWith(c) ? 0.5 : distance(word, c);
    if (score < bestScore) [best, bestScore] = [c, score];
  }
  return bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

/** "a, b or c". */
const alternatives = (xs: readonly (string | number)[]) =>
  xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}` : String(xs[0] ?? '');

const describeRange = (d: OptionDef) =>
  d.min !== undefined && d.max !== undefined
    ? ` between ${d.min} and ${d.max}`
    : d.min !== undefined
      ? ` of at least ${d.min}`
      : d.max !== undefined
        ? ` of at most ${d.max}`
        : '';

/** What a value of the option must be, when `value` is not one (null when it is). */
export function problemOf(d: OptionDef, value: unknown): string | null {
  const inRange = (v: number) => (d.min === undefined || v >= d.min) && (d.max === undefined || v <= d.max);
  const isNumber = (v: unknown, integer: boolean) =>
    typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isInteger(v)) && inRange(v);
  switch (d.kind) {
    case 'int':
    case 'number':
      if (d.choices) return d.choices.includes(value as number) ? null : alternatives(d.choices);
      return isNumber(value, d.kind === 'int') ? null : `${d.kind === 'int' ? 'an integer' : 'a number'}${describeRange(d)}`;
    case 'flag':
      return typeof value === 'boolean' ? null : 'true or false';
    case 'string':
      return typeof value === 'string' && value !== '' ? null : 'a non-empty string';
    case 'choice':
      return d.choices?.includes(value as string) ? null : alternatives(d.choices ?? []);
    case 'list':
      return Array.isArray(value) && value.every((v) => (typeof v === 'string' && v !== '') || typeof v === 'number')
        ? null
        : 'a list of names or values';
    case 'numbers': {
      const ok = Array.isArray(value) && (d.count === undefined || value.length === d.count) && value.every((v) => isNumber(v, false));
      return ok ? null : `${d.count ?? 'a list of'} numbers${describeRange(d)}`;
    }
    case 'settings': {
      const ok =
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v));
      return ok ? null : 'key=number settings';
    }
  }
}

/** Check one value of an option; returns it (a user error names the option and what it takes). */
export function checkValue(d: OptionDef, value: unknown): unknown {
  const problem = problemOf(d, value);
  if (problem)
    throw new GapsegError(`--${d.name} must be ${problem}, got ${typeof value === 'string' ? `"${value}"` : JSON.stringify(value)}`, 2);
  return value;
}

/**
 * Check the values a program passed (by API key): each known one against its option, an unknown
 * key refused with the nearest known one. Keys in `extra` belong to the API alone (callbacks...).
 */
export function checkValues(schema: CommandSchema, values: OptionValues, extra: readonly string[] = []): void {
  const byKey = new Map(schema.options.filter((d) => !d.cliOnly).map((d) => [keyOf(d.name), d]));
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || extra.includes(key)) continue;
    const d = byKey.get(key);
    if (!d) {
      const near = nearest(key, [...byKey.keys(), ...extra]);
      throw new GapsegError(`${schema.name}: unknown option ${key}${near ? ` (did you mean ${near}?)` : ''}`, 2);
    }
    checkValue(d, value);
  }
}

/** The defaults of a command's options, by API key. */
export function defaultsOf(schema: CommandSchema): OptionValues {
  return Object.fromEntries(schema.options.filter((d) => d.default !== undefined).map((d) => [keyOf(d.name), d.default]));
}

/** The option of a name. */
export function optionOf(schema: CommandSchema, name: string): OptionDef {
  const d = schema.options.find((o) => o.name === name);
  if (!d) throw new Error(`${schema.name} has no option --${name}`);
  return d;
}

/** "key=number" items as an object (a malformed item is a user error naming the option). */
function settingsOf(d: OptionDef, items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const m = /^([A-Za-z]+)\s*=\s*(\S+)$/.exec(item);
    if (!m || !Number.isFinite(Number(m[2]))) throw new GapsegError(`--${d.name} expects key=number, got "${item}"`, 2);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/** What the command line gave: positional arguments and the options given, by API key. */
export interface ParsedArgs {
  positional: string[];
  values: OptionValues;
}

/** Parse a command's arguments (after its name) against its options. */
export function parseArgs(schema: CommandSchema, argv: readonly string[]): ParsedArgs {
  const fail = (msg: string): never => {
    throw new GapsegError(`${msg} (see: gapseg ${schema.name} --help)`, 2);
  };
  const byName = new Map(schema.options.filter((d) => !d.apiOnly).map((d) => [d.name, d]));
  const values: OptionValues = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    let name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    let d = byName.get(name);
    // A flag that is on by default is turned off with --no-<name>.
    let negated = false;
    if (!d && name.startsWith('no-') && byName.get(name.slice(3))?.default === true) {
      negated = true;
      name = name.slice(3);
      d = byName.get(name);
    }
    if (!d) {
      const near = nearest(
        name,
        [...byName.values()].map((o) => (o.kind === 'flag' && o.default === true ? `no-${o.name}` : o.name)),
      );
      return fail(`unknown option --${name}${near ? ` (did you mean --${near}?)` : ''}`);
    }
    const key = keyOf(d.name);
    if (d.kind === 'flag') {
      if (eq > 0) fail(`--${name} takes no value`);
      values[key] = !negated;
      continue;
    }
    const needsValue = (got: string): never => fail(`--${name} needs a value (${d.placeholder ?? d.kind})${got}`);
    let text: string;
    if (eq > 0) text = a.slice(eq + 1);
    else {
      // A value left out before the next option is refused, not taken as the value (--out=--x still can be).
      if (i + 1 >= argv.length) needsValue('');
      if (argv[i + 1].startsWith('--')) needsValue(`, got the option ${argv[i + 1]}`);
      text = argv[++i];
    }
    const items = (separator: RegExp) => {
      const found = text
        .split(separator)
        .map((s) => s.trim())
        .filter(Boolean);
      // An empty value (an unset shell variable, say) is a mistake, not an empty list.
      return found.length ? found : needsValue(`, got "${text}"`);
    };
    if (d.kind === 'int' || d.kind === 'number') values[key] = text.trim() === '' ? NaN : Number(text);
    else if (d.kind === 'list') values[key] = [...((values[key] as string[] | undefined) ?? []), ...items(/,/)];
    else if (d.kind === 'numbers') values[key] = items(/[,x]/i).map((v) => (/^[-+.\d][-+.\deE]*$/.test(v) ? Number(v) : NaN));
    else if (d.kind === 'settings') values[key] = { ...((values[key] as object | undefined) ?? {}), ...settingsOf(d, items(/,/)) };
    else values[key] = text;
    const problem = problemOf(d, values[key]);
    if (problem) throw new GapsegError(`--${d.name} must be ${problem}, got "${text}"`, 2);
  }
  if (positional.length < schema.positional.min) fail(`expected ${schema.positional.names}`);
  if (positional.length > schema.positional.max) fail(`too many arguments: ${positional.slice(schema.positional.max).join(' ')}`);
  return { positional, values };
}

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/ +/)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

/** The left column of an option in --help. */
function flagText(d: OptionDef): string {
  if (d.kind === 'flag') return d.default === true ? `--no-${d.name}` : `--${d.name}`;
  return `--${d.name} <${d.placeholder ?? (d.kind === 'choice' ? (d.choices ?? []).join('|') : d.kind)}>`;
}

/** The --help text of a command, wrapped to `columns` (at most 100). */
export function formatHelp(schema: CommandSchema, columns = 100): string {
  const width = Math.max(60, Math.min(columns, 100));
  // Paragraphs of the description apart, each wrapped.
  const description = schema.description.split('\n').flatMap((p, i) => [...(i > 0 ? [''] : []), ...wrap(p, width)]);
  const out = [`gapseg ${schema.name} - ${schema.summary}`, '', `usage: ${schema.usage}`, '', ...description];
  const indent = 2;
  const shown = schema.options.filter((d) => !d.apiOnly);
  const column = Math.min(30, Math.max(...shown.map((d) => flagText(d).length)) + indent + 2);
  const optionLines = (d: OptionDef) => {
    const shown = d.default !== undefined && d.kind !== 'flag' ? ` (default: ${d.default})` : '';
    const text = `${d.help}${shown}`;
    const left = `${' '.repeat(indent)}${flagText(d)}`;
    const body = wrap(text, width - column);
    if (left.length + 2 > column) return [left, ...body.map((l) => ' '.repeat(column) + l)];
    return body.map((l, i) => (i === 0 ? left.padEnd(column) : ' '.repeat(column)) + l);
  };
  const groups: [string, OptionDef[]][] = [
    ['options:', shown.filter((d) => d.basic)],
    ['advanced options:', shown.filter((d) => !d.basic)],
  ];
  for (const [title, defs] of groups) if (defs.length) out.push('', title, ...defs.flatMap(optionLines));
  if (schema.examples.length) out.push('', 'examples:', ...schema.examples.map((e) => `  ${e}`));
  return out.join('\n') + '\n';
}
