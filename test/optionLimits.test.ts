/**
 * Every option of every command at its limits, generated from the schema: each bad value is one
 * line naming the option (exit code 2), and each limit itself is accepted. New options are tried
 * as soon as they are declared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, type CommandSchema, type OptionDef } from '../src/options/schema.js';
import { DEMO_COMMAND, EXPORT_COMMAND, VIEW_COMMAND } from '../src/options/commands.js';
import { EVAL_COMMAND, PREDICT_COMMAND } from '../src/options/predict.js';
import { TRAIN_COMMAND } from '../src/options/train.js';
import { GapsegError } from '../src/util/errors.js';

const COMMANDS: CommandSchema[] = [TRAIN_COMMAND, PREDICT_COMMAND, EVAL_COMMAND, EXPORT_COMMAND, VIEW_COMMAND, DEMO_COMMAND];

/** Just outside a limit, also where 1 is below a huge limit's float precision. */
const below = (v: number) => v - Math.max(1, Math.abs(v) / 1e6);
const above = (v: number) => v + Math.max(1, Math.abs(v) / 1e6);

/** Values an option must refuse, as typed on the command line. */
function badValues(d: OptionDef): string[] {
  const bad: string[] = [];
  switch (d.kind) {
    case 'int':
    case 'number':
      bad.push('', 'abc', 'NaN', 'Infinity', '-Infinity', '1e999');
      if (d.choices) bad.push(String(Math.max(...(d.choices as number[])) + 1));
      if (d.min !== undefined) bad.push(String(below(d.min)));
      if (d.max !== undefined) bad.push(String(above(d.max)));
      if (d.kind === 'int' && !d.choices) bad.push(String(d.min !== undefined && d.min > 0 ? d.min + 0.5 : 0.5));
      break;
    case 'choice':
      bad.push('', 'no-such-choice');
      break;
    case 'numbers':
      bad.push(
        '',
        'abc',
        'NaN,1',
        '1,,Infinity',
        Array(d.count === undefined ? 0 : d.count + 1)
          .fill('1')
          .join(',') || '1,abc',
      );
      if (d.min !== undefined)
        bad.push(
          Array(d.count ?? 1)
            .fill(String(d.min - 1))
            .join(','),
        );
      if (d.max !== undefined)
        bad.push(
          Array(d.count ?? 1)
            .fill(String(d.max + 1))
            .join(','),
        );
      break;
    case 'settings':
      bad.push('', 'sigma', 'sigma=abc', 'sigma=NaN', 'sigma=Infinity');
      break;
    case 'string':
    case 'list':
      bad.push('');
      break;
    case 'flag':
      break;
  }
  return bad;
}

/** Values at the limits that an option must take. */
function limitValues(d: OptionDef): string[] {
  if ((d.kind === 'int' || d.kind === 'number') && d.choices) return d.choices.map(String);
  if (d.kind === 'int' || d.kind === 'number') return [d.min, d.max].filter((v) => v !== undefined).map(String);
  if (d.kind === 'choice') return (d.choices ?? []).map(String);
  return [];
}

const positionals = (c: CommandSchema) => Array<string>(c.positional.min).fill('input');

function refused(c: CommandSchema, argv: string[], name: string): void {
  assert.throws(
    () => parseArgs(c, argv),
    (e: unknown) => e instanceof GapsegError && e.exitCode === 2 && !e.message.includes('\n') && e.message.includes(`--${name}`),
    `gapseg ${c.name} ${argv.join(' ')}: one line naming --${name}`,
  );
}

test('every option of every command: bad values are one line naming the option, the limits are accepted', () => {
  let cases = 0;
  for (const c of COMMANDS) {
    const cli = c.options.filter((d) => !d.apiOnly);
    const other = cli.find((d) => d.kind !== 'flag');
    for (const d of cli) {
      for (const v of badValues(d)) {
        refused(c, [...positionals(c), `--${d.name}`, v], d.name);
        refused(c, [...positionals(c), `--${d.name}=${v}`], d.name);
        cases += 2;
      }
      for (const v of limitValues(d)) {
        assert.doesNotThrow(() => parseArgs(c, [...positionals(c), `--${d.name}`, v]), `gapseg ${c.name} --${d.name} ${v}`);
        cases++;
      }
      if (d.kind === 'flag') {
        refused(c, [...positionals(c), `--${d.name}=yes`], d.name);
        cases++;
      } else {
        // A value left out: at the end, or before the next option (never taken as the value).
        refused(c, [...positionals(c), `--${d.name}`], d.name);
        const next = other && other !== d ? other : cli.find((o) => o !== d);
        if (next) refused(c, [...positionals(c), `--${d.name}`, `--${next.name}`, ...(next.kind === 'flag' ? [] : ['1'])], d.name);
        cases += 2;
      }
    }
  }
  assert.ok(cases > 300, `${cases} cases`);
  console.log(`option limits: ${cases} command lines tried over ${COMMANDS.length} commands`);
});
