/**
 * The WebGPU engine (--device webgpu) against the CPU engine: gapseg's kernels, composed of
 * WebGPU's stock kernels, against their JavaScript versions; both networks trained a few steps
 * on each device from the same seed, losses and weights compared; prediction and evaluation on
 * WebGPU. Needs a WebGPU adapter: Mesa's lavapipe (mesa-vulkan-drivers 25, which .ci/run
 * installs from bookworm-backports) gives one on any CPU.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { findAdapter } from '../src/engine/webgpu.js';
import { initEngine, describeEngine } from '../src/engine/engine.js';
import { registerGapsegKernels } from '../src/engine/kernels/index.js';
import { BN_RELU_BACKWARD, BN_RELU_FORWARD } from '../src/engine/kernels/batchNormRelu.js';
import { CHANNEL_SUMS, MAXPOOL2_GRAD, RELU6_GRAD } from '../src/engine/kernels/gradients.js';
import { CONCAT_CHANNELS, SPLIT_CHANNELS } from '../src/engine/kernels/channels.js';
import { ADAM_UPDATE } from '../src/engine/kernels/adam.js';
import { MASKED_SOFTMAX_CE } from '../src/losses/crossEntropy.js';
import { readModelMeta, readModelValues } from '../src/formats/modelFolder.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { makeRng } from '../src/util/random.js';
import { runCli, tmpDir } from './helpers.js';
import { train } from '../src/api/train.js';
import { syntheticMobileNetV2 } from './mobilenetFixture.js';
import { paintableSet, paintViewer } from './paintFixtures.js';
import { view } from '../src/api/view.js';

const adapter = await findAdapter();
const skip =
  typeof adapter === 'string'
    ? `no WebGPU adapter (${adapter}); Mesa's lavapipe gives one on the CPU: apt-get install -t bookworm-backports mesa-vulkan-drivers`
    : false;

type Input = { shape: number[]; values: Float32Array };

/** A kernel's outputs on one backend, from host values (nothing crosses between backends: WebGPU has no synchronous read). */
async function runOn(backend: string, name: string, inputs: Record<string, Input>, attrs: tf.NamedAttrMap = {}): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensors: tf.NamedTensorMap = {};
  for (const [k, v] of Object.entries(inputs)) tensors[k] = tf.tensor(v.values, v.shape);
  const out = tf.engine().runKernel(name, tensors, attrs) as tf.Tensor | tf.Tensor[];
  const outs = Array.isArray(out) ? out : [out];
  const values = await Promise.all(outs.map(async (o) => (await o.data()) as Float32Array));
  tf.dispose([...Object.values(tensors), ...outs]);
  return values;
}

const rng = makeRng(11);
function input(shape: number[], f: () => number = () => rng.next() * 2 - 1): Input {
  return { shape, values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f) };
}

/** Largest difference relative to the reference's largest magnitude. */
function relativeDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

