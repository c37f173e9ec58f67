/**
 * The gap in the softmax (the default gap loss): during training one more output, the gap's,
 * in the classes' softmax, that no saved model keeps. Its loss and gradient against the
 * void-as-a-class cross-entropy, what training learns, the saved model without it, the CLI run
 * (resume, --init-from, --gap-loss none, old run configs) and the void-as-a-class training it
 * reproduces draw for draw.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { engine, runCli, TINY_NET, tmpDir, writePng } from './helpers.js';
import { gapSoftmaxLoss } from '../src/losses/gapSoftmax.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { lossTargets, maskedCrossEntropy } from '../src/losses/crossEntropy.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { createUNet, disposeUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { netForward, netLossAndGradients, type AnyNet } from '../src/nets/index.js';
import { trainStep } from '../src/train/step.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { loadModel, saveModel } from '../src/formats/modelFolder.js';
import { encodePng } from '../src/data/decode.js';
import { makeRng } from '../src/util/random.js';

before(engine);

const SIZE = 16;
/** Columns 0..5 background, 10..15 object, 6..9 the gap. */
const labels = new Uint8Array(SIZE * SIZE).map((_, i) => (i % SIZE < 6 ? 0 : i % SIZE > 9 ? 1 : VOID_INDEX));
const images = new Float32Array(SIZE * SIZE * 3).map((_, i) => ((Math.floor(i / 3) % SIZE) + (i % 3)) / SIZE);
const tiny = (gap: boolean) =>
  createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4, ...(gap ? { gapOutput: true } : {}) }, 7) as AnyNet;

test("gap softmax loss: the void-as-a-class cross-entropy (gap pixels inside the crop the gap output's), value and gradient; outside pixels add nothing; an all-void batch is all gap, finite", () => {
  const [n, h, w] = [1, 2, 4];
  const lab = new Uint8Array([0, 1, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX]);
  const valid = new Uint8Array([1, 1, 1, 1, 1, 1, 1, 0]);
  const z = tf.tensor4d([0.3, -1.2, 2, 1, -0.5, 0, 0, 0, 3, 40, -40, 1, -2, 2, 0.5, 7, 1, 1, 5, 0, 0.2, -0.1, 9, 9], [n, h, w, 3]);
  // The same batch as a three-class one: the gap class 2 at weight 1, the outside pixel void.
  const asClass = lossTargets(
    lab.map((c, i) => (c === VOID_INDEX && valid[i] ? 2 : c)),
    3,
    [2, 1, 1],
  );
  const want = maskedCrossEntropy(z, tf.tensor4d(asClass.oneHot, [n, h, w, 3]), asClass.weightSum);
  const got = gapSoftmaxLoss({ n, height: h, width: w, targets: lossTargets(lab, 2, [2, 1]), valid }, 2)(z);
  const [gotLoss, wantLoss] = [got.loss.dataSync()[0], want.loss.dataSync()[0]];
  assert.ok(Math.abs(gotLoss - wantLoss) < 1e-6, `${gotLoss} vs ${wantLoss}`);
  const [g, wg] = [got.grad.dataSync(), want.grad.dataSync()];
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - wg[i]) < 1e-7, `logit ${i}: ${g[i]} vs ${wg[i]}`);
  assert.deepEqual(Array.from(g.slice(21, 24)), [0, 0, 0], 'the pixel outside its image has no gradient');
  assert.throws(
    () => gapSoftmaxLoss({ n, height: h, width: w, targets: lossTargets(lab, 2) }, 2)(tf.zeros([n, h, w, 2]) as tf.Tensor4D),
    /2 classes and the gap/,
  );
  const allVoid = gapSoftmaxLoss({ n, height: h, width: w, targets: lossTargets(new Uint8Array(8).fill(VOID_INDEX), 2) }, 2)(z);
  const allVoidLoss = allVoid.loss.dataSync()[0];
  assert.ok(Number.isFinite(allVoidLoss) && allVoidLoss > 0);
  tf.dispose([z, got.grad, want.grad, allVoid.grad, got.loss, want.loss, allVoid.loss]);
});

