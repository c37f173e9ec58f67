/**
 * The band head (--gap-loss band): a band output beside the classes, trained on where the gap
 * lies, that no class decision sees and no saved model keeps. Its loss and gradient against the
 * formula, the class gradients untouched by it at weight 0, its own gradient against finite
 * differences, the saved model without it, and the CLI run (resume and --init-from included).
 * With --band-softmax the band logit joins the classes' softmax in training: the loss is then
 * the void-as-a-class cross-entropy, and the saved model still has the classes alone.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { engine, runCli, tmpDir, writePng } from './helpers.js';
import { bandLossTerm, bandSoftmaxTerm } from '../src/losses/bandLoss.js';
import { DEFAULT_BAND } from '../src/losses/gapLoss.js';
import { lossTargets, maskedCrossEntropy } from '../src/losses/crossEntropy.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { createUNet, disposeUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { netForward, netLossAndGradients, type AnyNet } from '../src/nets/index.js';
import { stepLoss, trainStep, withBand } from '../src/train/step.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { loadModel, saveModel } from '../src/formats/modelFolder.js';
import { encodePng } from '../src/data/decode.js';
import { makeRng } from '../src/util/random.js';

before(engine);

const SIZE = 16;
/** Columns 0..5 background, 10..15 object, 6..9 the gap. */
const labels = new Uint8Array(SIZE * SIZE).map((_, i) => (i % SIZE < 6 ? 0 : i % SIZE > 9 ? 1 : VOID_INDEX));
const images = new Float32Array(SIZE * SIZE * 3).map((_, i) => ((Math.floor(i / 3) % SIZE) + (i % 3)) / SIZE);
const tiny = (band: boolean) => createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4, ...(band ? { bandOutput: true } : {}) }, 7) as AnyNet;

test('band loss: binary cross-entropy of "in the gap" on every pixel inside the crop, each weighing `weight` labelled pixels; outside pixels and an all-void batch add no NaN', () => {
  const [n, h, w] = [1, 2, 4];
  // Pixels 0, 1 labelled (weight 2 and 1), 2..6 gap, 7 outside the image.
  const lab = new Uint8Array([0, 1, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX]);
  const valid = new Uint8Array([1, 1, 1, 1, 1, 1, 1, 0]);
  const targets = lossTargets(lab, 2, [2, 1]);
  const z = [0.3, -1.2, 2, -0.5, 0, 40, -40, 5];
  const term = bandLossTerm(0.5, { n, height: h, width: w, targets, valid });
  const { value, grad } = term(tf.tensor4d(z, [n, h, w, 1]));
  const g = grad.dataSync();
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  let want = 0;
  for (let i = 0; i < z.length; i++) {
    const y = i >= 2 && i <= 6 ? 1 : 0;
    const expected = i === 7 ? 0 : (0.5 * (sig(z[i]) - y)) / 3;
    assert.ok(Math.abs(g[i] - expected) < 1e-6, `pixel ${i}: ${g[i]} vs ${expected}`);
    if (i < 7) want -= (0.5 * (y ? Math.log(sig(z[i])) : Math.log(1 - sig(z[i])))) / 3;
  }
  assert.ok(Math.abs(value - want) < 1e-4, `${value} vs ${want}`);
  grad.dispose();
  const allVoid = bandLossTerm(1, { n, height: h, width: w, targets: lossTargets(new Uint8Array(8).fill(VOID_INDEX), 2) });
  const r = allVoid(tf.tensor4d(z, [n, h, w, 1]));
  assert.ok(Number.isFinite(r.value) && r.value > 0, 'an all-void batch is all band: a finite loss, normalised by its pixels');
  r.grad.dispose();
});

