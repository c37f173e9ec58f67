/**
 * The built CLI on small broken data sets: every user mistake gives a non-zero exit, one
 * line on stderr starting with "gapseg:" that names the file or option, no stack trace, and
 * no run folder left behind. And the help texts list every option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { errorLine, runCli, tmpDir, writePng, type CliResult } from './helpers.js';
import { encodePng } from '../src/data/decode.js';
import { TRAIN_COMMAND } from '../src/options/train.js';
import { EVAL_COMMAND, PREDICT_COMMAND } from '../src/options/predict.js';
import { DEMO_COMMAND, EXPORT_COMMAND, VIEW_COMMAND } from '../src/options/commands.js';
import { DEFAULT_DENSE_CRF } from '../src/crf/denseCrf.js';
import { makeRng } from '../src/util/random.js';

const SIZE = 32;
const CLASSES = ['--classes', '0=background,255=smoke', '--void', '128'];

interface DataOptions {
  pairs?: number;
  /** Label values for pair i (default: left half 0, right half 255, a void stripe). */
  label?: (i: number) => Uint8Array;
  labelSize?: (i: number) => [number, number];
}

function defaultLabel(): Uint8Array {
  const v = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) v[y * SIZE + x] = x < 14 ? 0 : x < 18 ? 128 : 255;
  return v;
}

/** A small images/ + labels/ data set of 32x32 pairs. */
async function dataset(opts: DataOptions = {}): Promise<string> {
  const root = tmpDir('gapseg-cli-');
  const n = opts.pairs ?? 3;
  for (let i = 0; i < n; i++) {
    const rgb = Uint8Array.from({ length: SIZE * SIZE * 3 }, (_, j) => (j * (i + 3)) % 256);
    await writePng(path.join(root, 'images', `img${i}.png`), rgb, SIZE, SIZE, 3);
    const [w, h] = opts.labelSize?.(i) ?? [SIZE, SIZE];
    const lab = opts.label?.(i) ?? (w === SIZE && h === SIZE ? defaultLabel() : new Uint8Array(w * h));
    await writePng(path.join(root, 'labels', `img${i}.png`), lab, w, h, 1);
  }
  return root;
}

/** A run folder path that does not exist yet. */
function freshOut(): string {
  return path.join(tmpDir('gapseg-cli-out-'), 'run');
}

/**
 * The contract for a user mistake: non-zero exit, exactly one error line starting with
 * "gapseg:" and containing every `mention` (after at most the compute-path and note lines),
 * no stack trace, nothing on stdout.
 */
function assertUserError(r: CliResult, ...mentions: string[]): void {
  const detail = `exit ${r.code}\nstderr:\n${r.stderr}\nstdout:\n${r.stdout}`;
  assert.notEqual(r.code, 0, detail);
  assert.ok(r.code !== 70, `exit 70 means an internal error\n${detail}`);
  const line = errorLine(r.stderr, detail);
  assert.ok(!r.stderr.includes('    at '), `stack trace on stderr\n${detail}`);
  for (const m of mentions) assert.ok(line.includes(m), `stderr should mention ${m}\n${detail}`);
  assert.equal(r.stdout, '', detail);
}

const train = (data: string, out: string, ...extra: string[]) =>
  runCli(['train', data, '--out', out, '--epochs', '1', '--crop', '32', '--depth', '2', '--width', '4', '--threads', '1', ...extra]);

test('train with a corrupt image names the image; no run folder is made', async () => {
  const data = await dataset();
  const bad = path.join(data, 'images', 'img1.png');
  const png = await encodePng(new Uint8Array(SIZE * SIZE * 3).fill(60), SIZE, SIZE, 3);
  fs.writeFileSync(bad, png.subarray(0, Math.floor(png.length / 2)));
  const out = freshOut();
  assertUserError(await train(data, out, ...CLASSES), bad);
  assert.ok(!fs.existsSync(out), 'no run folder');
});

test('train with a label whose size differs from its image names both files and sizes', async () => {
  const data = await dataset({ labelSize: (i) => (i === 2 ? [SIZE, 24] : [SIZE, SIZE]) });
  const out = freshOut();
  const r = await train(data, out, ...CLASSES);
  assertUserError(r, path.join(data, 'labels', 'img2.png'), path.join(data, 'images', 'img2.png'), '32x24', '32x32');
  assert.ok(!fs.existsSync(out));
});

test('train with a label value missing from the class description names the file and value', async () => {
  const data = await dataset({
    label: (i) => {
      const v = defaultLabel();
      if (i === 0) v[5 * SIZE + 7] = 42;
      return v;
    },
  });
  const out = freshOut();
  assertUserError(await train(data, out, ...CLASSES), path.join(data, 'labels', 'img0.png'), 'label value 42', 'x=7, y=5');
  assert.ok(!fs.existsSync(out));
});

