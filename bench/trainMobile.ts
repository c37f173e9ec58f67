/**
 * Training speed of the MobileNetV2 U-Net (`gapseg train --encoder mobilenet_v2`): gapseg
 * (TF.js wasm, 2 threads) against PyTorch on the same network shape (torchvision's
 * mobilenet_v2().features and the same decoder, random weights), batch 4 x 3x256x256, masked
 * cross-entropy, Adam; each engine in its own process, PyTorch in the faster memory format.
 * Reports step time (encoder trained, and for gapseg also frozen, as its first fine-tuning
 * epochs run), inference images/s and peak RSS, with the ratios. Two checks come first, and the
 * benchmark fails with no ratio unless both hold: PyTorch computes gapseg's network itself from
 * gapseg's tensors (the folded encoder with TensorFlow's padding: inference logits and the
 * training-mode loss), and the timed torchvision network has gapseg's shape (the count of
 * convolution weights and the logits' shape). The timed networks are not the same function:
 * torchvision's encoder has batch norm after each conv (as its users train it), gapseg's the
 * folded conv + bias of the ImageNet file. JSON in bench/results/train-mobilenet.json.
 *
 *   npm run bench:train   (runs bench/train.ts, then this)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { createNet, disposeNet, netForward, netSpecs, netValues } from '../src/nets/index.js';
import { DEFAULT_MOBILE_UNET } from '../src/nets/mobilenetV2/unet.js';
import { createAdamState } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { REFERENCE_N, REFERENCE_SIZE, referenceBatch, referenceHyper } from './reference.js';
import { checkAgreement, writeCheckData } from './peerCheck.js';
import { kernelProfile, type KernelTime } from './kernelProfile.js';
import { writeGapsegTensors } from './torchWeights.js';
import { argNumber, BENCH_DIR, findTorchPython, machine, median, table, TORCH_HINT, writeResult } from './common.js';

const STEPS = argNumber('steps', 10);
const WARMUP = argNumber('warmup', 2);
const THREADS = argNumber('threads', 2);
const [N, S] = [REFERENCE_N, REFERENCE_SIZE];
const CFG = { ...DEFAULT_MOBILE_UNET, numClasses: 2 };

interface Row {
  engine: string;
  stepSeconds: number;
  frozenStepSeconds: number | null;
  forwardImagesPerSecond: number;
  peakRssMB: number;
}

async function benchGapseg(): Promise<
  Row & { convWeights: number; logitsShape: number[]; stepProfile: KernelTime[]; forwardProfile: KernelTime[] }
> {
  const net = createNet(CFG, 1);
  const adam = createAdamState(net.params);
  const batch = referenceBatch();
  const hyper = referenceHyper(1e-3);
  const time = async (phase: { trainEncoder: boolean; encoderLrScale: number }) => {
    for (let i = 0; i < WARMUP; i++) await trainStep(net, adam, batch, hyper, trainingLoss('none'), phase);
    const ts: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const t0 = performance.now();
      await trainStep(net, adam, batch, hyper, trainingLoss('none'), phase);
      ts.push((performance.now() - t0) / 1000);
    }
    return median(ts);
  };
  const frozen = await time({ trainEncoder: false, encoderLrScale: 0 });
  const step = await time({ trainEncoder: true, encoderLrScale: 0.1 });
  const x = tf.tensor4d(batch.images, [N, S, S, 3]);
  const fwd: number[] = [];
  let logitsShape: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    const y = netForward(net, x, false);
    await y.data();
    logitsShape = [y.shape[0], y.shape[3], y.shape[1], y.shape[2]];
    y.dispose();
    if (i >= WARMUP) fwd.push((performance.now() - t0) / 1000);
  }
  // Where a step's and a forward pass's time go, per kernel.
  const stepProfile = (
    await kernelProfile(() => trainStep(net, adam, batch, hyper, trainingLoss('none'), { trainEncoder: true, encoderLrScale: 0.1 }))
  ).byKernel;
  const forwardProfile = (await kernelProfile(() => netForward(net, x, false).dispose())).byKernel;
  x.dispose();
  const convWeights = netSpecs(CFG)
    .filter((s) => s.kind === 'kernel')
    .reduce((a, s) => a + s.shape.reduce((p, q) => p * q, 1), 0);
  return {
    engine: 'gapseg (tfjs wasm)',
    stepSeconds: step,
    frozenStepSeconds: frozen,
    forwardImagesPerSecond: N / median(fwd),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    convWeights,
    logitsShape,
    stepProfile,
    forwardProfile,
  };
}

/**
 * Check that PyTorch computes gapseg's network (bench/torch_mobilenet_unet.py --check, from
 * gapseg's own tensors); throws when it does not.
 */