test("gapseg's kernels on WebGPU give what their JavaScript versions give", { skip }, async () => {
  const info = await initEngine({ device: 'webgpu' });
  assert.match(describeEngine(info), /^engine: TensorFlow\.js WebGPU on \S/);
  await import('@tensorflow/tfjs-backend-cpu');
  registerGapsegKernels();
  const x = input([2, 4, 6, 5]);
  const gamma = input([5], () => 0.5 + rng.next());
  const beta = input([5]);
  const [y, mean, rstd] = await runOn('cpu', BN_RELU_FORWARD, { x, gamma, beta }, { epsilon: 1e-3 });
  // Pooling windows with ties, so that the first maximum's rule is exercised.
  const coarse = input([2, 4, 6, 3], () => Math.floor(rng.next() * 3));
  const pooled = { shape: [2, 2, 3, 3], values: (await runOnPool(coarse)).values };
  const cases: [string, string, Record<string, Input>, tf.NamedAttrMap][] = [
    ['batch norm + ReLU forward', BN_RELU_FORWARD, { x, gamma, beta }, { epsilon: 1e-3 }],
    [
      'batch norm + ReLU backward',
      BN_RELU_BACKWARD,
      {
        dy: input(x.shape),
        x,
        y: { shape: x.shape, values: y },
        mean: { shape: [5], values: mean },
        rstd: { shape: [5], values: rstd },
        gamma,
      },
      {},
    ],
    ['2x2 max-pooling gradient', MAXPOOL2_GRAD, { dy: input([2, 2, 3, 3]), x: coarse, y: pooled }, {}],
    ['channel sums', CHANNEL_SUMS, { x: input([3, 5, 7]) }, {}],
    ['ReLU6 gradient', RELU6_GRAD, { dy: input([40]), y: input([40], () => [0, 6, 3, 7][Math.floor(rng.next() * 4)]) }, {}],
    ['channel concatenation', CONCAT_CHANNELS, { a: input([2, 3, 4]), b: input([2, 3, 2]) }, {}],
    ['channel split', SPLIT_CHANNELS, { x: input([2, 3, 6]) }, { channelsA: 4 }],
    [
      'Adam update',
      ADAM_UPDATE,
      { p: input([30]), g: input([30]), m: input([30]), v: input([30], () => rng.next()) },
      { beta1: 0.9, beta2: 0.999, stepSize: 0.01, invSqrtBc2: 1.2, eps: 1e-8, lrWd: 1e-4 },
    ],
    [
      'masked softmax cross-entropy',
      MASKED_SOFTMAX_CE,
      { logits: input([1, 3, 4, 3], () => 4 * rng.next()), targets: input([1, 3, 4, 3], () => (rng.next() < 0.3 ? 1.5 : 0)) },
      { scale: 0.1 },
    ],
  ];
  for (const [what, name, inputs, attrs] of cases) {
    const want = await runOn('cpu', name, inputs, attrs);
    const got = await runOn('webgpu', name, inputs, attrs);
    assert.equal(got.length, want.length, what);
    for (let i = 0; i < want.length; i++) {
      const d = relativeDiff(got[i], want[i]);
      assert.ok(d < 1e-4, `${what}, output ${i}: differs by ${d} of its largest value`);
    }
  }
  await tf.setBackend('webgpu');
});

async function runOnPool(x: Input): Promise<Input> {
  await tf.setBackend('cpu');
  const t = tf.tensor4d(x.values, x.shape as [number, number, number, number]);
  const y = tf.maxPool(t, 2, 2, 'valid');
  const values = (await y.data()) as Float32Array;
  tf.dispose([t, y]);
  return { shape: y.shape, values };
}

/** A run's training loss per epoch. */
function epochLosses(run: string): number[] {
  return (JSON.parse(fs.readFileSync(path.join(run, 'history.json'), 'utf8')) as { trainLoss: number }[]).map((e) => e.trainLoss);
}

/** The saved model's weights, by name. */
function weightsOf(run: string): Map<string, Float32Array> {
  const dir = path.join(run, 'model');
  return readModelValues(dir, readModelMeta(dir));
}

/**
 * Train on both devices from the same seed; the per-epoch losses and the kept weights must agree.
 * Adam's first steps move a weight by about the rate whatever the size of its gradient, so a
 * weight whose gradient is near zero may move the other way on another device: the weights are
 * held to their mean difference, and to a share of them that may differ more.
 */