test('train on a folder without image/label pairs names the folder', async () => {
  const empty = tmpDir('gapseg-cli-');
  fs.mkdirSync(path.join(empty, 'photos'));
  fs.writeFileSync(path.join(empty, 'photos', 'a.png'), await encodePng(new Uint8Array(12), 2, 2, 3));
  const out = freshOut();
  assertUserError(await train(empty, out, ...CLASSES), empty, 'no image/label pairs');
  assert.ok(!fs.existsSync(out));
  // Images without their labels: the label folder and the image are named.
  const half = await dataset({ pairs: 2 });
  fs.rmSync(path.join(half, 'labels', 'img1.png'));
  assertUserError(await train(half, out, ...CLASSES), path.join(half, 'labels'), 'img1.png');
  assert.ok(!fs.existsSync(out));
});

test('train on a data set whose every pixel is void says so', async () => {
  const data = await dataset({ label: () => new Uint8Array(SIZE * SIZE).fill(128) });
  const out = freshOut();
  // --quiet: the loading summary line would precede the error (loading itself succeeds).
  assertUserError(await train(data, out, ...CLASSES, '--quiet'), data, 'void');
  assert.ok(!fs.existsSync(out));
});

test('train with a malformed gapseg.json names it', async () => {
  const data = await dataset();
  const json = path.join(data, 'gapseg.json');
  fs.writeFileSync(json, '{"classes": {"0": "background", "255": "smoke"}, "void": [128]');
  const out = freshOut();
  assertUserError(await train(data, out), json, 'not valid JSON');
  assert.ok(!fs.existsSync(out));
  // Valid JSON that describes a value twice is named too.
  fs.writeFileSync(json, '{"classes": {"0": "background", "255": "background"}}');
  assertUserError(await train(data, out), json, '"background"');
  // And a data set with no class description at all points to the ways to give one.
  fs.rmSync(json);
  assertUserError(await train(data, out), data, '--classes');
  assert.ok(!fs.existsSync(out));
});

test('an unknown option, a bad option value and a missing --out are named', async () => {
  const data = await dataset({ pairs: 1 });
  const out = freshOut();
  // Independent runs, started together.
  const [unknown, badValue, badCrop, noOut, badCommand, noModel] = await Promise.all([
    train(data, out, ...CLASSES, '--bogus', '3'),
    train(data, out, ...CLASSES, '--epochs', 'many'),
    train(data, out, ...CLASSES, '--crop', '8'),
    runCli(['train', data, ...CLASSES]),
    runCli(['frobnicate']),
    runCli(['predict', path.join(data, 'no-such-run'), path.join(data, 'images', 'img0.png'), '--out', out]),
  ]);
  assertUserError(unknown, '--bogus');
  assert.equal(unknown.code, 2);
  assertUserError(badValue, '--epochs', '"many"');
  assertUserError(badCrop, '--crop');
  assertUserError(noOut, '--out');
  assert.equal(noOut.code, 2);
  assertUserError(badCommand, '"frobnicate"');
  assertUserError(noModel, path.join(data, 'no-such-run'));
  assert.ok(!fs.existsSync(out));
});

test("a crop that is not a multiple of the network's is rounded, with a note saying so", async () => {
  const data = await dataset({ pairs: 2 });
  const out = freshOut();
  const r = await train(data, out, ...CLASSES, '--crop', '30');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^note: --crop 30 rounded to 32, a multiple of 4 \(2\^depth/m);
  assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { crop: number }).crop, 32);
});

