/**
 * The Gated CRF gap loss: its value against a direct evaluation of the formula (every ordered
 * pair, whole window, clipped at the borders), its gradient against finite differences in
 * float64, the gate (padding gets neither loss nor gradient), 2 and 3 classes; the kernel on
 * the cpu backend; and training with it end to end (finite loss, no tensor leak, config.json
 * keeps it, resume works).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { engine, tmpDir } from './helpers.js';
import { GATED_CRF, gatedCrfLoss, type GatedCrfParams } from '../src/losses/gatedCrf.js';
import { DEFAULT_CRF, gapLossTerm } from '../src/losses/gapLoss.js';
import { createUNet, disposeUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { stepLoss, trainStep, type HostBatch } from '../src/train/step.js';
import { lossAndGradients } from '../src/nets/unet/backprop.js';
import { lossTargets } from '../src/losses/crossEntropy.js';
import { generateImage, writeSampleDataset } from '../src/data/sample.js';
import { DEFAULT_TRAIN, resolveClasses, runTraining } from '../src/train/run.js';
import { makeRng } from '../src/util/random.js';

before(engine);

type Shape = [number, number, number, number];

function randomInputs(shape: Shape, seed: number, gateOff = 0.2) {
  const [n, h, w, k] = shape;
  const rng = makeRng(seed);
  return {
    logits: Float64Array.from({ length: n * h * w * k }, () => rng.next() * 6 - 3),
    image: Float64Array.from({ length: n * h * w * 3 }, () => rng.next()),
    gate: Float64Array.from({ length: n * h * w }, () => (rng.next() < gateOff ? 0 : 1)),
  };
}

/** The formula as written: every pixel, every offset of the full window, no symmetry used. */
function directLoss(logits: ArrayLike<number>, image: ArrayLike<number>, gate: ArrayLike<number>, [n, h, w, k]: Shape, p: GatedCrfParams): number {
  const soft = (b: number, y: number, x: number) => {
    const o = ((b * h + y) * w + x) * k;
    const e = Array.from({ length: k }, (_, c) => Math.exp(logits[o + c]));
    const z = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / z);
  };
  let total = 0;
  let g = 0;
  for (let i = 0; i < n * h * w; i++) g += gate[i];
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let dy = -p.radius; dy <= p.radius; dy++) {
          for (let dx = -p.radius; dx <= p.radius; dx++) {
            const [qy, qx] = [y + dy, x + dx];
            if ((dx === 0 && dy === 0) || qy < 0 || qx < 0 || qy >= h || qx >= w) continue;
            const ip = (b * h + y) * w + x;
            const iq = (b * h + qy) * w + qx;
            let d2 = 0;
            for (let c = 0; c < 3; c++) d2 += (image[3 * ip + c] - image[3 * iq + c]) ** 2;
            const wt = Math.exp(-(dx * dx + dy * dy) / (2 * p.sigmaXY ** 2) - d2 / (2 * p.sigmaRGB ** 2)) * gate[ip] * gate[iq];
            const sp = soft(b, y, x);
            const sq = soft(b, qy, qx);
            total += wt * (1 - sp.reduce((a, v, c) => a + v * sq[c], 0));
          }
        }
      }
    }
  }
  return g > 0 ? (p.weight / g) * total : 0;
}

const P: GatedCrfParams = { weight: 0.7, radius: 2, sigmaXY: 1.5, sigmaRGB: 0.3 };

const cases: [string, Shape, GatedCrfParams][] = [
  ['2 classes', [2, 5, 7, 2], P],
  ['3 classes', [1, 6, 5, 3], P],
  ['a window larger than the image (clipped at every border)', [2, 3, 4, 3], { ...P, radius: 5 }],
  ['radius 1, 4 classes', [1, 4, 9, 4], { ...P, radius: 1 }],
];

for (const [name, shape, p] of cases) {
  test(`loss equals the formula evaluated directly: ${name}`, () => {
    const { logits, image, gate } = randomInputs(shape, 1);
    const grad = new Float64Array(logits.length);
    const ours = gatedCrfLoss(logits, image, gate, shape, p, grad);
    const ref = directLoss(logits, image, gate, shape, p);
    assert.ok(ref > 0, 'the case has pairs');
    assert.ok(Math.abs(ours - ref) <= 1e-12 * ref, `${ours} vs ${ref}`);
  });

  test(`gradient equals central finite differences (float64): ${name}`, () => {
    const { logits, image, gate } = randomInputs(shape, 2);
    const grad = new Float64Array(logits.length);
    gatedCrfLoss(logits, image, gate, shape, p, grad);
    const scratch = new Float64Array(logits.length);
    const eps = 1e-6;
    let maxAbs = 0;
    for (const v of grad) maxAbs = Math.max(maxAbs, Math.abs(v));
    assert.ok(maxAbs > 0);
    for (let i = 0; i < logits.length; i++) {
      const keep = logits[i];
      logits[i] = keep + eps;
      const up = gatedCrfLoss(logits, image, gate, shape, p, scratch);
      logits[i] = keep - eps;
      const down = gatedCrfLoss(logits, image, gate, shape, p, scratch);
      logits[i] = keep;
      const fd = (up - down) / (2 * eps);
      assert.ok(Math.abs(fd - grad[i]) <= 1e-7 * maxAbs + 1e-9 * Math.abs(fd), `logit ${i}: analytic ${grad[i]} vs finite difference ${fd}`);
    }
  });
}

