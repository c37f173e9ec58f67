/**
 * ONNX: gapseg's export matches the TensorFlow.js model and is what predict uses; foreign
 * ONNX models (built here by hand: a 3-class model whose "void" channel wins everywhere)
 * predict without their forbidden classes, in either layout, from logits or probabilities.
 */
import { disposeNet, netForward } from '../src/nets/index.js';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { engine, errorLine, runCli, tmpDir } from './helpers.js';
import { foreignModel, halves, readGrey, saveTinyModel, writeTestImage } from './predictHelpers.js';
import { loadModel } from '../src/formats/modelFolder.js';

import { readOnnxSummary } from '../src/formats/onnx/model.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { openPredictor } from '../src/predict/open.js';
import { nchwToNhwc } from '../src/util/layout.js';
import { makeRng } from '../src/util/random.js';

before(engine);

test('gapseg export: opset >= 13, NCHW with free sizes, batch norm folded, classes in metadata, same logits as TensorFlow.js', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4 });
  const r = await exportOnnx(model, { threads: 2, version: 'test' });
  assert.equal(r.file, path.join(model, 'model.onnx'));
  assert.ok(r.maxDiff < 1e-4, `export check diff ${r.maxDiff}`);
  const s = readOnnxSummary(fs.readFileSync(r.file));
  assert.ok(s.opsets.some((o) => o.domain === '' && o.version >= 13));
  assert.deepEqual(s.inputs[0].dims, ['batch', 3, 'height', 'width']);
  assert.deepEqual(s.outputs[0].dims, ['batch', 2, 'height', 'width']);
  assert.deepEqual([...new Set(s.nodes.map((n) => n.op))].sort(), ['Concat', 'Conv', 'ConvTranspose', 'MaxPool', 'Relu']);
  const meta = JSON.parse(s.metadata['gapseg.json']) as { classes: { name: string }[]; void: number[] };
  assert.deepEqual(
    meta.classes.map((c) => c.name),
    ['background', 'smoke'],
  );
  assert.deepEqual(meta.void, [128]);
  assert.deepEqual(JSON.parse(s.metadata['gapseg.input']).mean, [0.5, 0.5, 0.5]);

  // Independently of the export's own check: another batch, odd multiples of the stride.
  const [n, h, w] = [3, 12, 28];
  const rng = makeRng(4);
  const x = Float32Array.from({ length: n * h * w * 3 }, () => rng.next() * 6 - 3);
  const { net } = loadModel(model);
  const refT = tf.tidy(() => tf.transpose(netForward(net, tf.tensor4d(x, [n, h, w, 3]), false), [0, 3, 1, 2]));
  const ref = (await refT.data()) as Float32Array;
  refT.dispose();
  disposeNet(net);
  const p = await openPredictor(model, { threads: 2 });
  try {
    assert.equal(p.engine, 'onnx');
    const y = await p.net(nchwToNhwcInverse(x, n, h, w), n, h, w);
    let max = 0;
    for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(ref[i] - y[i]));
    assert.ok(max < 1e-4, `ONNX Runtime and TensorFlow.js differ by ${max}`);
  } finally {
    p.dispose();
  }
});

/** NHWC -> NCHW for a 3-channel batch. */
function nchwToNhwcInverse(x: Float32Array, n: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < h * w; p++) for (let c = 0; c < 3; c++) out[(b * 3 + c) * h * w + p] = x[(b * h * w + p) * 3 + c];
  // Check the converse helper on the way.
  assert.deepEqual(Array.from(nchwToNhwc(out, n, 3, h, w).subarray(0, 12)), Array.from(x.subarray(0, 12)));
  return out;
}

test('predict uses model.onnx only while it matches the weights; predictions equal the TensorFlow.js ones', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4 });
  await writeTestImage(path.join(dir, 'in', 'a.png'), 70, 50, 1);
  await writeTestImage(path.join(dir, 'in', 'b.png'), 64, 64, 2);
  const before = await runCli(['predict', model, path.join(dir, 'in'), '--out', path.join(dir, 'tfjs'), '--quiet']);
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stderr, /with TensorFlow\.js/);
  const ex = await runCli(['export', model]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stderr, /differ by at most/);
  const after = await runCli(['predict', model, path.join(dir, 'in'), '--out', path.join(dir, 'onnx'), '--quiet']);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stderr, /with ONNX Runtime/);
  assert.match(after.stderr, /^engine: ONNX Runtime \d+\.\d+\.\d+ on cpu, \d+ threads?/m, 'the compute path is named');
  // CUDA asked for: it runs there, or (no provider or GPU, as here) one error line says so; never the CPU silently.
  const cuda = await runCli(['predict', model, path.join(dir, 'in'), '--out', path.join(dir, 'cuda'), '--quiet', '--device', 'cuda']);
  if (cuda.code === 0) assert.match(cuda.stderr, /^engine: ONNX Runtime .* on cuda/m);
  else assert.match(errorLine(cuda.stderr, cuda.stderr), /cannot load the model on cuda .*CUDA provider/);
  for (const name of ['a', 'b']) {
    const a = await readGrey(path.join(dir, 'tfjs', 'labels', `${name}.png`));
    const b = await readGrey(path.join(dir, 'onnx', 'labels', `${name}.png`));
    let same = 0;
    for (let i = 0; i < a.data.length; i++) if (a.data[i] === b.data[i]) same++;
    // Logits agree to ~1e-5, so only exact near-ties could flip.
    assert.ok(same >= a.data.length - 2, `${name}: ${a.data.length - same} label pixels differ`);
  }
  // New weights in the folder: the old export no longer applies.
  const onnx = fs.readFileSync(path.join(model, 'model.onnx'));
  await saveTinyModel(model, { depth: 2, width: 4, seed: 2 });
  fs.writeFileSync(path.join(model, 'model.onnx'), onnx);
  const stale = await runCli(['predict', model, path.join(dir, 'in'), '--out', path.join(dir, 'stale'), '--quiet']);
  assert.equal(stale.code, 0, stale.stderr);
  assert.match(stale.stderr, /exported from other weights.*TensorFlow\.js/);
  const forced = await runCli(['predict', model, path.join(dir, 'in'), '--out', path.join(dir, 'stale2'), '--engine', 'onnx']);
  assert.notEqual(forced.code, 0);
  assert.match(forced.stderr, /gapseg export/);
});