test('the gap output: training puts it on the gap and off the labelled pixels without leaks; the saved model has the classes alone and predicts as the trained net; the loss and the network must agree', async () => {
  const net = tiny(true);
  const adam = createAdamState(net.params);
  const batch = { n: 1, height: SIZE, width: SIZE, images, targets: lossTargets(labels, 2) };
  const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  const loss = trainingLoss('softmax');
  await trainStep(net, adam, batch, hyper, loss);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 80; i++) await trainStep(net, adam, batch, hyper, loss);
  assert.equal(tf.memory().numTensors, before, 'training steps leak');
  await assert.rejects(() => trainStep(tiny(false), createAdamState(tiny(false).params), batch, hyper, loss), /2 classes and the gap/);
  const xs = tf.tensor4d(images, [1, SIZE, SIZE, 3]);
  const gapShare = logitsOf(net, xs, (logits) => tf.slice(tf.softmax(logits), [0, 0, 0, 2], [-1, -1, -1, 1]));
  const [inGap, onLabelled] = [mean(gapShare, (i) => labels[i] === VOID_INDEX), mean(gapShare, (i) => labels[i] !== VOID_INDEX)];
  assert.ok(
    inGap > 0.5 && onLabelled < 0.3,
    `gap output's share of the softmax in the gap ${inGap.toFixed(3)}, on labelled pixels ${onLabelled.toFixed(3)}`,
  );
  xs.dispose();
  const dir = tmpDir('gapseg-gap-');
  await saveModel(dir, net, {
    classes: {
      classes: [
        { name: 'background', values: [0] },
        { name: 'object', values: [255] },
      ],
      void: [],
    } as never,
    input: { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 64 },
    info: {},
  });
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'gapseg.json'), 'utf8')) as { model: { unet: Record<string, unknown> } };
  assert.equal(saved.model.unet.gapOutput, undefined, 'the saved config has no gap output');
  assert.deepEqual(gapWeights(dir), [], 'the saved weights have no gap output');
  const { net: loaded } = loadModel(dir);
  assert.equal(Object.keys(loaded.params).filter((k) => k.startsWith('gap')).length, 0);
  const x = tf.tensor4d(images, [1, SIZE, SIZE, 3]);
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(netForward(net, x, false), netForward(loaded, x, false)))).dataSync()[0]);
  assert.ok(d < 1e-5, `saved model predicts as the trained net (max difference ${d})`);
  x.dispose();
  disposeAdamState(adam);
  disposeUNet(net as never);
  disposeUNet(loaded as never);
});

/** f of the network's logits of x, read through the training pass (the loss records its input; batch statistics, as trained). */
function logitsOf(net: AnyNet, x: tf.Tensor4D, f: (logits: tf.Tensor4D) => tf.Tensor): Float32Array {
  let values: Float32Array = new Float32Array(0);
  const r = netLossAndGradients(net, x, (logits) => {
    values = tf.tidy(() => f(logits).dataSync() as Float32Array);
    return { loss: tf.scalar(0), grad: tf.zerosLike(logits) };
  });
  tf.dispose([...Object.values(r.grads), r.loss]);
  for (const s of r.batchStats.values()) tf.dispose([s.mean, s.variance]);
  return values;
}

/** Names of a saved model's weights that belong to a gap output. */
function gapWeights(dir: string): string[] {
  const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string }[] }[] };
  const names = model.weightsManifest.flatMap((m) => m.weights.map((w) => w.name));
  assert.ok(
    names.some((n) => n.includes('head')),
    `the manifest names the class head: ${names.slice(-3).join(', ')}`,
  );
  return names.filter((n) => n.startsWith('gap') || n.includes('/gap'));
}

function mean(v: Float32Array, where: (i: number) => boolean): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < v.length; i++) if (where(i)) ((s += v[i]), c++);
  return s / c;
}

/** `count` images of size x size: background labelled on the left, smoke on the right (`labelled` columns each), a gap (128) between. */
async function gapData(size = 32, count = 3, labelled = (3 * size) / 8): Promise<string> {
  const data = tmpDir('gapseg-gap-data-');
  fs.mkdirSync(path.join(data, 'images'));
  fs.mkdirSync(path.join(data, 'labels'));
  const rng = makeRng(3);
  for (let i = 0; i < count; i++) {
    const lab = new Uint8Array(size * size).map((_, j) => (j % size < labelled ? 0 : j % size >= size - labelled ? 255 : 128));
    const rgb = new Uint8Array(size * size * 3).map((_, j) => ((j / 3) % size >= size / 2 ? 200 : 40) + Math.floor(rng.next() * 20));
    await writePng(path.join(data, 'images', `img${i}.png`), rgb, size, size, 3);
    fs.writeFileSync(path.join(data, 'labels', `img${i}.png`), await encodePng(lab, size, size, 1));
  }
  return data;
}