test('band softmax loss: the void-as-a-class cross-entropy (gap pixels inside the crop the band\'s, at `weight`), value and gradient; outside pixels add nothing; an all-void batch is all band, finite', () => {
  const [n, h, w] = [1, 2, 4];
  const lab = new Uint8Array([0, 1, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX]);
  const valid = new Uint8Array([1, 1, 1, 1, 1, 1, 1, 0]);
  const z = tf.tensor4d([0.3, -1.2, 2, 1, -0.5, 0, 0, 0, 3, 40, -40, 1, -2, 2, 0.5, 7, 1, 1, 5, 0, 0.2, -0.1, 9, 9], [n, h, w, 3]);
  // The same batch as a three-class one: the gap class 2 at weight 0.5, the outside pixel void.
  const asClass = lossTargets(lab.map((c, i) => (c === VOID_INDEX && valid[i] ? 2 : c)), 3, [2, 1, 0.5]);
  const want = maskedCrossEntropy(z, tf.tensor4d(asClass.oneHot, [n, h, w, 3]), asClass.weightSum);
  const got = bandSoftmaxTerm(0.5, { n, height: h, width: w, targets: lossTargets(lab, 2, [2, 1]), valid })(z);
  assert.ok(Math.abs(got.value - want.value) < 1e-6, `${got.value} vs ${want.value}`);
  const [g, wg] = [got.grad.dataSync(), want.grad.dataSync()];
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - wg[i]) < 1e-7, `logit ${i}: ${g[i]} vs ${wg[i]}`);
  assert.deepEqual(Array.from(g.slice(21, 24)), [0, 0, 0], 'the pixel outside its image has no gradient');
  assert.throws(() => bandSoftmaxTerm(1, { n, height: h, width: w, targets: lossTargets(lab, 2) })(tf.zeros([n, h, w, 2]) as tf.Tensor4D), /3 classes|2 classes/);
  const allVoid = bandSoftmaxTerm(1, { n, height: h, width: w, targets: lossTargets(new Uint8Array(8).fill(VOID_INDEX), 2) })(z);
  assert.ok(Number.isFinite(allVoid.value) && allVoid.value > 0);
  tf.dispose([z, got.grad, want.grad, allVoid.grad]);
});

test('band head: at weight 0 the class gradients are those of the same network without it; its own gradient matches finite differences', () => {
  const targets = lossTargets(labels, 2);
  const batch = { n: 1, height: SIZE, width: SIZE, targets };
  const x = tf.tensor4d(images, [1, SIZE, SIZE, 3]);
  const plain = tiny(false);
  const banded = tiny(true);
  const t = () => tf.tensor4d(targets.oneHot, [1, SIZE, SIZE, 2]);
  const t1 = t();
  const a = netLossAndGradients(plain, x, stepLoss(t1, targets.weightSum, null));
  const b = netLossAndGradients(banded, x, withBand(stepLoss(t1, targets.weightSum, null), bandLossTerm(0, batch)));
  assert.equal(b.loss, a.loss);
  for (const [name, g] of Object.entries(a.grads)) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(g, b.grads[name]))).dataSync()[0]);
    assert.ok(d < 1e-6, `${name} differs by ${d}`);
  }
  assert.ok(b.grads['band/kernel'].dataSync().every((v) => v === 0), 'no band gradient at weight 0');
  // Weight 1: the band bias's and one band kernel weight's gradients against central differences of the loss.
  const lossOf = () => netLossAndGradients(banded, x, withBand(stepLoss(t1, targets.weightSum, null), bandLossTerm(1, batch)));
  const g = lossOf();
  for (const [name, index] of [['band/bias', 0], ['band/kernel', 2]] as const) {
    const v = banded.params[name];
    const base = v.dataSync().slice();
    const at = (delta: number) => {
      const moved = base.slice();
      moved[index] += delta;
      v.assign(tf.tensor(moved, v.shape));
      const r = lossOf();
      tf.dispose(Object.values(r.grads));
      for (const s of r.batchStats.values()) tf.dispose([s.mean, s.variance]);
      return r.loss;
    };
    const eps = 1e-2;
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    v.assign(tf.tensor(base, v.shape));
    const analytic = g.grads[name].dataSync()[index];
    assert.ok(Math.abs(numeric - analytic) < 2e-3 + 0.02 * Math.abs(analytic), `${name}[${index}]: ${analytic} vs ${numeric}`);
  }
  for (const r of [a, b, g]) {
    tf.dispose(Object.values(r.grads));
    for (const s of r.batchStats.values()) tf.dispose([s.mean, s.variance]);
  }
  tf.dispose([x, t1]);
  disposeUNet(plain as never);
  disposeUNet(banded as never);
});

