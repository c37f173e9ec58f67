/**
 * The SIMD kernels (src/engine/simd/kernels.c, embedded as wasm) against their
 * JavaScript twins, on odd channel counts and row counts beyond one accumulation block;
 * and the embedded module is the build of the current C source.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { engine, ROOT } from './helpers.js';
import { simdKernels } from '../src/engine/simd/index.js';
import { withKernelRoutes } from '../src/engine/routes.js';
import { engineOptionsFromEnv } from '../src/engine/engine.js';
import { KERNELS_SOURCE_SHA256, KERNELS_WASM } from '../src/generated/kernelsWasm.js';
import { BN_RELU_BACKWARD, BN_RELU_FORWARD } from '../src/engine/kernels/batchNormRelu.js';
import { createTeam, ranges } from '../src/engine/simd/team.js';
import { CHANNEL_SUMS, RELU6_GRAD } from '../src/engine/kernels/gradients.js';
import { makeRng } from '../src/util/random.js';

before(engine);

function values(shape: number[], seed: number, offset = 0): tf.Tensor {
  const rng = makeRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => offset + rng.next() * 2 - 1),
    shape,
  );
}

/** Run f with the SIMD kernels, then with the JavaScript ones; return both results. */
function both(f: () => tf.Tensor[]): [Float32Array[], Float32Array[]] {
  const run = () => {
    const outs = f();
    const vals = outs.map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose(outs);
    return vals;
  };
  const simd = run();
  return [simd, withKernelRoutes({ simd: false }, run)];
}

function close(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length);
  let scale = 1e-6;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * scale, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('the SIMD kernels load on the wasm backend', () => {
  assert.ok(simdKernels(tf.backend()), 'SIMD kernels did not instantiate against the tfjs heap');
});

