/**
 * The mean-teacher gap loss: targets only on gap pixels where the teacher is confident, the
 * gradient weight x (p - q) / labelled weight there; the teacher follows the student by
 * averaging; the self-referential losses ramp up.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { engine } from './helpers.js';
import { DEFAULT_CRF, DEFAULT_CRF_TARGETS, DEFAULT_MEAN_TEACHER, gapLossAt, gapLossTerm } from '../src/losses/gapLoss.js';
import { makeTeacher, trainStep } from '../src/train/step.js';
import { createUNet, disposeUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { lossTargets } from '../src/losses/crossEntropy.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { makeRng } from '../src/util/random.js';

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

test('the self-referential gap losses ramp up over the first half of training; the Gated CRF does not', () => {
  assert.deepEqual(gapLossAt(DEFAULT_CRF, 0), DEFAULT_CRF);
  assert.equal(gapLossAt(null, 0.5), null);
  for (const cfg of [DEFAULT_CRF_TARGETS, DEFAULT_MEAN_TEACHER]) {
    assert.equal(gapLossAt(cfg, 0)?.weight, 0);
    assert.ok(Math.abs((gapLossAt(cfg, 0.25)?.weight ?? 0) - cfg.weight / 2) < 1e-12);
    assert.equal(gapLossAt(cfg, 0.5)?.weight, cfg.weight);
    assert.equal(gapLossAt(cfg, 0.9)?.weight, cfg.weight);
  }
});