test('band head: training learns where the gap is; the saved model has the classes alone and predicts as the trained net; steps do not leak; a band loss without a band head is refused', async () => {
  const net = tiny(true);
  const adam = createAdamState(net.params);
  const batch = { n: 1, height: SIZE, width: SIZE, images, targets: lossTargets(labels, 2) };
  const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  trainStep(net, adam, batch, hyper, DEFAULT_BAND);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 80; i++) trainStep(net, adam, batch, hyper, DEFAULT_BAND);
  assert.equal(tf.memory().numTensors, before, 'band training steps leak');
  assert.throws(() => trainStep(tiny(false), createAdamState(tiny(false).params), batch, hyper, DEFAULT_BAND), /band/);
  assert.throws(() => trainStep(net, adam, batch, hyper, null), /band/);
  // In the softmax: the band wins in the gap and loses on labelled pixels, without leaks.
  const softNet = tiny(true);
  const softAdam = createAdamState(softNet.params);
  const soft = { ...DEFAULT_BAND, softmax: true };
  trainStep(softNet, softAdam, batch, hyper, soft);
  const softBefore = tf.memory().numTensors;
  for (let i = 0; i < 80; i++) trainStep(softNet, softAdam, batch, hyper, soft);
  assert.equal(tf.memory().numTensors, softBefore, 'band softmax training steps leak');
  const xs = tf.tensor4d(images, [1, SIZE, SIZE, 3]);
  const softBand = logitsOf(softNet, xs, (logits) => tf.slice(tf.softmax(logits), [0, 0, 0, 2], [-1, -1, -1, 1]));
  const [softGap, softLabelled] = [mean(softBand, (i) => labels[i] === VOID_INDEX), mean(softBand, (i) => labels[i] !== VOID_INDEX)];
  assert.ok(softGap > 0.5 && softLabelled < 0.3, `band share of the softmax in the gap ${softGap.toFixed(3)}, on labelled pixels ${softLabelled.toFixed(3)}`);
  xs.dispose();
  disposeAdamState(softAdam);
  disposeUNet(softNet as never);
  // The band logit: the network's features through the band head, the classes' forward unchanged.
  const dir = tmpDir('gapseg-band-');
  await saveModel(dir, net, { classes: { classes: [{ name: 'background', values: [0] }, { name: 'object', values: [255] }], void: [] } as never, input: { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 64 }, info: {} });
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'gapseg.json'), 'utf8')) as { model: { unet: Record<string, unknown> } };
  assert.equal(saved.model.unet.bandOutput, undefined, 'the saved config has no band head');
  assert.deepEqual(bandWeights(dir), [], 'the saved weights have no band head');
  const { net: loaded } = loadModel(dir);
  assert.equal(Object.keys(loaded.params).filter((k) => k.startsWith('band')).length, 0);
  const x = tf.tensor4d(images, [1, SIZE, SIZE, 3]);
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(netForward(net, x, false), netForward(loaded, x, false)))).dataSync()[0]);
  assert.ok(d < 1e-5, `saved model predicts as the trained net (max difference ${d})`);
  // The band head itself: high in the gap, low on labelled pixels.
  const bandProbs = bandOf(net, x);
  const gapMean = mean(bandProbs, (i) => labels[i] === VOID_INDEX);
  const labelledMean = mean(bandProbs, (i) => labels[i] !== VOID_INDEX);
  assert.ok(gapMean > labelledMean + 0.3, `band probability in the gap ${gapMean.toFixed(3)}, on labelled pixels ${labelledMean.toFixed(3)}`);
  x.dispose();
  disposeAdamState(adam);
  disposeUNet(net as never);
  disposeUNet(loaded as never);
});

/** The band head's probabilities of x. */
function bandOf(net: AnyNet, x: tf.Tensor4D): Float32Array {
  return logitsOf(net, x, (logits) => tf.sigmoid(tf.slice(logits, [0, 0, 0, logits.shape[3] - 1], [-1, -1, -1, 1])));
}

/** f of the network's logits of x, read through the training pass (the loss records its input; batch statistics, as trained). */
function logitsOf(net: AnyNet, x: tf.Tensor4D, f: (logits: tf.Tensor4D) => tf.Tensor): Float32Array {
  let values: Float32Array = new Float32Array(0);
  const r = netLossAndGradients(net, x, (logits) => {
    values = tf.tidy(() => f(logits).dataSync() as Float32Array);
    return { value: 0, grad: tf.zerosLike(logits) };
  });
  tf.dispose(Object.values(r.grads));
  for (const s of r.batchStats.values()) tf.dispose([s.mean, s.variance]);
  return values;
}

/** Names of a saved model's weights that belong to a band head. */
function bandWeights(dir: string): string[] {
  const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string }[] }[] };
  const names = model.weightsManifest.flatMap((m) => m.weights.map((w) => w.name));
  assert.ok(names.some((n) => n.includes('head')), `the manifest names the class head: ${names.slice(-3).join(', ')}`);
  return names.filter((n) => n.includes('band'));
}

function mean(v: Float32Array, where: (i: number) => boolean): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < v.length; i++) if (where(i)) (s += v[i]), c++;
  return s / c;
}

