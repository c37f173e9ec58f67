/**
 * The mean-teacher gap loss: targets only on gap pixels where the teacher is confident, the
 * gradient weight x (p - q) / labelled weight there; the teacher follows the student by
 * averaging; the self-referential losses ramp up. The uncertain gap loss: even odds over the
 * crop's labelled classes on every gap pixel.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { engine } from './helpers.js';
import { DEFAULT_CRF, DEFAULT_CRF_TARGETS, DEFAULT_MEAN_TEACHER, DEFAULT_UNCERTAIN, DEFAULT_RAMP, gapLossAt, gapLossTerm, rampTargets } from '../src/losses/gapLoss.js';
import { makeTeacher, trainStep } from '../src/train/step.js';
import { createUNet, disposeUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { netForward } from '../src/nets/index.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { lossTargets } from '../src/losses/crossEntropy.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { makeRng } from '../src/util/random.js';
import { DEFAULT_DENSE_CRF } from '../src/crf/denseCrf.js';

before(engine);

test('mean-teacher gap loss: confident teacher pixels in the gap only, each weighing `weight` labelled pixels; nothing without a gap; refused without a teacher', () => {
  const [n, h, w, k] = [1, 4, 6, 2];
  const rng = makeRng(5);
  const logits = Float32Array.from({ length: n * h * w * k }, () => rng.next() * 2 - 1);
  // Column 0 labelled background, columns 4 and 5 labelled object, columns 1..3 the gap.
  const labels = new Uint8Array(n * h * w).map((_, i) => (i % w === 0 ? 0 : i % w >= 4 ? 1 : VOID_INDEX));
  const targets = lossTargets(labels, k);
  // The teacher is sure (0.9) in column 1, unsure (0.6) in column 2, sure of the object (0.05 / 0.95) in column 3.
  const teacher = new Float32Array(n * h * w * k);
  for (let i = 0; i < n * h * w; i++) {
    const p1 = [0.5, 0.1, 0.4, 0.95, 0.5, 0.5][i % w];
    teacher[i * k] = 1 - p1;
    teacher[i * k + 1] = p1;
  }
  const cfg = { ...DEFAULT_MEAN_TEACHER, weight: 0.8, confidence: 0.7 };
  const term = gapLossTerm(cfg, { n, height: h, width: w, targets }, teacher);
  const x = tf.tensor4d(logits, [n, h, w, k]);
  const { value, grad } = term.term(x);
  const g = grad.dataSync();
  // Columns 1 and 3 are used; each gap pixel weighs 0.8 of a labelled one (3 columns labelled).
  const count = 3 * h;
  let want = 0;
  for (let i = 0; i < n * h * w; i++) {
    const col = i % w;
    const m = Math.max(logits[i * k], logits[i * k + 1]);
    const e = [Math.exp(logits[i * k] - m), Math.exp(logits[i * k + 1] - m)];
    const p = [e[0] / (e[0] + e[1]), e[1] / (e[0] + e[1])];
    for (let c = 0; c < k; c++) {
      const used = col === 1 || col === 3;
      const expected = used ? (0.8 * (p[c] - teacher[i * k + c])) / count : 0;
      assert.ok(Math.abs(g[i * k + c] - expected) < 1e-6, `pixel ${i} class ${c}: ${g[i * k + c]} vs ${expected}`);
      if (used) want -= (0.8 * teacher[i * k + c] * Math.log(p[c])) / count;
    }
  }
  assert.ok(Math.abs(value - want) < 1e-5, `${value} vs ${want}`);
  tf.dispose([x, grad]);
  assert.throws(() => gapLossTerm(cfg, { n, height: h, width: w, targets }), /teacher/);
  const none = gapLossTerm(cfg, { n, height: h, width: w, targets: lossTargets(new Uint8Array(n * h * w), k) }, teacher);
  const x2 = tf.tensor4d(logits, [n, h, w, k]);
  const r = none.term(x2);
  assert.equal(r.value, 0);
  tf.dispose([x2, r.grad]);
});

test('the teacher follows the student: t = ema t + (1 - ema) s after each step', async () => {
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4 }, 1);
  const adam = createAdamState(net.params);
  const teacher = await makeTeacher(net, 0.9);
  const name = Object.keys(net.params)[0];
  const t0 = teacher.net.params[name].dataSync().slice();
  assert.deepEqual(t0, net.params[name].dataSync(), 'the teacher starts as the student');
  const size = 16;
  const labels = new Uint8Array(size * size).map((_, i) => (i % size < 4 ? 0 : i % size > 11 ? 1 : VOID_INDEX));
  const batch = { n: 1, height: size, width: size, images: new Float32Array(size * size * 3).map(() => Math.random()), targets: lossTargets(labels, 2) };
  trainStep(net, adam, batch, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, { ...DEFAULT_MEAN_TEACHER, confidence: 0 }, undefined, teacher);
  const s1 = net.params[name].dataSync();
  const t1 = teacher.net.params[name].dataSync();
  let moved = 0;
  for (let i = 0; i < t1.length; i++) {
    assert.ok(Math.abs(t1[i] - (0.9 * t0[i] + 0.1 * s1[i])) < 1e-6);
    if (s1[i] !== t0[i]) moved++;
  }
  assert.ok(moved > 0, 'the student moved');
  disposeUNet(teacher.net as never);
  disposeAdamState(adam);
  disposeUNet(net);
});

test('uncertain gap loss: every gap pixel pulled towards even odds of the classes its crop labels, weighing `weight` labelled pixels; nothing without a gap', () => {
  const [n, h, w, k] = [2, 3, 5, 3];
  const rng = makeRng(9);
  const logits = Float32Array.from({ length: n * h * w * k }, () => rng.next() * 4 - 2);
  // Crop 0: column 0 class 0, column 4 class 2, columns 1..3 the gap. Crop 1: column 0 class 1, the rest the gap.
  const labels = new Uint8Array(n * h * w).map((_, i) => {
    const [b, col] = [Math.floor(i / (h * w)), i % w];
    if (b === 0) return col === 0 ? 0 : col === 4 ? 2 : VOID_INDEX;
    return col === 0 ? 1 : VOID_INDEX;
  });
  const targets = lossTargets(labels, k, [1, 2, 1]);
  const cfg = { ...DEFAULT_UNCERTAIN, weight: 0.7 };
  const { value, grad } = gapLossTerm(cfg, { n, height: h, width: w, targets }).term(tf.tensor4d(logits, [n, h, w, k]));
  const g = grad.dataSync();
  // Labelled weight: crop 0 has 2 x 3 pixels of weight 1, crop 1 has 3 of weight 2.
  const labelled = 12;
  let want = 0;
  for (let i = 0; i < n * h * w; i++) {
    const z = [0, 1, 2].map((c) => logits[i * k + c]);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const p = e.map((v) => v / (e[0] + e[1] + e[2]));
    const q = labels[i] !== VOID_INDEX ? null : i < h * w ? [0.5, 0, 0.5] : [0, 1, 0];
    for (let c = 0; c < k; c++) {
      const expected = q ? (0.7 * (p[c] - q[c])) / labelled : 0;
      assert.ok(Math.abs(g[i * k + c] - expected) < 1e-6, `pixel ${i} class ${c}: ${g[i * k + c]} vs ${expected}`);
      if (q && q[c] > 0) want -= (0.7 * q[c] * Math.log(p[c])) / labelled;
    }
  }
  assert.ok(Math.abs(value - want) < 1e-5, `${value} vs ${want}`);
  grad.dispose();
  const none = gapLossTerm(cfg, { n, height: h, width: w, targets: lossTargets(new Uint8Array(n * h * w), k) });
  const x = tf.tensor4d(logits, [n, h, w, k]);
  const r = none.term(x);
  assert.equal(r.value, 0);
  assert.ok(r.grad.dataSync().every((v) => v === 0));
  tf.dispose([x, r.grad]);
});

test('uncertain gap loss: a few steps on a toy batch bring the gap towards even odds while the labelled pixels stay right', () => {
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4 }, 3);
  const adam = createAdamState(net.params);
  const size = 16;
  const labels = new Uint8Array(size * size).map((_, i) => (i % size < 6 ? 0 : i % size > 9 ? 1 : VOID_INDEX));
  const images = new Float32Array(size * size * 3).map((_, i) => (Math.floor(i / 3) % size) / size);
  const batch = { n: 1, height: size, width: size, images, targets: lossTargets(labels, 2) };
  const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  const spread = (): { gap: number; labelled: number } => {
    const p = tf.tidy(() => tf.softmax(netForward(net as never, tf.tensor4d(images, [1, size, size, 3]), false)).dataSync());
    let gap = 0;
    let right = 0;
    let labelled = 0;
    for (let i = 0; i < size * size; i++) {
      if (labels[i] === VOID_INDEX) gap = Math.max(gap, Math.abs(p[i * 2 + 1] - 0.5));
      else {
        labelled++;
        if ((p[i * 2 + 1] > 0.5 ? 1 : 0) === labels[i]) right++;
      }
    }
    return { gap, labelled: right / labelled };
  };
  for (let i = 0; i < 60; i++) trainStep(net, adam, batch, hyper, null);
  const plain = spread();
  for (let i = 0; i < 60; i++) trainStep(net, adam, batch, hyper, { ...DEFAULT_UNCERTAIN, weight: 1 });
  const even = spread();
  assert.equal(plain.labelled, 1);
  assert.equal(even.labelled, 1, 'labelled pixels stay right');
  assert.ok(even.gap < plain.gap - 0.1, `the gap's largest distance from even odds: ${plain.gap} -> ${even.gap}`);
  disposeAdamState(adam);
  disposeUNet(net);
});

test('ramp targets: each labelled class weighted by the inverse of its distance, labelled pixels their own class, even odds in a crop with no label', () => {
  // One row of 7 pixels: class 0 at column 0, class 1 at columns 5 and 6, the gap between; k = 3 (class 2 absent).
  const [w, h, k] = [7, 1, 3];
  const labels = Uint8Array.from([0, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, 1, 1]);
  const q = rampTargets(lossTargets(labels, k).oneHot, w, h, k);
  for (let x = 0; x < w; x++) {
    const [d0, d1] = [x, Math.max(5 - x, 0)];
    const want = labels[x] !== VOID_INDEX ? [labels[x] === 0 ? 1 : 0, labels[x] === 1 ? 1 : 0, 0] : [1 / d0 / (1 / d0 + 1 / d1), 1 / d1 / (1 / d0 + 1 / d1), 0];
    for (let c = 0; c < k; c++) assert.ok(Math.abs(q[x * k + c] - want[c]) < 1e-6, `pixel ${x} class ${c}: ${q[x * k + c]} vs ${want[c]}`);
  }
  // Two px from class 0 and three from class 1: 3/5 and 2/5, whatever the direction.
  assert.ok(Math.abs(q[2 * k] - 0.6) < 1e-6);
  const unlabelled = rampTargets(new Float32Array(4 * k), 4, 1, k);
  assert.ok(unlabelled.every((v) => Math.abs(v - 1 / k) < 1e-7));
});

test('ramp gap loss: the cross-entropy towards the ramp targets on gap pixels only, each weighing `weight` labelled pixels', () => {
  const [n, h, w, k] = [1, 2, 6, 2];
  const rng = makeRng(4);
  const logits = Float32Array.from({ length: n * h * w * k }, () => rng.next() * 4 - 2);
  const labels = new Uint8Array(n * h * w).map((_, i) => (i % w === 0 ? 0 : i % w === 5 ? 1 : VOID_INDEX));
  const targets = lossTargets(labels, k);
  const q = rampTargets(targets.oneHot, w, h, k);
  const { value, grad } = gapLossTerm({ ...DEFAULT_RAMP, weight: 0.5 }, { n, height: h, width: w, targets }).term(tf.tensor4d(logits, [n, h, w, k]));
  const g = grad.dataSync();
  let want = 0;
  for (let i = 0; i < n * h * w; i++) {
    const [z0, z1] = [logits[i * 2], logits[i * 2 + 1]];
    const p1 = 1 / (1 + Math.exp(z0 - z1));
    const p = [1 - p1, p1];
    for (let c = 0; c < k; c++) {
      const expected = labels[i] === VOID_INDEX ? (0.5 * (p[c] - q[i * k + c])) / 4 : 0;
      assert.ok(Math.abs(g[i * k + c] - expected) < 1e-6, `pixel ${i} class ${c}`);
      if (labels[i] === VOID_INDEX) want -= (0.5 * q[i * k + c] * Math.log(p[c])) / 4;
    }
  }
  assert.ok(Math.abs(value - want) < 1e-5, `${value} vs ${want}`);
  grad.dispose();
});

test('ramp gap loss with a dense CRF: gap pixels coloured like one side take that side\'s class, where the plain ramp splits the gap in the middle', () => {
  // One row of 8: class 0 at column 0 (dark), class 1 at column 7 (bright); the gap between is
  // bright from column 2 on: the image's edge lies 1.5 px from class 0, not in the middle.
  const [n, h, w, k] = [1, 1, 8, 2];
  const labels = Uint8Array.from([0, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, VOID_INDEX, 1]);
  const rgb = new Uint8Array(w * 3).map((_, i) => (Math.floor(i / 3) < 2 ? 0 : 255));
  const targets = lossTargets(labels, k);
  // At zero logits p = 1/2, so the gradient weight (p - q) / labelled gives the targets back.
  const targetsOf = (cfg: typeof DEFAULT_RAMP) => {
    const { grad } = gapLossTerm(cfg, { n, height: h, width: w, rgb, targets }).term(tf.zeros([n, h, w, k]) as tf.Tensor4D);
    const g = grad.dataSync();
    grad.dispose();
    return Array.from({ length: w }, (_, x) => 0.5 - g[x * k + 1] * 2);
  };
  const plain = targetsOf({ ...DEFAULT_RAMP, weight: 1 });
  const crf = targetsOf({ ...DEFAULT_RAMP, weight: 1, crf: DEFAULT_DENSE_CRF });
  assert.ok(plain[3] < 0.5 && plain[4] > 0.5, `the plain ramp crosses in the middle: ${plain.map((v) => v.toFixed(2))}`);
  for (const x of [2, 3, 4, 5, 6]) assert.ok(crf[x] > 0.5, `bright gap pixel ${x} towards class 1: ${crf.map((v) => v.toFixed(2))}`);
  assert.ok(crf[1] < 0.5, `the dark gap pixel towards class 0: ${crf[1]}`);
});

test('ramp gap loss: on a toy batch whose image gives no edge in the gap, training puts the frontier halfway across it', () => {
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4 }, 3);
  const adam = createAdamState(net.params);
  const size = 16;
  // Class 0 up to column 3, class 1 from column 12: the gap is columns 4..11, its middle at 7.5;
  // the image is a flat field with a step at column 2, far from the middle.
  const labels = new Uint8Array(size * size).map((_, i) => (i % size < 4 ? 0 : i % size > 11 ? 1 : VOID_INDEX));
  const images = new Float32Array(size * size * 3).map((_, i) => (Math.floor(i / 3) % size < 2 ? 0 : 1));
  const batch = { n: 1, height: size, width: size, images, targets: lossTargets(labels, 2) };
  const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  // The frontier: the mean over rows of the number of gap columns predicted class 0.
  const crossing = (): number => {
    const p = tf.tidy(() => tf.softmax(netForward(net as never, tf.tensor4d(images, [1, size, size, 3]), false)).dataSync());
    let zeros = 0;
    for (let i = 0; i < size * size; i++) if (labels[i] === VOID_INDEX && p[i * 2] > p[i * 2 + 1]) zeros++;
    return 4 + zeros / size;
  };
  for (let i = 0; i < 150; i++) trainStep(net, adam, batch, hyper, null);
  const plain = crossing();
  for (let i = 0; i < 150; i++) trainStep(net, adam, batch, hyper, DEFAULT_RAMP);
  const frontier = crossing();
  assert.ok(Math.abs(plain - 8) > 1.5, `without the ramp the frontier is wherever the net extrapolates (column ${plain}), so this test can fail`);
  assert.ok(Math.abs(frontier - 8) <= 1, `frontier at column ${frontier}, want about 8`);
  disposeAdamState(adam);
  disposeUNet(net);
});

test('the self-referential gap losses ramp up over the first half of training; the Gated CRF, the uncertain and the ramp loss do not', () => {
  assert.deepEqual(gapLossAt(DEFAULT_CRF, 0), DEFAULT_CRF);
  assert.deepEqual(gapLossAt(DEFAULT_UNCERTAIN, 0), DEFAULT_UNCERTAIN);
  assert.deepEqual(gapLossAt(DEFAULT_RAMP, 0), DEFAULT_RAMP);
  assert.equal(gapLossAt(null, 0.5), null);
  for (const cfg of [DEFAULT_CRF_TARGETS, DEFAULT_MEAN_TEACHER]) {
    assert.equal(gapLossAt(cfg, 0)?.weight, 0);
    assert.ok(Math.abs((gapLossAt(cfg, 0.25)?.weight ?? 0) - cfg.weight / 2) < 1e-12);
    assert.equal(gapLossAt(cfg, 0.5)?.weight, cfg.weight);
    assert.equal(gapLossAt(cfg, 0.9)?.weight, cfg.weight);
  }
});