test('gated pixels contribute nothing: no gradient, and changing their logits or colour changes nothing', () => {
  const shape: Shape = [2, 6, 6, 3];
  const { logits, image, gate } = randomInputs(shape, 3, 0.3);
  const grad = new Float64Array(logits.length);
  const loss = gatedCrfLoss(logits, image, gate, shape, P, grad);
  const gated = [...gate.keys()].filter((i) => gate[i] === 0);
  assert.ok(gated.length > 3);
  for (const i of gated) for (let c = 0; c < 3; c++) assert.ok(grad[i * 3 + c] === 0, `gated pixel ${i} has a gradient`);
  const l2 = logits.slice();
  const im2 = image.slice();
  for (const i of gated) {
    for (let c = 0; c < 3; c++) {
      l2[i * 3 + c] = 50 * (c - 1);
      im2[i * 3 + c] = 1 - im2[i * 3 + c];
    }
  }
  const again = gatedCrfLoss(l2, im2, gate, shape, P, new Float64Array(logits.length));
  assert.ok(Math.abs(again - loss) <= 1e-14 * loss, `${again} vs ${loss}`);
  // Everything gated: exactly 0, with zero gradients.
  const none = new Float64Array(gate.length);
  assert.equal(gatedCrfLoss(logits, image, none, shape, P, grad), 0);
  assert.ok(grad.every((v) => v === 0));
});

test('the loss is 0 for one confident class everywhere, and higher across a boundary of similar colour than across an edge', () => {
  const [h, w] = [6, 8];
  const shape: Shape = [1, h, w, 2];
  const gate = new Float64Array(h * w).fill(1);
  const sure = new Float64Array(h * w * 2).map((_, i) => (i % 2 === 0 ? 40 : -40));
  const flat = new Float64Array(h * w * 3).fill(0.5);
  const grad = new Float64Array(h * w * 2);
  assert.ok(gatedCrfLoss(sure, flat, gate, shape, P, grad) < 1e-12);
  // Class 1 on the right half: a boundary at x = 4. With an image edge there, the pairs that
  // cross it weigh little; on a flat image they cost the full spatial weight.
  const split = new Float64Array(h * w * 2).map((_, i) => ((Math.floor(i / 2) % w < 4) === (i % 2 === 0) ? 40 : -40));
  const edge = new Float64Array(h * w * 3).map((_, i) => (Math.floor(i / 3) % w < 4 ? 0.1 : 0.9));
  const onEdge = gatedCrfLoss(split, edge, gate, shape, P, grad);
  const onFlat = gatedCrfLoss(split, flat, gate, shape, P, grad);
  assert.ok(onFlat > 100 * onEdge, `flat ${onFlat} vs edge ${onEdge}`);
});

test('the registered kernel on the cpu backend equals the reference, for 2 and 3 classes', async () => {
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    for (const shape of [[2, 5, 7, 2], [1, 6, 9, 3]] as Shape[]) {
      const { logits, image, gate } = randomInputs(shape, 4);
      const [n, h, w, k] = shape;
      const want = new Float64Array(logits.length);
      const wantLoss = gatedCrfLoss(Float32Array.from(logits), Float32Array.from(image), Float32Array.from(gate), shape, P, want);
      const [loss, g] = tf.tidy(() => {
        const inputs = { logits: tf.tensor4d(Float32Array.from(logits), [n, h, w, k]), image: tf.tensor4d(Float32Array.from(image), [n, h, w, 3]), gate: tf.tensor3d(Float32Array.from(gate), [n, h, w]) };
        return (tf.engine().runKernel(GATED_CRF, inputs, { ...P }) as tf.Tensor[]).map((t) => t.dataSync());
      });
      assert.ok(Math.abs(loss[0] - wantLoss) <= 1e-6 * wantLoss);
      want.forEach((v, i) => assert.ok(Math.abs(g[i] - v) <= 1e-6 * Math.abs(v) + 1e-12, `grad ${i}`));
    }
  } finally {
    await tf.setBackend(previous);
  }
});