/** `count` images of size x size: background on the left, smoke on the right, a gap (128) between. */
async function bandData(size = 32, count = 3): Promise<string> {
  const data = tmpDir('gapseg-band-data-');
  fs.mkdirSync(path.join(data, 'images'));
  fs.mkdirSync(path.join(data, 'labels'));
  const rng = makeRng(3);
  for (let i = 0; i < count; i++) {
    const lab = new Uint8Array(size * size).map((_, j) => (j % size < (3 * size) / 8 ? 0 : j % size >= (5 * size) / 8 ? 255 : 128));
    const rgb = new Uint8Array(size * size * 3).map((_, j) => (lab[Math.floor(j / 3)] === 255 ? 200 : 40) + Math.floor(rng.next() * 20));
    await writePng(path.join(data, 'images', `img${i}.png`), rgb, size, size, 3);
    fs.writeFileSync(path.join(data, 'labels', `img${i}.png`), await encodePng(lab, size, size, 1));
  }
  return data;
}

test('gapseg train --gap-loss band: trains, keeps the band head in checkpoints (resume) and out of the model; predict and --init-from work; --band-weight alone is refused; --band-softmax trains the band in the softmax and is refused alone', async () => {
  const data = await bandData();
  const out = path.join(tmpDir('gapseg-band-run-'), 'run');
  const common = ['--classes', '0=background,255=smoke', '--void', '128', '--crop', '32', '--depth', '2', '--width', '4', '--threads', '1'];
  const stray = await runCli(['train', data, '--out', `${out}-x`, ...common, '--band-weight', '0.5']);
  assert.equal(stray.code, 2, stray.stderr);
  assert.match(stray.stderr, /--band-weight needs --gap-loss band/);
  const r = await runCli(['train', data, '--out', out, ...common, '--epochs', '1', '--gap-loss', 'band', '--band-weight', '0.5']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /a band head beside them for training/);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { gapLoss: unknown };
  assert.deepEqual(cfg.gapLoss, { kind: 'band', weight: 0.5 });
  const again = await runCli(['train', data, '--out', out, ...common, '--epochs', '2', '--gap-loss', 'band', '--band-weight', '0.5', '--resume']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /resuming after epoch 1/);
  assert.deepEqual(bandWeights(path.join(out, 'model')), []);
  const pred = await runCli(['predict', out, path.join(data, 'images'), '--out', path.join(out, 'pred')]);
  assert.equal(pred.code, 0, pred.stderr);
  assert.deepEqual(fs.readdirSync(path.join(out, 'pred', 'labels')).sort(), ['img0.png', 'img1.png', 'img2.png']);
  const refined = await runCli(['train', data, '--out', `${out}-2`, ...common, '--epochs', '1', '--gap-loss', 'band', '--init-from', out]);
  assert.equal(refined.code, 0, refined.stderr);
  const straySoftmax = await runCli(['train', data, '--out', `${out}-y`, ...common, '--band-softmax']);
  assert.equal(straySoftmax.code, 2, straySoftmax.stderr);
  assert.match(straySoftmax.stderr, /--band-softmax needs --gap-loss band/);
  const softmax = await runCli(['train', data, '--out', `${out}-3`, ...common, '--epochs', '1', '--gap-loss', 'band', '--band-softmax']);
  assert.equal(softmax.code, 0, softmax.stderr);
  assert.match(softmax.stderr, /band output in the classes' softmax during training/);
  assert.deepEqual((JSON.parse(fs.readFileSync(path.join(`${out}-3`, 'config.json'), 'utf8')) as { gapLoss: unknown }).gapLoss, { kind: 'band', weight: 1, softmax: true });
  assert.deepEqual(bandWeights(path.join(`${out}-3`, 'model')), []);
});

test('gapseg train --band-softmax is the void-as-a-class training draw for draw: the same crops (the band balanced as a class), initial weights and losses, with no void output kept', async () => {
  // Every crop class-balanced, and images larger than the crops, so that where a crop is centred shows in the loss.
  const data = await bandData(64, 6);
  const dir = tmpDir('gapseg-band-fix-');
  const common = ['--crop', '24', '--depth', '2', '--width', '4', '--threads', '1', '--epochs', '2', '--class-balance', '1'];
  const fix = await runCli(['train', data, '--out', path.join(dir, 'fix'), '--classes', '0=background,255=smoke,128=gap', ...common]);
  assert.equal(fix.code, 0, fix.stderr);
  const ours = await runCli(['train', data, '--out', path.join(dir, 'ours'), '--classes', '0=background,255=smoke', '--void', '128', '--gap-loss', 'band', '--band-softmax', ...common]);
  assert.equal(ours.code, 0, ours.stderr);
  const losses = (run: string) => (JSON.parse(fs.readFileSync(path.join(dir, run, 'history.json'), 'utf8')) as { trainLoss: number }[]).map((e) => e.trainLoss);
  assert.deepEqual(losses('ours'), losses('fix'));
  assert.deepEqual(bandWeights(path.join(dir, 'ours', 'model')), []);
});
