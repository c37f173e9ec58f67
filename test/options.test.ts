/**
 * Options declared once (options/schema.ts): the same declaration parses the command line,
 * checks the API's options, writes --help and bounds a stored run configuration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkValues,
  defaultsOf,
  flagOf,
  formatHelp,
  keyOf,
  nearest,
  parseArgs,
  problemOf,
  type CommandSchema,
} from '../src/options/schema.js';
import { TRAIN_COMMAND } from '../src/options/train.js';
import { DEFAULT_TRAIN } from '../src/train/config.js';
import { GapsegError } from '../src/util/errors.js';

const SCHEMA: CommandSchema = {
  name: 'try',
  summary: 'a command to try the parser on',
  usage: 'gapseg try <in> [options]',
  description:
    'One paragraph that is long enough to be wrapped at the width the help is given, so that every line of it stays within the columns.\nA second paragraph.',
  positional: { min: 1, max: 2, names: 'one or two inputs' },
  options: [
    { name: 'out', kind: 'string', help: 'where to write', basic: true },
    { name: 'epochs', kind: 'int', min: 1, max: 10, help: 'passes', default: 3, basic: true },
    { name: 'rate', kind: 'number', min: 0, max: 1, help: 'a share', default: 0.5 },
    { name: 'forbid', kind: 'list', help: 'names' },
    { name: 'size', kind: 'numbers', count: 2, min: 1, help: 'width and height' },
    { name: 'crf', kind: 'settings', help: 'key=value settings' },
    { name: 'mode', kind: 'choice', choices: ['a', 'b'], help: 'a or b', default: 'a' },
    { name: 'bits', kind: 'int', choices: [8, 16], help: 'bit depth', default: 8 },
    { name: 'augment', kind: 'flag', help: 'no augmentation', default: true },
    { name: 'resume', kind: 'flag', help: 'continue' },
    { name: 'quiet', kind: 'flag', help: 'no bars', cliOnly: true },
    { name: 'pause-after', kind: 'int', min: 1, help: 'for programs', apiOnly: true },
  ],
  examples: ['gapseg try x --epochs 2'],
};

const userError = (f: () => unknown, pattern: RegExp) =>
  assert.throws(
    f,
    (e: unknown) => e instanceof GapsegError && e.exitCode === 2 && pattern.test(e.message) && !e.message.includes('\n'),
    String(pattern),
  );

test("names: an option's API key is its name in camelCase, and back", () => {
  assert.equal(keyOf('class-balance'), 'classBalance');
  assert.equal(keyOf('out'), 'out');
  assert.equal(flagOf('encoderLrDiv'), '--encoder-lr-div');
  assert.equal(nearest('epoch', ['epochs', 'crop']), 'epochs');
  assert.equal(nearest('trian', ['train', 'predict']), 'train');
  assert.equal(nearest('zzzzzz', ['train', 'predict']), null);
});

test('the command line: every kind of option parsed into API values, by key; only what was given', () => {
  const r = parseArgs(SCHEMA, [
    'in',
    '--epochs',
    '4',
    '--rate=0.25',
    '--forbid',
    'a,b',
    '--forbid',
    'c',
    '--size',
    '480x360',
    '--crf',
    'sigmaXY=5,iterations=3',
    '--mode',
    'b',
    '--bits',
    '16',
    '--no-augment',
    '--resume',
    '--quiet',
    'in2',
  ]);
  assert.deepEqual(r.positional, ['in', 'in2']);
  assert.deepEqual(r.values, {
    epochs: 4,
    rate: 0.25,
    forbid: ['a', 'b', 'c'],
    size: [480, 360],
    crf: { sigmaXY: 5, iterations: 3 },
    mode: 'b',
    bits: 16,
    augment: false,
    resume: true,
    quiet: true,
  });
  assert.deepEqual(parseArgs(SCHEMA, ['in']).values, {}, "defaults are the API's to apply");
  assert.deepEqual(defaultsOf(SCHEMA), { epochs: 3, rate: 0.5, mode: 'a', bits: 8, augment: true });
});

test('the command line: each mistake is one line naming the option (and the nearest one when mistyped)', () => {
  userError(() => parseArgs(SCHEMA, ['in', '--epochs', '11']), /^--epochs must be an integer between 1 and 10, got "11"$/);
  userError(() => parseArgs(SCHEMA, ['in', '--epochs', 'many']), /^--epochs must be an integer between 1 and 10, got "many"$/);
  userError(() => parseArgs(SCHEMA, ['in', '--rate', '2']), /--rate must be a number between 0 and 1/);
  userError(() => parseArgs(SCHEMA, ['in', '--mode', 'c']), /--mode must be a or b, got "c"/);
  userError(() => parseArgs(SCHEMA, ['in', '--bits', '12']), /--bits must be 8 or 16, got "12"/);
  userError(() => parseArgs(SCHEMA, ['in', '--size', '480']), /--size must be 2 numbers of at least 1/);
  userError(() => parseArgs(SCHEMA, ['in', '--crf', 'sigma']), /--crf expects key=number, got "sigma"/);
  userError(
    () => parseArgs(SCHEMA, ['in', '--epoch', '3']),
    /unknown option --epoch \(did you mean --epochs\?\) \(see: gapseg try --help\)/,
  );
  userError(() => parseArgs(SCHEMA, ['in', '--no-augmnt']), /did you mean --no-augment\?/);
  userError(() => parseArgs(SCHEMA, ['in', '--pause-after', '2']), /unknown option --pause-after/);
  userError(() => parseArgs(SCHEMA, ['in', '--resume=yes']), /--resume takes no value/);
  userError(() => parseArgs(SCHEMA, ['in', '--out']), /--out needs a value/);
  userError(() => parseArgs(SCHEMA, []), /expected one or two inputs/);
  userError(() => parseArgs(SCHEMA, ['a', 'b', 'c']), /too many arguments: c/);
});

test('the API: the same checks on the same options, an unknown key named with the nearest one, API-only options allowed', () => {
  checkValues(SCHEMA, { epochs: 2, forbid: ['x', 1], size: [3, 4], augment: false, pauseAfter: 2, log: () => undefined }, ['log']);
  userError(() => checkValues(SCHEMA, { epochs: 0 }), /^--epochs must be an integer between 1 and 10, got 0$/);
  userError(() => checkValues(SCHEMA, { epoch: 2 }), /^try: unknown option epoch \(did you mean epochs\?\)$/);
  userError(() => checkValues(SCHEMA, { quiet: true }), /unknown option quiet/);
  userError(() => checkValues(SCHEMA, { augment: 'no' }), /--augment must be true or false/);
  assert.equal(problemOf(SCHEMA.options[1], 5), null);
});

test('--help: the basic options first, then the advanced, one default format, wrapped to the width (100 at most)', () => {
  for (const columns of [60, 80, 100, 200]) {
    const help = formatHelp(SCHEMA, columns);
    for (const line of help.split('\n')) assert.ok(line.length <= Math.min(100, Math.max(60, columns)), `${columns} columns: "${line}"`);
    assert.ok(help.indexOf('\noptions:\n') < help.indexOf('\nadvanced options:\n'));
    assert.match(help, /^ {2}--no-augment +no augmentation$/m);
    assert.match(help, /--epochs <int> +passes \(default: 3\)/);
    assert.doesNotMatch(help, /pause-after|\(default: true\)/);
  }
});

test("train: the defaults of a run are the options' defaults, and a stored run is bounded by the same ranges", () => {
  const d = defaultsOf(TRAIN_COMMAND);
  assert.deepEqual(
    [
      DEFAULT_TRAIN.crop,
      DEFAULT_TRAIN.batch,
      DEFAULT_TRAIN.epochs,
      DEFAULT_TRAIN.lr,
      DEFAULT_TRAIN.augment.classBalance,
      DEFAULT_TRAIN.fineTune.freezeEpochs,
    ],
    [d.crop, d.batch, d.epochs, d.lr, d.classBalance, d.freezeEpochs],
  );
  // The gap loss has no fixed default: a run decides it from its training labels (losses/trainingLoss.ts).
  assert.equal(DEFAULT_TRAIN.gapLoss, null);
  assert.equal(d.gapLoss, undefined);
  const crop = TRAIN_COMMAND.options.find((o) => o.name === 'crop');
  assert.equal(problemOf(crop!, 8), 'an integer between 16 and 4096');
});
