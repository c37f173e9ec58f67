/**
 * Training-speed benchmark: gapseg (TensorFlow.js wasm, 2 threads) against PyTorch (CPU,
 * 2 threads) on the reference U-Net (16-32-64-128 encoder, 256 bottleneck, 2 outputs),
 * input 3x256x256, batch 4, masked cross-entropy (10% void), Adam.
 *
 * Reports per engine: median step time over >= 10 steps after warm-up, images/s,
 * forward-only images/s (inference mode), peak RSS; the ratios gapseg/PyTorch; and the
 * loss over 30 steps on the same synthetic task for both. JSON in bench/results/train.json.
 * PyTorch runs as its users would configure it (the faster memory format for training, batch
 * norm folded for inference), after a check that it computes gapseg's network from the same
 * weights (logits and training loss within AGREE); if not, the benchmark fails, with no ratio.
 *
 *   npm run bench:train [-- --steps 10 --warmup 2 --threads 2]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { createUNet, disposeUNet, unetForward, unetValues, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { writeTorchWeights } from './torchWeights.js';
import { checkAgreement, writeCheckData } from './peerCheck.js';
import { kernelProfile, type KernelTime } from './kernelProfile.js';
import { createAdamState } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { lossTargets } from '../src/losses/crossEntropy.js';
import { generateImage } from '../src/data/sample.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { makeRng } from '../src/util/random.js';
import { REFERENCE_N, REFERENCE_SIZE, referenceBatch, referenceHyper } from './reference.js';
import { argNumber, BENCH_DIR, findTorchPython, machine, median, table, TORCH_HINT, writeResult } from './common.js';

const STEPS = argNumber('steps', 10);
const WARMUP = argNumber('warmup', 2);
const THREADS = argNumber('threads', 2);
const TASK_STEPS = argNumber('task-steps', 30);
const N = REFERENCE_N;
const S = REFERENCE_SIZE;
const LR = 1e-3;

let profile: KernelTime[] = [];
let profileKernelCount = 0;

interface EngineResult {
  engine: string;
  stepSeconds: number;
  stepTimes: number[];
  trainImagesPerSecond: number;
  forwardImagesPerSecond: number;
  peakRssMB: number;
  lossCurve: number[];
}

/** The shared synthetic task: smoke-like 256x256 images with void bands, written for both engines. */
function makeTask(count: number): { images: Float32Array; labels: Uint8Array; file: string } {
  const rng = makeRng(2024);
  const images = new Float32Array(count * S * S * 3);
  const labels = new Uint8Array(count * S * S);
  for (let i = 0; i < count; i++) {
    const g = generateImage(rng, S, 4);
    for (let p = 0; p < S * S * 3; p++) images[i * S * S * 3 + p] = (g.rgb[p] / 255 - 0.5) / 0.25;
    labels.set(g.labels, i * S * S);
  }
  const file = path.join(os.tmpdir(), `gapseg-bench-task-${process.pid}.f32`);
  const raw = new Float32Array(1 + images.length + labels.length);
  raw[0] = count;
  raw.set(images, 1);
  for (let p = 0; p < labels.length; p++) raw[1 + images.length + p] = labels[p] === VOID_INDEX ? -1 : labels[p];
  fs.writeFileSync(file, new Uint8Array(raw.buffer));
  return { images, labels, file };
}

async function benchGapseg(task: { images: Float32Array; labels: Uint8Array }, count: number): Promise<EngineResult> {
  const cfg = { ...DEFAULT_UNET, numClasses: 2 };
  const batch = referenceBatch();
  const hyper = referenceHyper(LR);
  let net = createUNet(cfg, 1);
  let adam = createAdamState(net.params);
  for (let i = 0; i < WARMUP; i++) await trainStep(net, adam, batch, hyper, trainingLoss('none'));
  const times: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    await trainStep(net, adam, batch, hyper, trainingLoss('none'));
    times.push((performance.now() - t0) / 1000);
  }
  // Where one step's time goes, per kernel.
  const prof = await kernelProfile(async () => {
    await trainStep(net, adam, batch, hyper, trainingLoss('none'));
  });
  profile = prof.byKernel;
  profileKernelCount = prof.calls;
  const x = tf.tensor4d(batch.images, [N, S, S, 3]);
  const fwd: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    const y = unetForward(net, x, false);
    await y.data();
    y.dispose();
    if (i >= WARMUP) fwd.push((performance.now() - t0) / 1000);
  }
  x.dispose();

  net = createUNet(cfg, 7);
  adam = createAdamState(net.params);
  const curve: number[] = [];
  for (let i = 0; i < TASK_STEPS; i++) {
    const xb = new Float32Array(N * S * S * 3);
    const yb = new Uint8Array(N * S * S);
    for (let b = 0; b < N; b++) {
      const idx = (i * N + b) % count;
      xb.set(task.images.subarray(idx * S * S * 3, (idx + 1) * S * S * 3), b * S * S * 3);
      yb.set(task.labels.subarray(idx * S * S, (idx + 1) * S * S), b * S * S);
    }
    curve.push(
      await trainStep(net, adam, { n: N, height: S, width: S, images: xb, targets: lossTargets(yb, 2) }, hyper, trainingLoss('none')),
    );
  }
  const step = median(times);
  return {
    engine: 'gapseg (tfjs wasm)',
    stepSeconds: step,
    stepTimes: times,
    trainImagesPerSecond: N / step,
    forwardImagesPerSecond: N / median(fwd),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    lossCurve: curve,
  };
}