/** Generated crops; with k = 3, the right third of each crop's class-1 pixels become class 2. */
function tinyBatch(n: number, size: number, seed: number, k = 2): HostBatch {
  const rng = makeRng(seed);
  const rgb = new Uint8Array(n * size * size * 3);
  const labels = new Uint8Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const g = generateImage(rng, size, 2);
    rgb.set(g.rgb, b * size * size * 3);
    labels.set(k === 3 ? g.labels.map((v, i) => (v === 1 && i % size > (2 * size) / 3 ? 2 : v)) : g.labels, b * size * size);
  }
  const valid = new Uint8Array(n * size * size).fill(1);
  valid.fill(0, 0, 3 * size); // three rows of padding in the first crop
  return { n, height: size, width: size, images: Float32Array.from(rgb, (v) => (v / 255 - 0.5) / 0.25), targets: lossTargets(labels, k), rgb, valid };
}

test('a training step with the gap loss adds its value to the cross-entropy and its gradient to the logits', () => {
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4 }, 2);
  const batch = tinyBatch(2, 16, 5);
  const x = tf.tensor4d(batch.images, [2, 16, 16, 3]);
  const t = tf.tensor4d(batch.targets.oneHot, [2, 16, 16, 2]);
  const cfg = { ...DEFAULT_CRF, weight: 2 };
  const extra = gapLossTerm(cfg, batch);
  let crfValue = NaN;
  const plain = lossAndGradients(net, x, stepLoss(t, batch.targets.weightSum, null));
  const withCrf = lossAndGradients(
    net,
    x,
    stepLoss(t, batch.targets.weightSum, (logits) => {
      const r = extra.term(logits);
      crfValue = r.value;
      return r;
    }),
  );
  extra.dispose();
  assert.ok(crfValue > 0 && Number.isFinite(crfValue));
  assert.ok(Math.abs(withCrf.loss - plain.loss - crfValue) < 1e-5, `${withCrf.loss} = ${plain.loss} + ${crfValue}`);
  const headDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(withCrf.grads['head/bias'], plain.grads['head/bias']))).dataSync()[0]);
  assert.ok(headDiff > 0, 'the gap loss changes the gradients');
  for (const r of [plain, withCrf]) {
    tf.dispose(Object.values(r.grads));
    for (const st of r.batchStats.values()) tf.dispose([st.mean, st.variance]);
  }
  tf.dispose([x, t]);
  disposeUNet(net);
});

test('training steps with the gap loss: finite loss, no tensor leak, K = 3 too', () => {
  for (const k of [2, 3]) {
    const net = createUNet({ ...DEFAULT_UNET, numClasses: k, depth: 2, baseWidth: 4 }, 1);
    const adam = createAdamState(net.params);
    const batch = tinyBatch(2, 24, 7, k);
    const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 };
    const cfg = { ...DEFAULT_CRF, radius: 3 };
    trainStep(net, adam, batch, hyper, cfg);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const loss = trainStep(net, adam, batch, hyper, cfg);
      assert.ok(Number.isFinite(loss), `K=${k} step ${i}: loss ${loss}`);
    }
    assert.equal(tf.memory().numTensors, count, `K=${k}: training steps with the gap loss leak tensors`);
    disposeAdamState(adam);
    disposeUNet(net);
  }
});

test('a run with the gap loss keeps it in config.json, trains to a finite loss and resumes', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 8, size: 40, gap: 2, seed: 4, valid: 2, test: 0 });
  const { classes, source } = resolveClasses(data, null, null);
  const gapLoss = { ...DEFAULT_CRF, weight: 0.5, radius: 2 };
  const cfg = { ...DEFAULT_TRAIN, dataset: data, classSource: source, classes, crop: 32, batchSize: 2, epochs: 2, depth: 2, baseWidth: 4, tile: 64, gapLoss };
  const run = path.join(dir, 'run');
  const logs: string[] = [];
  const opts = { resume: false, force: false, log: (l: string) => logs.push(l) };
  await runTraining(run, cfg, { ...opts, stopAfterEpochs: 1 });
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).gapLoss, gapLoss);
  assert.ok(logs.some((l) => l.startsWith('gap loss: Gated CRF')), 'the log names the gap loss');
  const r = await runTraining(run, null, { ...opts, resume: true });
  assert.equal(r.history.length, 2);
  for (const e of r.history) assert.ok(Number.isFinite(e.trainLoss) && e.trainLoss > 0);
});