test('gapseg --help and gapseg <command> --help exit 0, list every command and option, basic ones first, within 100 columns', async () => {
  const main = await runCli(['--help']);
  assert.equal(main.code, 0, main.stderr);
  assert.equal(main.stderr, '');
  for (const c of ['train', 'predict', 'eval', 'demo', 'view', 'export'])
    assert.match(main.stdout, new RegExp(`^  ${c} `, 'm'), `command ${c}`);
  const schemas = [TRAIN_COMMAND, PREDICT_COMMAND, EVAL_COMMAND, DEMO_COMMAND, VIEW_COMMAND, EXPORT_COMMAND];
  const helps = await Promise.all(schemas.map((schema) => runCli([schema.name, '--help'])));
  for (const [i, schema] of schemas.entries()) {
    const r = helps[i];
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: gapseg ${schema.name}`, 'm'));
    for (const o of schema.options.filter((d) => !d.apiOnly)) {
      const flag = o.kind === 'flag' && o.default === true ? `no-${o.name}` : o.name;
      assert.match(r.stdout, new RegExp(`^  --${flag}\\b`, 'm'), `${schema.name} --help lists --${flag}`);
    }
    const long = r.stdout.split('\n').filter((l) => l.length > 100);
    assert.deepEqual(long, [], `${schema.name} --help fits 100 columns`);
    const [basic, advanced] = [r.stdout.indexOf('\noptions:\n'), r.stdout.indexOf('\nadvanced options:\n')];
    if (advanced >= 0) assert.ok(basic >= 0 && basic < advanced, `${schema.name}: the basic options come first`);
  }
});

test('a mistyped option or command names the nearest one', async () => {
  const [option, negated, command] = await Promise.all([
    runCli(['train', 'data', '--epoch', '3']),
    runCli(['train', 'data', '--no-augmnt']),
    runCli(['trian']),
  ]);
  assert.equal(option.code, 2);
  assert.match(errorLine(option.stderr, option.stderr), /unknown option --epoch \(did you mean --epochs\?\)/);
  assert.match(errorLine(negated.stderr, negated.stderr), /unknown option --no-augmnt \(did you mean --no-augment\?\)/);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /unknown command "trian" \(did you mean train\?\)/);
});

test('a class description with fewer than two real classes is refused in one line before any training', async () => {
  const data = await dataset({ pairs: 2 });
  const [one, none] = await Promise.all([
    train(data, freshOut(), '--classes', '0=background,255=void', '--void', '128'),
    train(data, freshOut(), '--classes', '255=smoke', '--void', '128,0'),
  ]);
  assertUserError(one, '--classes: 1 real class (0=background', 'training needs at least two');
  assertUserError(none, '--classes: 1 real class (255=smoke');
});

test('a kept model no better than the most frequent class everywhere ends the run with a warning that says so', async () => {
  // Images of one flat grey, labels drawn at random (1% smoke): no network can tell the pixels apart, and a guess of smoke costs more than it finds.
  const rng = makeRng(4);
  const data = await dataset({ pairs: 6, label: () => Uint8Array.from({ length: SIZE * SIZE }, () => (rng.next() < 0.99 ? 0 : 255)) });
  for (let i = 0; i < 6; i++)
    await writePng(path.join(data, 'images', `img${i}.png`), new Uint8Array(SIZE * SIZE * 3).fill(120), SIZE, SIZE, 3);
  const r = await train(data, freshOut(), '--classes', '0=background,255=smoke', '--no-augment', '--valid-fraction', '0.34');
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /^warning: the kept model \(epoch 1\) is no better than predicting "background" everywhere \(validation mean IoU [0-9.]+ against [0-9.]+\)/m,
  );
  assert.match(r.stderr, /kept model: .*\(epoch 1 of 1, validation mean IoU [0-9.]+\)$/m);
});

test('a label file nobody may read is named with the permission problem, not called a bad image format', async () => {
  // Root reads every file: as root, the command runs as nobody, with folders of its own to write.
  const uid = process.getuid?.() === 0 ? 65534 : undefined;
  const data = await dataset({ pairs: 3 });
  for (const d of [data, path.join(data, 'images'), path.join(data, 'labels')]) fs.chmodSync(d, 0o755);
  for (const n of fs.readdirSync(path.join(data, 'images'))) fs.chmodSync(path.join(data, 'images', n), 0o644);
  const label = path.join(data, 'labels', 'img1.png');
  fs.chmodSync(label, 0o000);
  const own = tmpDir('gapseg-cli-nobody-');
  fs.chmodSync(own, 0o777);
  const r = await runCli(
    ['train', data, '--out', path.join(own, 'run'), ...CLASSES, '--encoder', 'unet', '--epochs', '1', '--crop', '32'],
    {
      uid,
      env: { GAPSEG_CACHE_DIR: path.join(own, 'cache'), TMPDIR: own },
    },
  );
  assertUserError(r, label, 'permission denied');
});

test('a run folder inside a folder of the data set (its images or labels) is refused before anything is written', async () => {
  const data = await dataset({ pairs: 2 });
  const before = fs.readdirSync(path.join(data, 'images')).sort();
  const r = await train(data, path.join(data, 'images', 'run'), ...CLASSES);
  assertUserError(r, path.join(data, 'images'), 'a folder of the data set');
  assert.deepEqual(fs.readdirSync(path.join(data, 'images')).sort(), before);
});

test('with three or more classes and no --class-weights, a run weighs rare classes up (logged, kept in config.json); with two it does not', async () => {
  const three = await dataset({
    pairs: 3,
    label: () => Uint8Array.from({ length: SIZE * SIZE }, (_, j) => (j % SIZE < 20 ? 0 : j % SIZE < 28 ? 1 : 2)),
  });
  const out = freshOut();
  const r = await train(three, out, '--classes', 'a,b,c');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^class weights \(square roots of median frequency balancing\): a [0-9.]+, b [0-9.]+, c [0-9.]+$/m);
  const weights = (JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { classWeights: number[] }).classWeights;
  assert.equal(weights.length, 3);
  assert.ok(weights[0] < weights[1] && weights[1] < weights[2], `the rarer the class, the more it weighs: ${weights}`);
  const two = await train(await dataset({ pairs: 3 }), freshOut(), ...CLASSES);
  assert.equal(two.code, 0, two.stderr);
  assert.doesNotMatch(two.stderr, /class weights/);
});

test('outputs never replace inputs by a slip: a run folder that is the data set itself, an export to a file that is not .onnx', async () => {
  const data = await dataset({ pairs: 2 });
  const inData = await train(data, data, ...CLASSES);
  assertUserError(inData, data, "is the data set's own folder");
  const slip = await runCli(['export', data, '--out', path.join(data, 'images', 'img0.png')]);
  assertUserError(slip, '--out', 'must name a .onnx file');
  assert.ok(fs.existsSync(path.join(data, 'images', 'img0.png')));
});
