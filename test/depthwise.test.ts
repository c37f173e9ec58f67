/**
 * Depthwise conv2d on wasm (gapseg's SIMD kernels, and the JavaScript gradients used without
 * them) against the pure-JS cpu backend: the forward, the fused forward (bias, ReLU, ReLU6) and
 * both gradients over strides, paddings, odd sizes, channel counts off the 4-lane vectors and
 * windows other than 3x3; and the kernels give the same bits however their work is cut.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { engine } from './helpers.js';
import { maxRelDiff, onBackend } from './kernelHelpers.js';
import { makeRng } from '../src/util/random.js';
import { KERNELS_WASM } from '../src/generated/kernelsWasm.js';
import { DEFAULT_ROUTES, setKernelRoutes } from '../src/engine/routes.js';

before(engine);

function rand(n: number, seed: number, scale = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

type Pad = 'same' | 'valid';
// [name, x shape, filter [kh, kw, channel multiplier], stride, pad]. Channel counts below 4 or
// not multiples of 4 take the single-channel tails; windows wider than 3 the general path.
const cases: [string, number[], number[], number | [number, number], Pad][] = [
  ['3x3 same stride 1, 6 channels', [2, 9, 11, 6], [3, 3, 1], 1, 'same'],
  ['3x3 same stride 2, odd sizes', [2, 9, 11, 6], [3, 3, 1], 2, 'same'],
  // Even input at stride 2: TensorFlow pads 0 rows/columns at the top/left and 1 at the bottom/right.
  ['3x3 same stride 2, even sizes', [3, 8, 10, 8], [3, 3, 1], 2, 'same'],
  ['3x3 valid stride 1', [3, 7, 7, 5], [3, 3, 1], 1, 'valid'],
  ['3x3 valid stride 2, rows and columns left over', [2, 10, 9, 12], [3, 3, 1], 2, 'valid'],
  ['3x3 same stride (2, 1)', [2, 9, 8, 4], [3, 3, 1], [2, 1], 'same'],
  ['5x5 same stride 1 (general path)', [1, 12, 11, 8], [5, 5, 1], 1, 'same'],
  ['5x5 same stride 2', [2, 11, 12, 7], [5, 5, 1], 2, 'same'],
  ['2x3 same stride 2, 3 channels', [2, 6, 7, 3], [2, 3, 1], 2, 'same'],
  ['1x1 stride 2', [2, 5, 6, 9], [1, 1, 1], 2, 'valid'],
  ['3x3 same, image narrower and shorter than the window', [2, 2, 1, 4], [3, 3, 1], 1, 'same'],
  ['3x3 same stride 2, one row and column', [1, 1, 1, 6], [3, 3, 1], 2, 'same'],
  ['3x3 same stride 1, 64 channels over 33 rows (several row chunks)', [4, 33, 17, 64], [3, 3, 1], 1, 'same'],
  ['3x3 same stride 2, 20 channels (5 channel units)', [4, 16, 16, 20], [3, 3, 1], 2, 'same'],
  // Not gapseg's kernels: XNNPACK's forward and the JavaScript gradients.
  ['3x3 same stride 1, channel multiplier 2', [2, 7, 6, 3], [3, 3, 2], 1, 'same'],
];

// 'simd': gapseg's SIMD kernels wherever they apply; 'js': without the SIMD module
// (XNNPACK's forward, the JavaScript gradients).
for (const route of ['simd', 'js']) {
  for (const [name, xs, [kh, kw, mult], stride, pad] of cases) {
    test(`depthwise conv2d and its gradients on wasm match the cpu backend (${route}): ${name}`, async () => {
      const ws = [kh, kw, xs[3], mult];
      const x = rand(
        xs.reduce((a, b) => a * b),
        1,
      );
      const w = rand(
        ws.reduce((a, b) => a * b),
        2,
      );
      const probe = tf.backend_util.computeConv2DInfo(
        xs as [number, number, number, number],
        ws as [number, number, number, number],
        stride,
        1,
        pad,
        undefined,
        true,
      ).outShape;
      const dy = rand(
        probe.reduce((a, b) => a * b),
        3,
      );
      const f = (xt: tf.Tensor, wt: tf.Tensor, dyt: tf.Tensor) => {
        const conv = (a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
        const [gx, gw] = tf.grads(conv)([xt, wt], dyt);
        return [conv(xt, wt), gx, gw];
      };
      const inputs: [Float32Array, number[]][] = [
        [x, xs],
        [w, ws],
        [dy, probe],
      ];
      setKernelRoutes({ simd: route !== 'js' });
      try {
        const wasm = await onBackend('wasm', f, inputs);
        const cpu = await onBackend('cpu', f, inputs);
        ['y', 'dx', 'dfilter'].forEach((what, i) => {
          assert.ok(maxRelDiff(wasm[i], cpu[i]) < 1e-5, `${what} differs by ${maxRelDiff(wasm[i], cpu[i])}`);
        });
        assert.ok(cpu[1].some((v) => v !== 0) && cpu[2].some((v) => v !== 0));
      } finally {
        setKernelRoutes(DEFAULT_ROUTES);
      }
    });
  }
}

test("fused depthwise conv2d (bias, ReLU, ReLU6) on wasm matches the cpu backend, on and off gapseg's kernel", async () => {
  const xs = [2, 9, 10, 7];
  // Inputs up to +-3 so that ReLU6 clamps some outputs at 6.
  const x = rand(
    xs.reduce((a, b) => a * b),
    4,
    3,
  );
  const w = rand(3 * 3 * 7, 5);
  const bias = rand(7, 6);
  const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) => {
    const [x4, w4] = [xt as tf.Tensor4D, wt as tf.Tensor4D];
    return [
      tf.fused.depthwiseConv2d({ x: x4, filter: w4, strides: 1, pad: 'same', bias: bt, activation: 'relu6' }),
      tf.fused.depthwiseConv2d({ x: x4, filter: w4, strides: 2, pad: 'same', bias: bt, activation: 'relu6' }),
      tf.fused.depthwiseConv2d({ x: x4, filter: w4, strides: 2, pad: 'valid', bias: bt, activation: 'relu' }),
      tf.fused.depthwiseConv2d({ x: x4, filter: w4, strides: 1, pad: 'valid', bias: bt }),
      tf.fused.depthwiseConv2d({ x: x4, filter: w4, strides: 1, pad: 'same', activation: 'relu6' }),
      // Not for gapseg's kernel: an activation it does not have.
      tf.fused.depthwiseConv2d({ x: x4, filter: w4, strides: 1, pad: 'same', bias: bt, activation: 'sigmoid' }),
    ];
  };
  const inputs: [Float32Array, number[]][] = [
    [x, xs],
    [w, [3, 3, 7, 1]],
    [bias, [7]],
  ];
  const wasm = await onBackend('wasm', f, inputs);
  const cpu = await onBackend('cpu', f, inputs);
  for (let i = 0; i < wasm.length; i++)
    assert.ok(maxRelDiff(wasm[i], cpu[i]) < 1e-5, `output ${i} differs by ${maxRelDiff(wasm[i], cpu[i])}`);
  for (const i of [0, 1])
    assert.ok(
      cpu[i].some((v) => v === 6) && cpu[i].some((v) => v === 0) && cpu[i].some((v) => v > 0 && v < 6),
      `ReLU6 case ${i} must clamp at both ends`,
    );
});

test("the wasm backend has gapseg's depthwise gradient kernels registered", () => {
  assert.ok(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm'));
  assert.ok(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm'));
});

test('the depthwise kernels give the same bits however their work units are cut, in the base and FMA builds alike', () => {
  // Each build on its own plain memory, called directly with 1, 2, 3 and 7 ranges of units.
  const [n, h, w, c, k, s, top, left] = [3, 11, 9, 22, 3, 2, 1, 1];
  const [oh, ow] = [Math.ceil(h / s), Math.ceil(w / s)];
  const at = { x: 1 << 16, f: 1 << 18, bias: 3 << 17, dy: 1 << 19, out: 1 << 20, scratch: 3 << 19 };
  const geometry = [n, h, w, c, k, k, s, s, top, left, oh, ow];
  const runs: [string, number[], number, number][] = [
    ['depthwise_fwd', [at.x, at.f, at.bias, at.out, ...geometry, 2], n * oh, n * oh * ow * c],
    ['depthwise_dx', [at.dy, at.f, at.out, ...geometry], n * h, n * h * w * c],
    ['depthwise_dfilter', [at.x, at.dy, at.out, ...geometry, at.scratch], Math.ceil(c / 4), k * k * c],
  ];
  const outputs = (b64: string) => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 512 });
    const e = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, 'base64')), { env: { memory } }).exports as Record<
      string,
      (...a: number[]) => void
    >;
    const heap = new Float32Array(memory.buffer);
    heap.set(rand(n * h * w * c, 7), at.x / 4);
    heap.set(rand(k * k * c, 8), at.f / 4);
    heap.set(rand(c, 9), at.bias / 4);
    heap.set(rand(n * oh * ow * c, 10), at.dy / 4);
    return runs.map(([name, args, units, size]) => {
      let first: Float32Array | null = null;
      for (const pieces of [1, 2, 3, 7]) {
        heap.fill(NaN, at.out / 4, at.out / 4 + size);
        for (let p = 0; p < pieces; p++) e[name](...args, Math.floor((p * units) / pieces), Math.floor(((p + 1) * units) / pieces));
        const got = heap.slice(at.out / 4, at.out / 4 + size);
        assert.ok(got.every(Number.isFinite), `${name} in ${pieces} pieces left outputs unwritten`);
        if (first) assert.deepEqual(got, first, `${name} in ${pieces} pieces differs from one piece`);
        else first = got;
      }
      return first!;
    });
  };
  const base = outputs(KERNELS_WASM.plain);
  const fma = outputs(KERNELS_WASM.plainFma);
  runs.forEach(([name], i) =>
    assert.ok(maxRelDiff(fma[i], base[i]) < 1e-6, `${name}: the FMA build differs from the base build by ${maxRelDiff(fma[i], base[i])}`),
  );
});