async function sameOnBothDevices(data: string, args: string[], tolerance: number): Promise<string> {
  const runs: Record<string, string> = {};
  for (const device of ['cpu', 'webgpu']) {
    runs[device] = path.join(path.dirname(data), `run-${device}`);
    const r = await runCli(['train', data, '--out', runs[device], '--device', device, '--quiet', '--seed', '5', ...args]);
    assert.equal(r.code, 0, r.stderr);
    if (device === 'webgpu') assert.match(r.stderr, /engine: TensorFlow\.js WebGPU on /);
  }
  const [cpuLoss, gpuLoss] = [epochLosses(runs.cpu), epochLosses(runs.webgpu)];
  assert.equal(gpuLoss.length, cpuLoss.length);
  for (let i = 0; i < cpuLoss.length; i++)
    assert.ok(
      Math.abs(gpuLoss[i] - cpuLoss[i]) <= tolerance * cpuLoss[i],
      `epoch ${i + 1}: loss ${gpuLoss[i]} on WebGPU, ${cpuLoss[i]} on the CPU`,
    );
  const [cpuW, gpuW] = [weightsOf(runs.cpu), weightsOf(runs.webgpu)];
  assert.deepEqual([...gpuW.keys()].sort(), [...cpuW.keys()].sort());
  let count = 0;
  let apart = 0;
  for (const [name, w] of cpuW) {
    const g = gpuW.get(name)!;
    let diff = 0;
    let size = 1e-12;
    let largest = 1e-6;
    for (const v of w) largest = Math.max(largest, Math.abs(v));
    for (let i = 0; i < w.length; i++) {
      const d = Math.abs(g[i] - w[i]);
      diff += d;
      size += Math.abs(w[i]);
      if (d > tolerance * largest) apart++;
    }
    count += w.length;
    assert.ok(diff <= tolerance * size, `${name}: WebGPU's weights differ from the CPU's by ${diff / size} of their mean size`);
  }
  assert.ok(apart <= 1e-3 * count, `${apart} of ${count} weights differ by more than ${tolerance} of their tensor's largest`);
  return runs.webgpu;
}

