/**
 * A small, declarative command-line parser: each command lists its options once, and the
 * same list drives parsing, validation and the --help text. Mistakes are user errors
 * that point to the command's help.
 */
import { GapsegError } from '../util/errors.js';

export type OptionType = 'string' | 'number' | 'int' | 'boolean' | 'list';

export interface OptionSpec {
  name: string;
  type: OptionType;
  help: string;
  placeholder?: string;
  default?: string | number | boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  description?: string;
  /** Minimum and maximum positional arguments (max Infinity for "any"). */
  positional: { min: number; max: number; names: string };
  options: OptionSpec[];
  examples: string[];
}

export interface Parsed {
  positional: string[];
  opts: Record<string, string | number | boolean | string[] | undefined>;
  /** Options the user gave explicitly. */
  given: Set<string>;
}

/** Parse argv (after the command name) against a command's spec. */
export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const opts: Parsed['opts'] = {};
  const given = new Set<string>();
  const positional: string[] = [];
  for (const o of spec.options) {
    if (o.type === 'list') opts[o.name] = [];
    else if (o.default !== undefined) opts[o.name] = o.default;
    else if (o.type === 'boolean') opts[o.name] = false;
  }
  const fail = (msg: string): never => {
    throw new GapsegError(`${msg} (see: gapseg ${spec.name} --help)`, 2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const o = byName.get(name);
    if (!o) fail(`unknown option --${name}`);
    const spec2 = o as OptionSpec;
    given.add(name);
    if (spec2.type === 'boolean') {
      if (eq > 0) fail(`--${name} takes no value`);
      opts[name] = true;
      continue;
    }
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) fail(`--${name} needs a value (${spec2.placeholder ?? spec2.type})`);
      value = argv[++i];
    }
    if (spec2.type === 'number' || spec2.type === 'int') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || (spec2.type === 'int' && !Number.isInteger(n))) {
        fail(`--${name} expects ${spec2.type === 'int' ? 'an integer' : 'a number'}, got "${value}"`);
      }
      opts[name] = n;
    } else if (spec2.type === 'list') {
      (opts[name] as string[]).push(...value.split(',').map((s) => s.trim()).filter(Boolean));
    } else {
      opts[name] = value;
    }
  }
  if (positional.length < spec.positional.min) fail(`expected ${spec.positional.names}`);
  if (positional.length > spec.positional.max) fail(`too many arguments: ${positional.slice(spec.positional.max).join(' ')}`);
  return { positional, opts, given };
}

/** The --help text of a command. */
export function formatHelp(spec: CommandSpec): string {
  const lines = [`gapseg ${spec.name} - ${spec.summary}`, '', `usage: ${spec.usage}`];
  if (spec.description) lines.push('', spec.description);
  if (spec.options.length) {
    lines.push('', 'options:');
    const left = spec.options.map((o) => `  --${o.name}${o.type === 'boolean' ? '' : ` <${o.placeholder ?? o.type}>`}`);
    const width = Math.max(...left.map((l) => l.length)) + 2;
    spec.options.forEach((o, i) => {
      const def = o.default !== undefined && o.type !== 'boolean' ? ` (default: ${o.default})` : '';
      lines.push(`${left[i].padEnd(width)}${o.help}${def}`);
    });
  }
  if (spec.examples.length) lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}

/** Typed accessors for parsed options. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.opts[name];
  return typeof v === 'string' ? v : undefined;
}
export function num(p: Parsed, name: string): number {
  return p.opts[name] as number;
}
export function flag(p: Parsed, name: string): boolean {
  return p.opts[name] === true;
}
export function list(p: Parsed, name: string): string[] {
  return (p.opts[name] as string[]) ?? [];
}

/** Refuse a numeric option outside a range. */
export function checkRange(p: Parsed, name: string, lo: number, hi: number): void {
  const v = p.opts[name];
  if (typeof v === 'number' && (v < lo || v > hi)) {
    throw new GapsegError(`--${name} must be between ${lo} and ${hi}, got ${v}`, 2);
  }
}