async function checkTorch(python: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gapseg-bench-mobile-'));
  try {
    const net = createNet(CFG, 1);
    const tensors = writeGapsegTensors(dir, netSpecs(CFG), await netValues(net));
    const { gapsegLoss, ...data } = await writeCheckData(dir, net, 1e-3);
    disposeNet(net);
    const manifest = path.join(dir, 'manifest.json');
    fs.writeFileSync(manifest, JSON.stringify({ config: CFG, ...tensors, ...data }));
    const r = spawnSync(python, [path.join(BENCH_DIR, 'torch_mobilenet_unet.py'), '--threads', String(THREADS), '--check', manifest], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`PyTorch check failed:\n${r.stderr}`);
    return checkAgreement('PyTorch', JSON.parse(r.stdout), gapsegLoss);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function benchTorch(): Promise<
  (Row & { convWeights: number; logitsShape: number[]; byFormat: Record<string, number>; check: string }) | null
> {
  const torch = findTorchPython();
  if (!torch) return null;
  const r = spawnSync(torch.python, ['-c', 'import torchvision'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error('torchvision not found: install the peer with `sudo apt-get install python3-torchvision` (Debian)');
    return null;
  }
  const check = await checkTorch(torch.python);
  console.error(check);
  const runs = ['contiguous', 'channels_last'].map((format) => {
    const p = spawnSync(
      torch.python,
      [
        path.join(BENCH_DIR, 'torch_mobilenet_unet.py'),
        '--threads',
        String(THREADS),
        '--steps',
        String(STEPS),
        '--warmup',
        String(WARMUP),
        '--format',
        format,
        '--widths',
        CFG.decoderWidths.join(','),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    if (p.status !== 0) throw new Error(`PyTorch benchmark failed:\n${p.stderr}`);
    return JSON.parse(p.stdout) as {
      version: string;
      format: string;
      stepSeconds: number;
      forwardImagesPerSecond: number;
      peakRssMB: number;
      convWeights: number;
      logitsShape: number[];
    };
  });
  const best = runs.reduce((a, b) => (b.stepSeconds < a.stepSeconds ? b : a));
  const fwd = runs.reduce((a, b) => (b.forwardImagesPerSecond > a.forwardImagesPerSecond ? b : a));
  return {
    engine: `PyTorch ${best.version} (CPU, ${best.format}; inference BN-folded, ${fwd.format})`,
    stepSeconds: best.stepSeconds,
    frozenStepSeconds: null,
    forwardImagesPerSecond: fwd.forwardImagesPerSecond,
    peakRssMB: best.peakRssMB,
    convWeights: best.convWeights,
    logitsShape: best.logitsShape,
    byFormat: Object.fromEntries(runs.map((x) => [x.format, x.stepSeconds])),
    check,
  };
}

async function main(): Promise<void> {
  const info = await initEngine({ ...engineOptionsFromEnv(), threads: THREADS });
  console.error(`gapseg: tfjs ${tf.version_core} wasm, ${info.threads} threads, FMA ${info.fma}`);
  // PyTorch first (after the check), in its own processes, so the engines never compete for the cores.
  const torch = await benchTorch();
  if (!torch) console.error(TORCH_HINT);
  const ours = await benchGapseg();
  if (torch && (torch.convWeights !== ours.convWeights || torch.logitsShape.join() !== ours.logitsShape.join())) {
    throw new Error(
      `PyTorch's network is not gapseg's shape: ${torch.convWeights} vs ${ours.convWeights} convolution weights, logits [${torch.logitsShape}] vs [${ours.logitsShape}]; no ratio is printed`,
    );
  }
  console.log(
    `\nTraining step, MobileNetV2 U-Net (decoder ${CFG.decoderWidths.join('-')}), batch ${N} x 3x${S}x${S}, ${THREADS} threads, median of ${STEPS} steps after ${WARMUP} warm-up; ${torch ? "PyTorch checked to compute gapseg's network from its tensors; the timed torchvision network has its shape" : 'no peer'} (${ours.convWeights.toLocaleString('en')} convolution weights)\n`,
  );
  const f = (v: number | null) => (v === null ? 'n/a' : v);
  console.log(
    table(
      ['engine', 'step s', 'step s, encoder frozen', 'forward img/s', 'peak RSS MB'],
      [ours, ...(torch ? [torch] : [])].map((r) => [
        r.engine,
        r.stepSeconds,
        f(r.frozenStepSeconds),
        r.forwardImagesPerSecond,
        r.peakRssMB,
      ]),
    ),
  );
  const ratios = torch
    ? {
        stepTime: ours.stepSeconds / torch.stepSeconds,
        forwardTime: torch.forwardImagesPerSecond / ours.forwardImagesPerSecond,
        peakRss: ours.peakRssMB / torch.peakRssMB,
      }
    : null;
  if (ratios)
    console.log(
      `\nratios gapseg / PyTorch (lower is better): step time ${ratios.stepTime.toFixed(2)}, forward time ${ratios.forwardTime.toFixed(2)}, peak RSS ${ratios.peakRss.toFixed(2)}`,
    );
  for (const [what, p] of [
    ['One gapseg step', ours.stepProfile],
    ['One gapseg forward pass', ours.forwardProfile],
  ] as const) {
    console.log(`\n${what} by kernel:`);
    console.log(
      table(
        ['kernel', 'ms', 'calls'],
        p.slice(0, 10).map((k) => [k.kernel, k.ms, String(k.calls)]),
      ),
    );
  }
  const file = writeResult('train-mobilenet.json', {
    machine: machine(),
    load: os.loadavg(),
    settings: { N, S, STEPS, WARMUP, THREADS, decoderWidths: CFG.decoderWidths },
    gapseg: ours,
    pytorch: torch,
    ratios,
  });
  console.log(`\nresults: ${file}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
