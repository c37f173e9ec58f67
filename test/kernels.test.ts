/**
 * gapseg's wasm kernels against the pure-JS cpu backend (the reference): conv2d filter and
 * input gradients over strides, paddings and odd sizes (gapseg's direct SIMD
 * conv and filter-gradient kernels, the default at stride 1, and the stock routes), and matMul with transposed operands.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { engine } from './helpers.js';
import { maxRelDiff, onBackend } from './kernelHelpers.js';
import { DEFAULT_ROUTES, setKernelRoutes, type KernelRoutes } from '../src/engine/routes.js';
import { makeRng } from '../src/util/random.js';

before(engine);

function rand(n: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

const convCases: [string, number[], number[], number, 'same' | 'valid'][] = [
  ['3x3 same stride 1', [2, 8, 8, 3], [3, 3, 3, 4], 1, 'same'],
  ['3x3 same stride 2, odd sizes', [2, 9, 7, 3], [3, 3, 3, 4], 2, 'same'],
  ['3x3 valid stride 1', [2, 8, 8, 3], [3, 3, 3, 4], 1, 'valid'],
  ['3x3 valid stride 2, rows left over', [1, 10, 9, 2], [3, 3, 2, 5], 2, 'valid'],
  ['1x1', [1, 10, 10, 2], [1, 1, 2, 3], 1, 'same'],
  ['5x5 same, wide channels', [1, 12, 12, 16], [5, 5, 16, 8], 1, 'same'],
  // Channel counts off the direct kernel's blocks (4 inputs x 8 or 4 outputs) and maps of
  // several pixel bands (512 KB of x and dy each).
  ['3x3 same, ragged channel blocks', [2, 9, 11, 6], [3, 3, 6, 13], 1, 'same'],
  ['3x3 same, several bands', [1, 180, 100, 5], [3, 3, 5, 4], 1, 'same'],
  ['2x2 valid, one input channel', [3, 6, 5, 1], [2, 2, 1, 2], 1, 'valid'],
  ['5x5 valid, 12 outputs (blocks of 8 and 4)', [2, 11, 9, 5], [5, 5, 5, 12], 1, 'valid'],
  ['3x3 same, image narrower than a pixel tile', [1, 6, 3, 4], [3, 3, 4, 8], 1, 'same'],
  // A non-square window checks the filter's rotation for the input gradient.
  ['3x2 same, 8 inputs, 12 outputs', [2, 7, 9, 8], [3, 2, 8, 12], 1, 'same'],
  // Winograd's tiles (3x3, inputs in multiples of 4): odd sides (a half tile at the bottom and
  // right), 'valid', and channels wide enough that a row of tiles takes several chunks (4, 4, 2).
  ['3x3 same, odd sides, 8 inputs, 12 outputs', [2, 13, 11, 8], [3, 3, 8, 12], 1, 'same'],
  ['3x3 valid, odd output sides', [2, 10, 8, 4], [3, 3, 4, 4], 1, 'valid'],
  ['3x3 same, 512 inputs: rows of tiles in chunks', [1, 7, 19, 512], [3, 3, 512, 8], 1, 'same'],
];

// 'stock': XNNPACK's Conv2D and the convolution route for the filter gradient; 'auto': gapseg's
// SIMD kernels wherever they apply (stride 1, outputs in multiples of 4 for Conv2D; Winograd's
// for 3x3 with inputs in multiples of 4); 'direct': the same without Winograd's.
const ROUTES: Record<string, Partial<KernelRoutes>> = {
  stock: { filterGradient: 'conv', conv: 'xnnpack' },
  auto: DEFAULT_ROUTES,
  direct: { conv3x3: 'direct' },
};
for (const route of Object.keys(ROUTES)) {
  for (const [name, xs, ws, stride, pad] of convCases) {
    test(`conv2d and its gradients on wasm match the cpu backend (${route} kernels): ${name}`, async () => {
      const x = rand(
        xs.reduce((a, b) => a * b),
        1,
      );
      const w = rand(
        ws.reduce((a, b) => a * b),
        2,
      );
      const f = (xt: tf.Tensor, wt: tf.Tensor) => {
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(
            tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad)),
          );
        const [gx, gw] = tf.grads(loss)([xt, wt]);
        return [tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, stride, pad), gx, gw];
      };
      setKernelRoutes({ ...DEFAULT_ROUTES, ...ROUTES[route] });
      try {
        const wasm = await onBackend('wasm', f, [
          [x, xs],
          [w, ws],
        ]);
        const cpu = await onBackend('cpu', f, [
          [x, xs],
          [w, ws],
        ]);
        for (let i = 0; i < 3; i++) assert.ok(maxRelDiff(wasm[i], cpu[i]) < 1e-5, `output ${i} differs by ${maxRelDiff(wasm[i], cpu[i])}`);
      } finally {
        setKernelRoutes(DEFAULT_ROUTES);
      }
    });
  }
}

test("the wasm backend has gapseg's Conv2DBackpropFilter registered", () => {
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
});

test('matMul, plain, transposed and batched, on wasm matches the cpu backend', async () => {
  const a = rand(6 * 5, 3);
  const b = rand(6 * 4, 4);
  const f = (at: tf.Tensor, bt: tf.Tensor) => [
    tf.matMul(at as tf.Tensor2D, bt as tf.Tensor2D, true, false),
    tf.matMul(bt as tf.Tensor2D, at as tf.Tensor2D, true, false),
    tf.matMul(tf.reshape(at, [1, 6, 5]) as tf.Tensor3D, tf.reshape(bt, [1, 6, 4]) as tf.Tensor3D, true, false),
    tf.matMul(at as tf.Tensor2D, tf.transpose(at) as tf.Tensor2D),
    tf.matMul(at as tf.Tensor2D, at as tf.Tensor2D, false, true),
    tf.matMul(at as tf.Tensor2D, at as tf.Tensor2D, true, false),
    tf.matMul(
      tf.reshape(tf.concat([at, at]), [2, 6, 5]) as tf.Tensor3D,
      tf.reshape(tf.concat([bt, bt]), [2, 4, 6]) as tf.Tensor3D,
      true,
      true,
    ),
  ];
  const wasm = await onBackend('wasm', f, [
    [a, [6, 5]],
    [b, [6, 4]],
  ]);
  const cpu = await onBackend('cpu', f, [
    [a, [6, 5]],
    [b, [6, 4]],
  ]);
  for (let i = 0; i < wasm.length; i++) assert.ok(maxRelDiff(wasm[i], cpu[i]) < 1e-6);
});

test("matMul on gapseg's SIMD paths matches the cpu backend: A B and A B^T as 1x1 convs, A^T B over several bands", async () => {
  // 300 rows (not a multiple of the 256-pixel image rows), n = 12 (blocks of 8 and 4), and an
  // A^T B whose inner dimension (7000) spans two pixel bands of conv_dw.
  const a = rand(300 * 7, 5);
  const b = rand(7 * 12, 6);
  const c = rand(12 * 7, 7);
  const p = rand(7000 * 7, 8);
  const q = rand(7000 * 12, 9);
  const f = (at: tf.Tensor, bt: tf.Tensor, ct: tf.Tensor, pt: tf.Tensor, qt: tf.Tensor) => [
    tf.matMul(at as tf.Tensor2D, bt as tf.Tensor2D),
    tf.matMul(at as tf.Tensor2D, ct as tf.Tensor2D, false, true),
    tf.matMul(pt as tf.Tensor2D, qt as tf.Tensor2D, true, false),
  ];
  const inputs: [Float32Array, number[]][] = [
    [a, [300, 7]],
    [b, [7, 12]],
    [c, [12, 7]],
    [p, [7000, 7]],
    [q, [7000, 12]],
  ];
  const wasm = await onBackend('wasm', f, inputs);
  const cpu = await onBackend('cpu', f, inputs);
  for (let i = 0; i < wasm.length; i++)
    assert.ok(maxRelDiff(wasm[i], cpu[i]) < 1e-5, `product ${i} differs by ${maxRelDiff(wasm[i], cpu[i])}`);
});

test('fused conv2d (bias, ReLU, ReLU6) on wasm matches the cpu backend, on and off the direct kernel', async () => {
  const x = rand(2 * 9 * 11 * 6, 10);
  const w12 = rand(3 * 3 * 6 * 12, 11);
  const w6 = rand(3 * 3 * 6 * 6, 12);
  const bias = rand(12, 13);
  const f = (xt: tf.Tensor, wt: tf.Tensor, w6t: tf.Tensor, bt: tf.Tensor, xt8: tf.Tensor, w8t: tf.Tensor) => {
    const x4 = xt as tf.Tensor4D;
    return [
      tf.fused.conv2d({ x: x4, filter: wt as tf.Tensor4D, strides: 1, pad: 'same', bias: bt, activation: 'relu' }),
      tf.fused.conv2d({ x: x4, filter: wt as tf.Tensor4D, strides: 1, pad: 'valid', bias: bt }),
      tf.fused.conv2d({ x: x4, filter: wt as tf.Tensor4D, strides: 1, pad: 'same', activation: 'relu' }),
      // Not for the direct kernel: 6 outputs, stride 2, an activation it does not have.
      tf.fused.conv2d({ x: x4, filter: w6t as tf.Tensor4D, strides: 1, pad: 'same', activation: 'relu' }),
      tf.fused.conv2d({ x: x4, filter: wt as tf.Tensor4D, strides: 2, pad: 'same', bias: bt, activation: 'relu' }),
      tf.fused.conv2d({ x: x4, filter: wt as tf.Tensor4D, strides: 1, pad: 'same', bias: bt, activation: 'elu' }),
      // ReLU6 (the MobileNetV2 encoder's), on the direct kernel; scaled so that some outputs pass 6.
      tf.fused.conv2d({
        x: tf.mul(x4, 8) as tf.Tensor4D,
        filter: wt as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: bt,
        activation: 'relu6',
      }),
      // Winograd's kernel (8 inputs): each epilogue, and none.
      ...(['relu', 'relu6', 'linear'] as const).map((activation) =>
        tf.fused.conv2d({
          x: tf.mul(xt8, 8) as tf.Tensor4D,
          filter: w8t as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: activation === 'linear' ? undefined : bt,
          activation,
        }),
      ),
    ];
  };
  const inputs: [Float32Array, number[]][] = [
    [x, [2, 9, 11, 6]],
    [w12, [3, 3, 6, 12]],
    [w6, [3, 3, 6, 6]],
    [bias, [12]],
    [rand(2 * 9 * 11 * 8, 14), [2, 9, 11, 8]],
    [rand(3 * 3 * 8 * 12, 15), [3, 3, 8, 12]],
  ];
  const wasm = await onBackend('wasm', f, inputs);
  const cpu = await onBackend('cpu', f, inputs);
  for (let i = 0; i < wasm.length; i++)
    assert.ok(maxRelDiff(wasm[i], cpu[i]) < 1e-5, `output ${i} differs by ${maxRelDiff(wasm[i], cpu[i])}`);
  assert.ok(cpu[0].some((v) => v === 0) && cpu[0].some((v) => v > 0), 'the ReLU case must clamp some values and keep others');
  for (const r6 of [cpu[6], cpu[8]]) {
    assert.ok(
      r6.some((v) => v === 0) && r6.some((v) => v === 6) && r6.some((v) => v > 0 && v < 6),
      'the ReLU6 cases must clamp at both ends and keep others',
    );
  }
});