function labelCounts(data: Uint8Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of data) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

async function foreignSetup(opts: Parameters<typeof foreignModel>[0]): Promise<{ dir: string; model: string; codes: string; img: string }> {
  const dir = tmpDir();
  const model = path.join(dir, 'foreign.onnx');
  fs.writeFileSync(model, foreignModel(opts));
  const codes = path.join(dir, 'codes.txt');
  fs.writeFileSync(codes, 'background\nsmoke\nvoid\n');
  const img = path.join(dir, 'in', 'halves.png');
  await halves(img);
  return { dir, model, codes, img };
}

test('a foreign 3-class model whose void channel wins everywhere: --forbid void never predicts it', async () => {
  const { dir, model, codes, img } = await foreignSetup({});
  const run = async (out: string, extra: string[]) => {
    const r = await runCli(['predict', model, img, '--out', path.join(dir, out), '--channel-file', codes, '--quiet', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return { labels: await readGrey(path.join(dir, out, 'labels', 'halves.png')), stderr: r.stderr };
  };
  const allowed = await run('allowed', ['--allow-void']);
  assert.deepEqual([...labelCounts(allowed.labels.data)], [[2, 1200]], 'with void allowed, void wins everywhere');
  for (const [out, extra] of [
    ['forbid', ['--forbid', 'void']],
    ['default', []],
  ] as const) {
    const { labels, stderr } = await run(out, [...extra]);
    assert.match(stderr, /NCHW logits/);
    assert.equal(labelCounts(labels.data).get(2), undefined, `${out}: void was predicted`);
    for (let y = 0; y < 30; y++) {
      assert.equal(labels.data[y * 40 + 5], 0, 'dark half is background');
      assert.equal(labels.data[y * 40 + 35], 1, 'bright half is smoke');
    }
  }
});

test('a foreign NHWC model with a softmax and a fixed input size: layout, probabilities and size read from the model', async () => {
  const { dir, model, codes, img } = await foreignSetup({ nhwc: true, softmax: true, fixed: [48, 32] });
  for (const extra of [[], ['--pad']]) {
    const out = path.join(dir, extra.length ? 'pad' : 'resize');
    const r = await runCli([
      'predict',
      model,
      img,
      '--out',
      out,
      '--channel-file',
      codes,
      '--forbid',
      'void',
      '--prob-classes',
      'smoke',
      ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /NHWC probabilities/);
    const labels = await readGrey(path.join(out, 'labels', 'halves.png'));
    assert.equal(labels.width, 40);
    assert.equal(labels.height, 30);
    assert.equal(labelCounts(labels.data).get(2), undefined);
    // Probabilities are renormalised over the allowed classes, never softmaxed again:
    // p(smoke) = sigmoid(2 * red), red normalised with ImageNet's mean and std.
    const probs = await readGrey(path.join(out, 'probs-smoke', 'halves.png'));
    const expect = (red: number) => 255 / (1 + Math.exp(-2 * ((red / 255 - 0.485) / 0.229)));
    assert.ok(Math.abs(probs.data[15 * 40 + 3] - expect(30)) <= 1, `dark: ${probs.data[15 * 40 + 3]} vs ${expect(30)}`);
    assert.ok(Math.abs(probs.data[15 * 40 + 36] - expect(220)) <= 1, `bright: ${probs.data[15 * 40 + 36]} vs ${expect(220)}`);
  }
});

test('foreign models: missing or mismatched class files are clear errors', async () => {
  const { dir, model, img } = await foreignSetup({ classes: 4 });
  const none = await runCli(['predict', model, img, '--out', path.join(dir, 'o')]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /foreign\.onnx: not a gapseg model.*--channel-file/);
  const wrong = await runCli(['predict', model, img, '--out', path.join(dir, 'o'), '--channels', 'background,smoke,void']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /foreign\.onnx: output shape \[1,4,64,96\].*names 3/);
  const bad = path.join(dir, 'bad.onnx');
  fs.writeFileSync(bad, 'not a model');
  const notOnnx = await runCli(['predict', bad, img, '--out', path.join(dir, 'o'), '--channels', 'a,b']);
  assert.equal(notOnnx.code, 1);
  assert.match(notOnnx.stderr, /bad\.onnx: /);
  assert.doesNotMatch(notOnnx.stderr, /internal error/);
});

test('a foreign model whose output is smaller than its input (here one score per image) is predicted with a note saying so', async () => {
  const { dir, model, codes, img } = await foreignSetup({ pooled: true });
  const r = await runCli(['predict', model, img, '--out', path.join(dir, 'out'), '--channel-file', codes, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /^note: \S*foreign\.onnx: its output is 1x1 for an input of \d+x\d+ \(one score per image: every pixel gets the same class\); the scores are upsampled to the image$/m,
  );
});