test('gapseg train: the gap output by default (in checkpoints, so --resume continues it; out of the model); predict and --init-from work; --gap-loss none trains without it; a bad value is refused', async () => {
  const data = await gapData();
  const out = path.join(tmpDir('gapseg-gap-run-'), 'run');
  const common = ['--classes', '0=background,255=smoke', '--void', '128', '--crop', '32', '--depth', '2', '--width', '4', '--threads', '1'];
  const r = await runCli(['train', data, '--out', out, ...common, '--epochs', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /a gap output beside them while training/);
  const cfg = () => JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { gapLoss: unknown };
  assert.equal(cfg().gapLoss, 'softmax');
  const again = await runCli(['train', data, '--out', out, ...common, '--epochs', '2', '--resume']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /resuming after epoch 1/);
  assert.deepEqual(gapWeights(path.join(out, 'model')), []);
  const pred = await runCli(['predict', out, path.join(data, 'images'), '--out', path.join(out, 'pred')]);
  assert.equal(pred.code, 0, pred.stderr);
  assert.deepEqual(fs.readdirSync(path.join(out, 'pred', 'labels')).sort(), ['img0.png', 'img1.png', 'img2.png']);
  const refined = await runCli(['train', data, '--out', `${out}-2`, ...common, '--epochs', '1', '--init-from', out]);
  assert.equal(refined.code, 0, refined.stderr);
  const none = await runCli(['train', data, '--out', `${out}-3`, ...common, '--epochs', '1', '--gap-loss', 'none']);
  assert.equal(none.code, 0, none.stderr);
  assert.doesNotMatch(none.stderr, /gap output beside them/);
  assert.equal((JSON.parse(fs.readFileSync(path.join(`${out}-3`, 'config.json'), 'utf8')) as { gapLoss: unknown }).gapLoss, 'none');
  const bad = await runCli(['train', data, '--out', `${out}-4`, ...common, '--gap-loss', 'crf']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^gapseg: --gap-loss must be softmax or none, got "crf"/m);
});

test('gapseg train on sparse labels (most pixels unlabelled, as painted strokes) trains on the labelled pixels only, and says so', async () => {
  const data = await gapData(32, 3, 4);
  const out = path.join(tmpDir('gapseg-gap-run-'), 'run');
  const common = ['--classes', '0=background,255=smoke', '--void', '128', '--crop', '32', '--depth', '2', '--width', '4', '--threads', '1'];
  const r = await runCli(['train', data, '--out', out, ...common, '--epochs', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^note: 75\.0% of the training pixels are unlabelled, so the labels are sparse .*\(--gap-loss none\)$/m);
  assert.doesNotMatch(r.stderr, /gap output beside them/);
  assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { gapLoss: unknown }).gapLoss, 'none');
  // Asked for, the gap output trains on such labels too.
  const asked = await runCli(['train', data, '--out', `${out}-2`, ...common, '--epochs', '1', '--gap-loss', 'softmax']);
  assert.equal(asked.code, 0, asked.stderr);
  assert.match(asked.stderr, /a gap output beside them while training/);
  assert.doesNotMatch(asked.stderr, /labels are sparse/);
});

test('a run config of the band in the softmax resumes as the gap output; one of a gap loss gapseg no longer has is a one-line refusal', async () => {
  const data = await gapData();
  const out = path.join(tmpDir('gapseg-gap-old-'), 'run');
  const common = ['--classes', '0=background,255=smoke', '--void', '128', ...TINY_NET, '--quiet'];
  const r = await runCli(['train', data, '--out', out, ...common, '--epochs', '1']);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(out, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(file, JSON.stringify({ ...cfg, epochs: 2, gapLoss: { kind: 'band', weight: 1, softmax: true } }));
  const resumed = await runCli(['train', data, '--out', out, '--resume', '--quiet']);
  assert.equal(resumed.code, 0, resumed.stderr);
  fs.writeFileSync(file, JSON.stringify({ ...cfg, epochs: 3, gapLoss: { kind: 'ramp', weight: 1 } }));
  const old = await runCli(['train', data, '--out', out, '--resume', '--quiet']);
  assert.equal(old.code, 1, old.stderr);
  assert.match(old.stderr, /config\.json: this run trained with the gap loss "ramp", which gapseg no longer has; start over with --force/);
});

test('the gap output trains the void-as-a-class network draw for draw: the same crops (the gap balanced as a class), initial weights and losses, with no void output kept', async () => {
  // Every crop class-balanced, and images larger than the crops, so that where a crop is centred shows in the loss.
  const data = await gapData(64, 6);
  const dir = tmpDir('gapseg-gap-fix-');
  const common = ['--crop', '24', '--depth', '2', '--width', '4', '--threads', '1', '--epochs', '2', '--class-balance', '1'];
  const fix = await runCli([
    'train',
    data,
    '--out',
    path.join(dir, 'fix'),
    '--classes',
    '0=background,255=smoke,128=gap',
    '--gap-loss',
    'none',
    // As users of the fix train it: equal weights (gapseg weighs rare classes up from three classes on).
    '--class-weights',
    '1,1,1',
    ...common,
  ]);
  assert.equal(fix.code, 0, fix.stderr);
  const ours = await runCli([
    'train',
    data,
    '--out',
    path.join(dir, 'ours'),
    '--classes',
    '0=background,255=smoke',
    '--void',
    '128',
    ...common,
  ]);
  assert.equal(ours.code, 0, ours.stderr);
  const losses = (run: string) =>
    (JSON.parse(fs.readFileSync(path.join(dir, run, 'history.json'), 'utf8')) as { trainLoss: number }[]).map((e) => e.trainLoss);
  assert.deepEqual(losses('ours'), losses('fix'));
  assert.deepEqual(gapWeights(path.join(dir, 'ours', 'model')), []);
});