test(
  "the U-Net trains on WebGPU to the CPU engine's losses and weights, and resumes on the CPU; predict and eval run there too",
  { skip },
  async () => {
    const dir = tmpDir();
    const data = path.join(dir, 'data');
    await writeSampleDataset(data, { count: 12, size: 64, gap: 2, seed: 3, valid: 2, test: 2 });
    const net = ['--encoder', 'unet', '--epochs', '2', '--crop', '32', '--depth', '2', '--width', '4'];
    const run = await sameOnBothDevices(data, net, 1e-3);
    // A checkpoint written on WebGPU resumes on the CPU engine, to the losses of a run there.
    const paused = path.join(dir, 'run-paused');
    await train(data, {
      out: paused,
      device: 'webgpu',
      seed: 5,
      encoder: 'unet',
      epochs: 2,
      crop: 32,
      depth: 2,
      width: 4,
      stopAfterEpochs: 1,
    });
    const resumed = await runCli(['train', data, '--out', paused, '--resume', '--device', 'cpu', '--quiet']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const [want, got] = [epochLosses(path.join(dir, 'run-cpu')), epochLosses(paused)];
    assert.equal(got.length, 2);
    for (let i = 0; i < 2; i++)
      assert.ok(Math.abs(got[i] - want[i]) <= 1e-3 * want[i], `epoch ${i + 1}: ${got[i]} resumed, ${want[i]} on the CPU`);
    const images = path.join(data, 'images');
    const outs: Record<string, string> = {};
    for (const device of ['cpu', 'webgpu']) {
      outs[device] = path.join(dir, `pred-${device}`);
      const r = await runCli(['predict', run, images, '--out', outs[device], '--device', device, '--quiet']);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const f of fs.readdirSync(path.join(outs.cpu, 'labels')))
      assert.ok(
        fs.readFileSync(path.join(outs.cpu, 'labels', f)).equals(fs.readFileSync(path.join(outs.webgpu, 'labels', f))),
        `${f}: WebGPU predicts other labels than the CPU engine`,
      );
    const ev = await runCli(['eval', run, data, '--device', 'webgpu', '--quiet']);
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /mean IoU/);
    const onnx = await runCli(['predict', run, images, '--out', path.join(dir, 'x'), '--device', 'webgpu', '--engine', 'onnx']);
    assert.equal(onnx.code, 2);
    assert.match(onnx.stderr, /gapseg: --device webgpu runs TensorFlow\.js: it does not go with --engine onnx/);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test("the MobileNetV2 U-Net trains on WebGPU to the CPU engine's losses and weights, encoder included", { skip }, async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 6, size: 32, gap: 2, seed: 4, valid: 1, test: 1 });
  const weights = path.join(dir, 'mobilenet.tflite');
  fs.writeFileSync(weights, syntheticMobileNetV2({ seed: 2 }).bytes);
  await sameOnBothDevices(
    data,
    ['--encoder-weights', weights, '--freeze-epochs', '0', '--epochs', '1', '--crop', '32', '--batch', '2'],
    1e-3,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--device auto passes a software adapter by, saying why; --device cuda does not train', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 6, size: 32, gap: 2, seed: 4, valid: 1, test: 1 });
  const tiny = ['--encoder', 'unet', '--epochs', '1', '--crop', '32', '--depth', '2', '--width', '4', '--quiet'];
  const auto = await runCli(['train', data, '--out', path.join(dir, 'auto'), '--device', 'auto', ...tiny]);
  assert.equal(auto.code, 0, auto.stderr);
  if (typeof adapter === 'string' || adapter.software) {
    assert.match(auto.stderr, /^warning: device auto: .*; computing on the CPU$/m);
    assert.match(auto.stderr, /^engine: TensorFlow\.js wasm/m);
  } else assert.match(auto.stderr, /^engine: TensorFlow\.js WebGPU on /m);
  const cuda = await runCli(['train', data, '--out', path.join(dir, 'cuda'), '--device', 'cuda', ...tiny]);
  assert.equal(cuda.code, 2);
  assert.match(cuda.stderr, /^gapseg: --device cuda is ONNX Runtime's, which only predicts: train on a GPU with --device webgpu$/m);
  assert.ok(!fs.existsSync(path.join(dir, 'cuda')), 'nothing written');
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the viewer's live model learns on WebGPU (gapseg view --device webgpu)", { skip, timeout: 300_000 }, async () => {
  // The live model's own test scene (test/live.test.ts): two shaded regions, a 4 px stroke in each.
  const [w, h] = [100, 70];
  const rgb = new Uint8Array(w * h * 3);
  const truth = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      truth[y * w + x] = x + 0.3 * y < 60 ? 1 : 0;
      const base = truth[y * w + x] ? [200, 60, 40] : [40, 80, 200];
      for (let j = 0; j < 3; j++) rgb[(y * w + x) * 3 + j] = base[j] + Math.round(y / 3);
    }
  const root = await paintableSet('gapseg-live-gpu-', { scene: { rgb, width: w, height: h } });
  const logged: string[] = [];
  const viewer = await paintViewer(root, { live: true, device: 'webgpu', log: (l) => logged.push(l) });
  try {
    const catalog = (await (await fetch(`${viewer.url}api/catalog`)).json()) as { writeToken: string };
    const labels = new Uint8Array(w * h).fill(255);
    for (let y = 20; y < 50; y++)
      for (let d = 0; d < 4; d++) {
        labels[y * w + 12 + d] = 1;
        labels[y * w + 88 + d] = 0;
      }
    const ask = (body: Uint8Array<ArrayBuffer>) =>
      fetch(`${viewer.url}api/live/0`, { method: 'POST', body, headers: { 'X-Gapseg-Token': catalog.writeToken } });
    // As the page does: the labels once, then asked again (labels as last sent) while the model learns.
    let right = 0;
    for (let round = 0; round < 40 && right <= 0.9 * w * h; round++) {
      const r = await ask(round === 0 ? labels : new Uint8Array(0));
      assert.equal(r.status, 200, await r.clone().text());
      const probs = new Uint8Array(await r.arrayBuffer());
      assert.equal(probs.length, w * h * 2);
      right = 0;
      for (let i = 0; i < w * h; i++) if ((probs[2 * i + 1] > 127 ? 1 : 0) === truth[i]) right++;
    }
    assert.ok(right > 0.9 * w * h, `${right} of ${w * h} pixels on their painted side's class`);
    assert.ok(
      logged.some((l) => /live model: .*; engine: TensorFlow\.js WebGPU on /.test(l)),
      logged.join('\n'),
    );
  } finally {
    await viewer.close();
  }
  await assert.rejects(view(root, { device: 'cuda' }), /--device cuda is ONNX Runtime's/);
});
