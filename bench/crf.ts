/**
 * Cost of the Gated CRF gap loss on the training benchmark's reference setting: U-Net
 * 16-32-64-128 (256 bottleneck), 2 classes, batch 4 x 256x256. Times the kernel alone (SIMD
 * and JavaScript) and whole training steps with and without the loss, interleaved in one
 * process so that load from other work on the machine hits both alike. Prints medians and
 * the step overhead; writes bench/results/crf.json.
 *
 *   npm run build:dev && node build/bench/crf.js [--steps 6 --radii 3,5,8]
 *   (--width 8 --size 128 --batch 8: the gap benchmark's network instead)
 */
import * as tf from '@tensorflow/tfjs-core';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { withKernelRoutes } from '../src/engine/routes.js';
import { createUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { createAdamState } from '../src/train/adam.js';
import { trainStep, type HostBatch } from '../src/train/step.js';
import { lossTargets } from '../src/losses/crossEntropy.js';
import { DEFAULT_CRF, type GapLossConfig } from '../src/losses/gapLoss.js';
import { GATED_CRF } from '../src/losses/gatedCrf.js';
import { generateImage } from '../src/data/sample.js';
import { makeRng } from '../src/util/random.js';
import { argString, machine, median, table, writeResult } from './common.js';

const STEPS = Number(argString('steps', '6'));
const RADII = argString('radii', '3,5,8').split(',').map(Number);
const N = Number(argString('batch', '4'));
const S = Number(argString('size', '256'));
const WIDTH = Number(argString('width', String(DEFAULT_UNET.baseWidth)));
const K = 2;

function timeKernel(logits: tf.Tensor4D, image: tf.Tensor4D, gate: tf.Tensor3D, radius: number, reps: number): number {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = tf.engine().runKernel(GATED_CRF, { logits, image, gate }, { ...DEFAULT_CRF, radius }) as tf.Tensor[];
    out[0].dataSync();
    ts.push(performance.now() - t0);
    tf.dispose(out);
  }
  return median(ts);
}

async function main(): Promise<void> {
  await initEngine({ ...engineOptionsFromEnv(), threads: 2 });
  const rng = makeRng(3);
  const rgb = new Uint8Array(N * S * S * 3);
  const labels = new Uint8Array(N * S * S);
  const valid = new Uint8Array(N * S * S).fill(1);
  for (let b = 0; b < N; b++) {
    const g = generateImage(rng, S, 4);
    rgb.set(g.rgb, b * S * S * 3);
    labels.set(g.labels, b * S * S);
  }
  for (let i = 0; i < S * 20; i++) valid[i] = 0; // some padding, as crops near a border have
  const images = Float32Array.from(rgb, (v) => (v / 255 - 0.5) / 0.25);
  const batch: HostBatch = { n: N, height: S, width: S, images, targets: lossTargets(labels, K), rgb, valid };

  // Kernel alone, SIMD and JavaScript.
  const logits = tf.randomNormal([N, S, S, K], 0, 2, 'float32', 1) as tf.Tensor4D;
  const image = tf.tensor4d(Float32Array.from(rgb, (v) => v / 255), [N, S, S, 3]);
  const gate = tf.tensor3d(Float32Array.from(valid), [N, S, S]);
  const kernelRows: { radius: number; simdMs: number; jsMs: number }[] = [];
  for (const radius of RADII) {
    const simdMs = timeKernel(logits, image, gate, radius, 5);
    const jsMs = withKernelRoutes({ simd: false }, () => timeKernel(logits, image, gate, radius, 2));
    kernelRows.push({ radius, simdMs, jsMs });
  }
  tf.dispose([logits, image, gate]);

  // Whole steps, interleaved: plain, then each radius, repeated.
  const net = createUNet({ ...DEFAULT_UNET, numClasses: K, baseWidth: WIDTH }, 1);
  const adam = createAdamState(net.params);
  const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  const settings: [string, GapLossConfig | null][] = [['none', null], ...RADII.map((r): [string, GapLossConfig] => [`crf r=${r}`, { ...DEFAULT_CRF, radius: r }])];
  for (const [, g] of settings) trainStep(net, adam, batch, hyper, g); // warm-up
  const times = new Map<string, number[]>(settings.map(([id]) => [id, []]));
  for (let i = 0; i < STEPS; i++) {
    for (const [id, g] of settings) {
      const t0 = performance.now();
      trainStep(net, adam, batch, hyper, g);
      times.get(id)!.push(performance.now() - t0);
    }
  }
  const base = median(times.get('none')!);
  const stepRows = settings.map(([id]) => ({ setting: id, stepMs: median(times.get(id)!), overhead: median(times.get(id)!) / base - 1 }));
  console.log(`Gated CRF kernel, batch ${N} x ${S}x${S}, ${K} classes (SIMD: images shared out between the threads; JavaScript: one thread), median ms`);
  console.log(table(['radius', 'offsets', 'SIMD ms', 'JavaScript ms'], kernelRows.map((r) => [String(r.radius), String((2 * r.radius + 1) ** 2 - 1), r.simdMs, r.jsMs])));
  console.log(`\nTraining step, U-Net width ${WIDTH}, batch ${N} x 3x${S}x${S}, 2 threads, median of ${STEPS} interleaved steps`);
  console.log(table(['gap loss', 'step ms', 'overhead'], stepRows.map((r) => [r.setting, r.stepMs, `${(100 * r.overhead).toFixed(1)}%`])));
  const file = writeResult('crf.json', { machine: machine(), settings: { N, S, K, WIDTH, STEPS, RADII, crf: DEFAULT_CRF }, kernel: kernelRows, steps: stepRows });
  console.log(`\nresults: ${file}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
