/**
 * Many images from the command line: outputs (label values, overlays, 8/16-bit probability
 * maps, .npy), --shard (no overlap, no gap, deterministic), --resume (skips complete images,
 * redoes incomplete ones), and bad input (reported and skipped, or --strict stops).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { engine, errorLine, runCli, tmpDir } from './helpers.js';
import { foreignModel, readGrey, readNpy, saveTinyModel, writeTestImage } from './predictHelpers.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { parseShard, selectShard } from '../src/predict/shard.js';
import { shuffled, makeRng } from '../src/util/random.js';

let model = '';
let images = '';

before(async () => {
  await engine();
  const dir = tmpDir();
  model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4 });
  await exportOnnx(model, { threads: 2, version: 'test' });
  images = path.join(dir, 'images');
  for (let i = 0; i < 12; i++) await writeTestImage(path.join(images, `img${String(i).padStart(2, '0')}.png`), 48 + i, 40, i);
});

const labelFiles = (out: string) =>
  fs.existsSync(path.join(out, 'labels'))
    ? fs
        .readdirSync(path.join(out, 'labels'))
        .filter((f) => !f.startsWith('.'))
        .sort()
    : [];

test('outputs: label values, overlay, 16-bit probabilities and .npy agree', async () => {
  const out = path.join(tmpDir(), 'out');
  const r = await runCli(['predict', model, path.join(images, 'img03.png'), '--out', out, '--npy', '--prob-bits', '16', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const npy = readNpy(path.join(out, 'npy', 'img03.npy'));
  assert.deepEqual(npy.shape, [40, 51, 2]);
  const labels = await readGrey(path.join(out, 'labels', 'img03.png'));
  const meta = await sharp(path.join(out, 'probs', 'img03.png')).metadata();
  assert.equal(meta.depth, 'ushort');
  const probs = await sharp(path.join(out, 'probs', 'img03.png'))
    .toColourspace('grey16')
    .raw({ depth: 'ushort' })
    .toBuffer();
  const p16 = new Uint16Array(probs.buffer, probs.byteOffset, probs.length / 2);
  for (let i = 0; i < labels.data.length; i++) {
    const p0 = npy.data[2 * i];
    const p1 = npy.data[2 * i + 1];
    assert.ok(Math.abs(p0 + p1 - 1) < 1e-5);
    assert.ok(Math.abs(p16[i] - p1 * 65535) <= 1);
    // Label values are the data set's own: 0 for background, 255 for smoke.
    assert.equal(labels.data[i], p1 > p0 ? 255 : 0);
  }
  const overlay = await sharp(path.join(out, 'overlays', 'img03.png')).metadata();
  assert.equal(overlay.channels, 3);
  assert.equal(overlay.width, 51);
});

test('--shard i/n: every image in exactly one shard, the same one whatever the listing order', async () => {
  const dir = tmpDir();
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await runCli(['predict', model, images, '--out', path.join(dir, `s${i}`), '--shard', `${i}/3`, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    seen.push(...labelFiles(path.join(dir, `s${i}`)));
  }
  assert.deepEqual(
    seen.sort(),
    fs
      .readdirSync(images)
      .map((f) => f)
      .sort(),
    'the shards together cover every image exactly once',
  );
  const again = await runCli(['predict', model, images, '--out', path.join(dir, 'again'), '--shard', '1/3', '--quiet']);
  assert.equal(again.code, 0);
  assert.deepEqual(labelFiles(path.join(dir, 'again')), labelFiles(path.join(dir, 's1')));
  // Membership depends on the name only, not on the order or the other files listed.
  const files = Array.from({ length: 200 }, (_, i) => `/data/x${i}.jpg`);
  const mixed = shuffled(makeRng(3), files).slice(0, 150);
  for (let i = 0; i < 4; i++) {
    const s = { index: i, count: 4 };
    assert.deepEqual(new Set(selectShard(mixed, s)), new Set(selectShard(files, s).filter((f) => mixed.includes(f))));
    const size = selectShard(files, s).length;
    assert.ok(size > 30 && size < 70, `shard ${i} has ${size} of 200`);
  }
  assert.throws(() => parseShard('3/3'), /0\.\.2/);
  const bad = await runCli(['predict', model, images, '--out', path.join(dir, 'x'), '--shard', '1-3']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--shard expects i\/n/);
});

test('--resume skips images with complete outputs and redoes incomplete ones', async () => {
  const out = path.join(tmpDir(), 'out');
  const first = await runCli(['predict', model, images, '--out', out, '--quiet']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(labelFiles(out).length, 12);
  const before = fs.statSync(path.join(out, 'labels', 'img00.png')).mtimeMs;
  // An image interrupted between its files, and one whose image changed since.
  fs.rmSync(path.join(out, 'overlays', 'img04.png'));
  fs.writeFileSync(path.join(out, 'probs', '.img07.png.tmp-1-1'), 'partial');
  const old09 = fs.statSync(path.join(out, 'labels', 'img09.png')).mtimeMs;
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(path.join(images, 'img09.png'), later, later);
  const r = await runCli(['predict', model, images, '--out', out, '--resume', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /resume: 10 image\(s\) already have complete outputs; 2 to predict/);
  assert.ok(fs.existsSync(path.join(out, 'overlays', 'img04.png')));
  assert.ok(fs.statSync(path.join(out, 'labels', 'img09.png')).mtimeMs > old09, 'an image newer than its outputs is predicted again');
  assert.equal(fs.statSync(path.join(out, 'labels', 'img00.png')).mtimeMs, before, 'complete images are not rewritten');
  // Asking for an output that was not written before makes every image incomplete.
  const npy = await runCli(['predict', model, images, '--out', out, '--resume', '--npy', '--quiet']);
  assert.match(npy.stderr, /predicted 12 image/);
});

test('a corrupt image is reported by name and skipped with exit code 1; --strict stops at it', async () => {
  const dir = tmpDir();
  const inDir = path.join(dir, 'in');
  await writeTestImage(path.join(inDir, 'a.png'), 40, 32, 1);
  fs.writeFileSync(path.join(inDir, 'b.png'), Buffer.from('\x89PNG\r\n\x1a\n this is not really a png'));
  await writeTestImage(path.join(inDir, 'c.png'), 40, 32, 2);
  const r = await runCli(['predict', model, inDir, '--out', path.join(dir, 'out'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /b\.png: cannot decode image/);
  assert.match(r.stderr, /predicted 2 image\(s\).*1 failed: .*b\.png/);
  assert.deepEqual(labelFiles(path.join(dir, 'out')), ['a.png', 'c.png']);
  const strict = await runCli(['predict', model, inDir, '--out', path.join(dir, 'strict'), '--strict', '--quiet']);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /^gapseg: .*b\.png: cannot decode image/m);
  assert.doesNotMatch(strict.stderr, /internal error/);
  assert.ok(!labelFiles(path.join(dir, 'strict')).includes('c.png'), '--strict went on after the bad image');
});

test('a model that is not numbers is refused in one line: NaN weights by predict, eval and export; a foreign model whose output is NaN by predict, which stops', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model);
  const bin = path.join(model, 'weights.bin');
  fs.writeFileSync(bin, Buffer.from(new Float32Array(fs.statSync(bin).size / 4).fill(NaN).buffer));
  await writeTestImage(path.join(dir, 'in', 'a.png'), 40, 30, 1);
  await writeTestImage(path.join(dir, 'in', 'b.png'), 40, 30, 2);
  const data = path.join(dir, 'data');
  await writeTestImage(path.join(data, 'images', 'a.png'), 40, 30, 1);
  fs.mkdirSync(path.join(data, 'labels'));
  await sharp(Buffer.alloc(40 * 30), { raw: { width: 40, height: 30, channels: 1 } })
    .png()
    .toFile(path.join(data, 'labels', 'a.png'));
  const runs = await Promise.all([
    runCli(['predict', model, path.join(dir, 'in'), '--out', path.join(dir, 'out')]),
    runCli(['eval', model, data]),
    runCli(['export', model]),
  ]);
  for (const r of runs) {
    assert.equal(r.code, 1, r.stderr);
    assert.match(errorLine(r.stderr, r.stderr), new RegExp(`${bin.replace(/[/.]/g, '\\$&')}: weight .* holds NaN or infinite values`));
  }
  const onnx = path.join(dir, 'nan.onnx');
  fs.writeFileSync(onnx, foreignModel({ nan: true }));
  const r = await runCli([
    'predict',
    onnx,
    path.join(dir, 'in'),
    '--out',
    path.join(dir, 'nan-out'),
    '--channels',
    'background,smoke,void',
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^gapseg: \S*nan\.onnx: the model's output holds NaN or infinite values; it cannot predict\n$/m);
  assert.doesNotMatch(r.stderr, /skipped/, 'a broken model stops the batch, it does not skip image after image');
});
