/** Adam with decoupled weight decay follows PyTorch's update formula, step after step. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { engine } from './helpers.js';
import { adamUpdate, createAdamState, disposeAdamState } from '../src/train/adam.js';
import { oneCycle, scheduleAt } from '../src/train/schedule.js';

before(engine);

test("three Adam steps match a float64 reference of PyTorch's formula", () => {
  const p0 = [0.5, -1.25, 2, 0.001, -3];
  const grads = [
    [0.1, -0.2, 0.3, 0, 5],
    [-0.05, 0.4, 0.1, 1e-3, -2],
    [0.2, 0.2, -0.6, -1e-3, 0.5],
  ];
  const h = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
  const params = { w: tf.variable(tf.tensor1d(p0)) };
  const state = createAdamState(params);
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  for (let t = 1; t <= grads.length; t++) {
    const g = tf.tensor1d(grads[t - 1]);
    adamUpdate(params, { w: g }, state, h);
    g.dispose();
    for (let i = 0; i < p.length; i++) {
      const gi = grads[t - 1][i];
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * gi;
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * gi * gi;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - h.beta2 ** t) + h.eps;
      p[i] = p[i] - (h.lr / (1 - h.beta1 ** t)) * (m[i] / denom) - h.lr * h.weightDecay * p[i];
    }
    const got = params.w.dataSync();
    for (let i = 0; i < p.length; i++)
      assert.ok(Math.abs(got[i] - p[i]) < 1e-6 * Math.max(1, Math.abs(p[i])), `step ${t}, [${i}]: ${got[i]} vs ${p[i]}`);
  }
  assert.equal(state.step, 3);
  disposeAdamState(state);
  params.w.dispose();
});

test('one-cycle schedule: warm-up to the peak at 30%, then down to peak/(25*1e4); beta1 moves the other way', () => {
  const s = oneCycle(0.01, 100);
  assert.ok(Math.abs(scheduleAt(s, 0).lr - 0.01 / 25) < 1e-12);
  const peak = Math.max(...Array.from({ length: 100 }, (_, i) => scheduleAt(s, i).lr));
  assert.ok(Math.abs(peak - 0.01) < 1e-12);
  const atPeak = Array.from({ length: 100 }, (_, i) => i).find((i) => scheduleAt(s, i).lr === peak) as number;
  assert.ok(atPeak >= 28 && atPeak <= 30, `peak at step ${atPeak}`);
  assert.ok(Math.abs(scheduleAt(s, 99).lr - 0.01 / 25 / 1e4) < 1e-12);
  assert.equal(scheduleAt(s, atPeak).beta1, 0.85);
  assert.ok(Math.abs(scheduleAt(s, 0).beta1 - 0.95) < 1e-12 && Math.abs(scheduleAt(s, 99).beta1 - 0.95) < 1e-12);
});