test('with one thread (the single-threaded tfjs binary, plain memory) the SIMD kernels load too', () => {
  // A separate process: the engine is initialised once per process.
  const compiled = path.join(ROOT, 'build', 'src');
  const code = `
    const tf = await import('@tensorflow/tfjs-core');
    const { initEngine } = await import(${JSON.stringify(pathToFileURL(path.join(compiled, 'engine/engine.js')).href)});
    const { simdKernels } = await import(${JSON.stringify(pathToFileURL(path.join(compiled, 'engine/simd/index.js')).href)});
    const info = await initEngine({ threads: 1 });
    const k = simdKernels(tf.backend());
    console.log(JSON.stringify({ threads: info.threads, loaded: k !== null, team: k?.team.size }));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { threads: 1, loaded: true, team: 1 });
});

test('the embedded wasm was built from the current kernels.c (rebuild: scripts/build-kernels.sh)', () => {
  const src = fs.readFileSync(path.join(ROOT, 'src/engine/simd/kernels.c'));
  assert.equal(crypto.createHash('sha256').update(src).digest('hex'), KERNELS_SOURCE_SHA256);
});

for (const [m, c] of [
  [7, 3],
  [300, 5],
  [1000, 16],
  [513, 18],
  [64, 128],
]) {
  test(`batch norm + ReLU, SIMD = JavaScript: ${m} rows x ${c} channels`, () => {
    const x = values([m, c], 1, 3); // an offset mean, to exercise the shifted sums
    const gamma = values([c], 2);
    const beta = values([c], 3);
    const dy = values([m, c], 4);
    const [s, j] = both(() => {
      const [y, mean, rstd] = tf.engine().runKernel(BN_RELU_FORWARD, { x, gamma, beta }, { epsilon: 1e-5 }) as tf.Tensor[];
      const back = tf.engine().runKernel(BN_RELU_BACKWARD, { dy, x, y, mean, rstd, gamma }, {}) as tf.Tensor[];
      return [y, mean, rstd, ...back];
    });
    ['y', 'mean', 'rstd', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => close(s[i], j[i], 2e-5, name));
    tf.dispose([x, gamma, beta, dy]);
  });
}

test('the base build and the FMA build of the kernels agree on convolutions and filter gradients', () => {
  // Each build on its own plain memory with the same inputs: the active build is tested against
  // the cpu backend (kernels.test.ts), this ties the other one to it.
  assert.ok(simdKernels(tf.backend())!.fma || !engineOptionsFromEnv().fma, 'the FMA build was not chosen on this V8');
  const [n, h, w, ci, co, k] = [2, 9, 13, 6, 12, 3];
  const rng = makeRng(13);
  const fill = (len: number) => Float32Array.from({ length: len }, () => rng.next() * 2 - 1);
  const x = fill(n * h * w * ci);
  const f = fill(k * k * ci * co);
  const dy = fill(n * h * w * co);
  const bias = fill(co);
  const run = (b64: string) => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 512 });
    const e = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, 'base64')), { env: { memory } }).exports as Record<
      string,
      (...a: number[]) => void
    >;
    const heap = new Float32Array(memory.buffer);
    const at = { x: 1 << 16, f: 1 << 18, packed: 1 << 19, bias: 3 << 18, dy: 1 << 20, y: 1 << 21, dw: 3 << 20 };
    heap.set(x, at.x / 4);
    heap.set(f, at.f / 4);
    heap.set(dy, at.dy / 4);
    e.conv_pack_filter(at.f, at.packed, k, k, ci, co, 0);
    heap.set(bias, at.bias / 4);
    e.conv_fwd(at.x, at.packed, at.bias, at.y, n, h, w, ci, co, k, k, 1, 1, h, w, 1, 0, n * h);
    e.conv_dw(at.x, at.dy, at.dw, n, h, w, ci, co, k, k, 1, 1, h, w, 0, k * k * Math.ceil(ci / 4));
    return [heap.slice(at.y / 4, at.y / 4 + n * h * w * co), heap.slice(at.dw / 4, at.dw / 4 + k * k * ci * co)];
  };
  const base = run(KERNELS_WASM.plain);
  const fma = run(KERNELS_WASM.plainFma);
  close(fma[0], base[0], 1e-6, 'conv (+ bias, ReLU)');
  close(fma[1], base[1], 1e-6, 'filter gradient');
  assert.ok(base[0].some((v) => v > 0) && base[0].some((v) => v === 0) && base[1].some((v) => v !== 0));
});

test('the kernel team cuts work into contiguous ranges covering it once, empty ranges allowed', () => {
  assert.deepEqual(ranges(10, 3), [
    [0, 3],
    [3, 6],
    [6, 10],
  ]);
  assert.deepEqual(ranges(1, 2), [
    [0, 0],
    [0, 1],
  ]);
  assert.deepEqual(ranges(0, 2), [
    [0, 0],
    [0, 0],
  ]);
});

test("the kernel team runs on every thread of the tfjs pool, and a helper's failure is an error", () => {
  const simd = simdKernels(tf.backend())!;
  assert.equal(
    simd.team.size,
    tf.engine().backendName === 'wasm'
      ? (tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } }).wasm.tfjs.getThreadsCount()
      : 1,
  );
  if (simd.team.size < 2) return;
  // Helpers still starting get no share of the work; this test needs them all.
  assert.ok(simd.team.awaitHelpers(30_000), 'helper threads did not start');
  // One unit of work for two threads: the main thread's range is empty and the helper's unit
  // zeroes a filter gradient at an address beyond the heap, which traps in the helper.
  const beyond = 2 ** 32 - 64;
  assert.throws(() => simd.team.split('conv_dw', [0, 0, beyond, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1], 1), /failed in a helper thread/);
  // The team still works afterwards.
  const x = values([1, 5, 6, 4], 11);
  const dy = values([1, 5, 6, 8], 12);
  const dw = tf
    .engine()
    .runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 8] }) as tf.Tensor;
  assert.ok(tf.max(tf.abs(dw)).dataSync()[0] > 0);
  tf.dispose([x, dy, dw]);
});

test('per-channel sums, SIMD = JavaScript, over rows beyond one block and odd channel counts', () => {
  for (const [m, c] of [
    [7, 3],
    [1000, 16],
    [513, 18],
  ]) {
    const x = values([m, c], 14, 2);
    const [s, j] = both(() => [tf.engine().runKernel(CHANNEL_SUMS, { x }, {}) as tf.Tensor]);
    close(s[0], j[0], 1e-6, `channel sums ${m}x${c}`);
    x.dispose();
  }
});

test('a helper thread that cannot start is left out, and the process goes on', async () => {
  // The plain-memory build cannot be instantiated on a shared memory: the helper fails.
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 512, shared: true });
  const main = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNELS_WASM.shared, 'base64')), { env: { memory } });
  const team = createTeam(
    new WebAssembly.Module(Buffer.from(KERNELS_WASM.plain, 'base64')),
    memory,
    main.exports as Record<string, (...a: number[]) => unknown>,
    2,
  );
  assert.equal(team.size, 2);
  await new Promise((resolve) => setTimeout(resolve, 1000)); // let the helper's error arrive
  assert.equal(team.awaitHelpers(0), false);
  // The main thread does all the work: channel sums of 8 rows x 4 channels of ones.
  const heap = new Float32Array(memory.buffer);
  heap.fill(1, 1024, 1024 + 32); // at byte 4096
  team.split('channel_sums_part', [4096, 8, 4, 1, 8192], 1);
  assert.deepEqual([...new Float64Array(memory.buffer, 8192, 4)], [8, 8, 8, 8]);
});

test('Adam update, SIMD = JavaScript, on an odd length', () => {
  const [p, g, m] = [values([103], 6), values([103], 7), values([103], 8)];
  const v = tf.abs(values([103], 9));
  const attrs = { beta1: 0.9, beta2: 0.999, stepSize: 0.01, invSqrtBc2: 3.2, eps: 1e-8, lrWd: 1e-5 };
  const [s, j] = both(() => tf.engine().runKernel('GapsegAdamUpdate', { p, g, m, v }, attrs) as tf.Tensor[]);
  for (let i = 0; i < 3; i++) close(s[i], j[i], 1e-6, ['p', 'm', 'v'][i]);
  tf.dispose([p, g, m, v]);
});

test('2x2 max-pool gradient, SIMD = JavaScript, with ties', () => {
  // Values on a coarse grid so that windows have ties; the first maximum takes the gradient.
  const rng = makeRng(10);
  const shape: [number, number, number, number] = [2, 6, 8, 5];
  const x = tf.tensor(
    Float32Array.from({ length: 2 * 6 * 8 * 5 }, () => Math.floor(rng.next() * 3)),
    shape,
  ) as tf.Tensor4D;
  const y = tf.maxPool(x, 2, 2, 'valid');
  const dy = values(y.shape, 11);
  const [s, j] = both(() => [tf.engine().runKernel('GapsegMaxPool2x2Grad', { dy, x, y }, {}) as tf.Tensor]);
  close(s[0], j[0], 0, 'dx');
  tf.dispose([x, y, dy]);
});

test('channel concatenation and split, SIMD = JavaScript, and split inverts concat', () => {
  const a = values([2, 3, 5, 3], 12);
  const b = values([2, 3, 5, 6], 13);
  const [s, j] = both(() => {
    const cat = tf.engine().runKernel('GapsegConcatChannels', { a, b }, {}) as tf.Tensor;
    const [x, y] = tf.engine().runKernel('GapsegSplitChannels', { x: cat }, { channelsA: 3 }) as tf.Tensor[];
    return [cat, x, y, tf.concat([a, b], 3)];
  });
  close(s[0], j[0], 0, 'concat');
  close(s[0], s[3], 0, 'concat vs tf.concat');
  close(s[1], a.dataSync() as Float32Array, 0, 'split a');
  close(s[2], b.dataSync() as Float32Array, 0, 'split b');
  close(j[1], s[1], 0, 'split js');
  tf.dispose([a, b]);
});

test('ReLU6 gradient from the output, SIMD = JavaScript = the definition, at odd lengths and the clamp edges', () => {
  for (const n of [1, 7, 4099]) {
    const y = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => [0, 6, -0.5, 3, 6.5, 1e-7][i % 6]));
    const dy = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => 0.5 + i));
    const [s, j] = both(() => [tf.engine().runKernel(RELU6_GRAD, { dy, y }, {}) as tf.Tensor]);
    const yv = y.dataSync();
    const want = Float32Array.from(dy.dataSync(), (d, i) => (yv[i] > 0 && yv[i] < 6 ? d : 0));
    close(s[0], want, 0, `simd n=${n}`);
    close(j[0], want, 0, `js n=${n}`);
    tf.dispose([y, dy]);
  }
});