/**
 * What PyTorch must reproduce: gapseg's initial weights, its inference logits on a check input
 * and its training-mode loss on the reference batch. Returns the manifest file.
 */
async function writeCheck(dir: string): Promise<{ manifest: string; gapsegLoss: number }> {
  const cfg = { ...DEFAULT_UNET, numClasses: 2 };
  const net = createUNet(cfg, 1);
  const tw = await writeTorchWeights(dir, cfg, await unetValues(net));
  const { gapsegLoss, ...data } = await writeCheckData(dir, net, LR);
  disposeUNet(net);
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ unet: cfg, ...tw, ...data }));
  return { manifest: path.join(dir, 'manifest.json'), gapsegLoss };
}

type TorchResult = EngineResult & { version: string; format: string };

/**
 * PyTorch in both memory formats (each in its own process), the faster kept, after the check
 * that it computes gapseg's network (which throws when it does not); null without PyTorch.
 */
async function benchTorch(taskFile: string, dir: string): Promise<(EngineResult & { byFormat: Record<string, number> }) | null> {
  const torch = findTorchPython();
  if (!torch) return null;
  console.error(`pytorch: ${torch.version} via ${torch.python}, ${THREADS} threads`);
  const script = path.join(BENCH_DIR, 'torch_unet.py');
  const py = (args: string[]): unknown => {
    const r = spawnSync(torch.python, [script, '--threads', String(THREADS), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`PyTorch benchmark failed:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const { manifest, gapsegLoss } = await writeCheck(dir);
  const c = py(['--check', manifest]) as { logitsMaxAbsDiff: number; logitsMaxAbs: number; loss: number };
  console.error(checkAgreement('PyTorch', c, gapsegLoss));
  const runs = ['contiguous', 'channels_last'].map(
    (format) =>
      py([
        '--format',
        format,
        '--steps',
        String(STEPS),
        '--warmup',
        String(WARMUP),
        '--task',
        taskFile,
        '--task-steps',
        String(TASK_STEPS),
        '--lr',
        String(LR),
      ]) as TorchResult,
  );
  const best = runs.reduce((a, b) => (b.stepSeconds < a.stepSeconds ? b : a));
  const fwd = runs.reduce((a, b) => (b.forwardImagesPerSecond > a.forwardImagesPerSecond ? b : a));
  return {
    ...best,
    forwardImagesPerSecond: fwd.forwardImagesPerSecond,
    engine: `PyTorch ${best.version} (CPU, ${best.format}; inference BN-folded, ${fwd.format})`,
    byFormat: Object.fromEntries(runs.map((r) => [r.format, r.stepSeconds])),
  };
}

async function main(): Promise<void> {
  const count = 16;
  const task = makeTask(count);
  const info = await initEngine({ ...engineOptionsFromEnv(), threads: THREADS });
  console.error(`gapseg: tfjs ${tf.version_core} wasm, ${info.threads} threads, SIMD ${info.simd}, FMA ${info.fma}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gapseg-bench-train-'));
  // PyTorch first, in its own processes, so the two never compete for the cores.
  const torch = await benchTorch(task.file, dir);
  if (!torch) console.error(TORCH_HINT);
  const ours = await benchGapseg(task, count);
  fs.rmSync(task.file, { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  const rows: (string | number)[][] = [ours, ...(torch ? [torch] : [])].map((r) => [
    r.engine,
    r.stepSeconds,
    r.trainImagesPerSecond,
    r.forwardImagesPerSecond,
    r.peakRssMB,
  ]);
  console.log(
    `\nTraining step, reference U-Net, batch ${N} x 3x${S}x${S}, ${THREADS} threads, median of ${STEPS} steps after ${WARMUP} warm-up\n`,
  );
  console.log(table(['engine', 'step s', 'train img/s', 'forward img/s', 'peak RSS MB'], rows));
  let ratios: Record<string, number> | null = null;
  if (torch) {
    ratios = {
      stepTime: ours.stepSeconds / torch.stepSeconds,
      forwardTime: torch.forwardImagesPerSecond / ours.forwardImagesPerSecond,
      peakRss: ours.peakRssMB / torch.peakRssMB,
    };
    console.log(
      `\nratios gapseg / PyTorch (lower is better): step time ${ratios.stepTime.toFixed(2)}, forward time ${ratios.forwardTime.toFixed(2)}, peak RSS ${ratios.peakRss.toFixed(2)}`,
    );
  }
  console.log(`\nLoss on the shared synthetic task (${count} smoke-like images with void bands, Adam lr ${LR}):`);
  const every = [0, 4, 9, 14, 19, 24, TASK_STEPS - 1].filter((s, i, a) => s < TASK_STEPS && a.indexOf(s) === i);
  console.log(
    table(
      ['step', ...every.map((s) => String(s + 1))],
      [ours, ...(torch ? [torch] : [])].map((r) => [r.engine, ...every.map((s) => r.lossCurve[s])]),
    ),
  );
  console.log(`\nOne gapseg step by kernel (${profileKernelCount} kernel calls):`);
  console.log(
    table(
      ['kernel', 'ms', 'calls'],
      profile.slice(0, 12).map((p) => [p.kernel, p.ms, String(p.calls)]),
    ),
  );
  const file = writeResult('train.json', {
    machine: machine(),
    settings: { N, S, STEPS, WARMUP, THREADS, TASK_STEPS, LR },
    gapseg: ours,
    pytorch: torch,
    ratios,
    profile,
  });
  console.log(`\nresults: ${file}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
