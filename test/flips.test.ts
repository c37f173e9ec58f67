/**
 * Flip averaging: each flip of a window is flipped back before the mean, so a network that
 * maps each pixel to itself is left as it was, and one that knows only where a pixel lies
 * sees every position averaged with its mirrors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flipAveraged, FLIP_VIEWS } from '../src/predict/flips.js';
import type { NetFn } from '../src/predict/model.js';

const [N, H, W] = [2, 3, 5];

/** Planar input [N, 3, H, W] with a different value everywhere. */
const input = Float32Array.from({ length: N * 3 * H * W }, (_, i) => Math.sin(i * 1.7) * 10);

test('flip averaging leaves a pixel-wise network as it was', async () => {
  // Two class planes from the pixel's own colours: equivariant to any flip.
  const calls: number[] = [];
  const pixelwise: NetFn = async (x, n, h, w) => {
    calls.push(n);
    const plane = h * w;
    const out = new Float32Array(n * 2 * plane);
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < plane; i++) {
        const [r, g, bl] = [0, 1, 2].map((c) => x[(b * 3 + c) * plane + i]);
        out[b * 2 * plane + i] = r - g;
        out[(b * 2 + 1) * plane + i] = g * bl;
      }
    }
    return out;
  };
  const plain = await pixelwise(input, N, H, W);
  calls.length = 0;
  const averaged = await flipAveraged(pixelwise, 2)(input, N, H, W);
  assert.equal(averaged.length, plain.length);
  for (let i = 0; i < plain.length; i++)
    assert.ok(Math.abs(averaged[i] - plain[i]) < 1e-4, `score ${i}: ${averaged[i]} against ${plain[i]}`);
  assert.deepEqual(calls, Array(FLIP_VIEWS).fill(N), "one call per flip, each with the caller's batch");
});

test('flip averaging averages a position-bound network over the four mirrors of each pixel', async () => {
  // Scores that know only where the pixel is in the window: x for class 0, 10 y for class 1.
  const where: NetFn = async (_x, n, h, w) => {
    const out = new Float32Array(n * 2 * h * w);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          out[b * 2 * h * w + y * w + x] = x;
          out[(b * 2 + 1) * h * w + y * w + x] = 10 * y;
        }
      }
    }
    return out;
  };
  const averaged = await flipAveraged(where, 2)(input, N, H, W);
  // Each pixel is seen at x and w-1-x, y and h-1-y, twice each: the means are the centres.
  for (let b = 0; b < N; b++) {
    for (let i = 0; i < H * W; i++) {
      assert.equal(averaged[b * 2 * H * W + i], (W - 1) / 2);
      assert.equal(averaged[(b * 2 + 1) * H * W + i], (10 * (H - 1)) / 2);
    }
  }
});

test('flip averaging refuses a network whose output does not fit the class count', async () => {
  const wrong: NetFn = async (_x, n, h, w) => new Float32Array(n * 3 * h * w);
  await assert.rejects(
    flipAveraged(wrong, 2)(input, N, H, W),
    /flipAveraged: the network gave 90 scores for 2 window\(s\) of 2 class\(es\)/,
  );
});
