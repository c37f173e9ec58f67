/**
 * Training on a device against the CPU engine: gapseg's reference U-Net and its MobileNetV2
 * U-Net, each trained from the same weights on the same batch (bench/reference.ts) by
 * `--device webgpu` (TensorFlow.js's WebGPU backend) and by the CPU engine, each device in its
 * own process, one after the other. Reports step time (median after warm-up), forward images/s
 * and the tensors' peak memory, with the ratios device / CPU engine. Fails, with no ratio, when
 * the first steps' losses disagree between the two (relative AGREE).
 *
 *   npm run bench:device [-- --device webgpu --size 256 --steps 5 --warmup 2]
 *
 * On a software adapter (Mesa's lavapipe) the figures check correctness only: it emulates the GPU
 * on the CPU.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describeEngine, engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import type { Device } from '../src/engine/device.js';
import { createNet, disposeNet, netForward, type NetConfig } from '../src/nets/index.js';
import { DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { DEFAULT_MOBILE_UNET } from '../src/nets/mobilenetV2/unet.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { REFERENCE_N, REFERENCE_SIZE, referenceBatch, referenceHyper } from './reference.js';
import { argNumber, argString, machine, median, table, writeResult } from './common.js';

const DEVICE = argString('device', 'webgpu') as Device;
const SIZE = argNumber('size', REFERENCE_SIZE);
const STEPS = argNumber('steps', 5);
const WARMUP = argNumber('warmup', 2);
/** Largest relative difference of the first steps' losses between the devices. */
const AGREE = 1e-3;
const NETS: Record<string, NetConfig> = {
  'U-Net (reference)': { ...DEFAULT_UNET, numClasses: 2 },
  'MobileNetV2 U-Net': { ...DEFAULT_MOBILE_UNET, numClasses: 2 },
};

interface NetRow {
  net: string;
  stepSeconds: number;
  forwardImagesPerSecond: number;
  peakTensorMB: number;
  /** The losses of the warm-up and timed steps, in order. */
  losses: number[];
}

interface DeviceRun {
  engine: string;
  rows: NetRow[];
}

/** One device's figures, in this process. */
async function measure(device: Device): Promise<DeviceRun> {
  const info = await initEngine({ ...engineOptionsFromEnv(), device });
  const batch = referenceBatch(SIZE);
  const hyper = referenceHyper(1e-3);
  const rows: NetRow[] = [];
  for (const [name, cfg] of Object.entries(NETS)) {
    const net = createNet(cfg, 1);
    const adam = createAdamState(net.params);
    let peak = 0;
    const losses: number[] = [];
    const times: number[] = [];
    for (let i = 0; i < WARMUP + STEPS; i++) {
      const t0 = performance.now();
      losses.push(await trainStep(net, adam, batch, hyper, trainingLoss('none')));
      if (i >= WARMUP) times.push((performance.now() - t0) / 1000);
      peak = Math.max(peak, tf.memory().numBytes);
    }
    const x = tf.tensor4d(batch.images, [REFERENCE_N, SIZE, SIZE, 3]);
    const fwd: number[] = [];
    for (let i = 0; i < WARMUP + STEPS; i++) {
      const t0 = performance.now();
      const y = netForward(net, x, false);
      await y.data();
      y.dispose();
      if (i >= WARMUP) fwd.push((performance.now() - t0) / 1000);
    }
    x.dispose();
    disposeAdamState(adam);
    disposeNet(net);
    rows.push({
      net: name,
      stepSeconds: median(times),
      forwardImagesPerSecond: REFERENCE_N / median(fwd),
      peakTensorMB: peak / 1e6,
      losses,
    });
  }
  return { engine: describeEngine(info).replace(/^engine: /, ''), rows };
}

/** Run this script for one device in a child process; its figures. */
function child(device: Device): DeviceRun {
  const args = ['--child', '--device', device, '--size', String(SIZE), '--steps', String(STEPS), '--warmup', String(WARMUP)];
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`the ${device} run failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as DeviceRun;
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) {
    process.stdout.write(JSON.stringify(await measure(DEVICE)));
    process.exit(0);
  }
  const cpu = child('cpu');
  const gpu = child(DEVICE);
  console.error(`device: ${gpu.engine}\ncpu: ${cpu.engine}`);
  for (const [i, row] of gpu.rows.entries()) {
    const want = cpu.rows[i].losses;
    for (let s = 0; s < Math.min(3, want.length); s++) {
      const d = Math.abs(row.losses[s] - want[s]) / Math.abs(want[s]);
      if (!(d <= AGREE))
        throw new Error(`${row.net}, step ${s + 1}: loss ${row.losses[s]} on ${DEVICE}, ${want[s]} on the CPU engine; no ratio is printed`);
    }
  }
  console.log(
    `\nTraining step on ${DEVICE} against the CPU engine, batch ${REFERENCE_N} x 3x${SIZE}x${SIZE}, median of ${STEPS} steps after ${WARMUP} warm-up; the first 3 losses agree within ${AGREE}\n`,
  );
  const rows = gpu.rows.flatMap((g, i) => {
    const c = cpu.rows[i];
    return [
      [`${g.net}, ${DEVICE}`, g.stepSeconds, g.forwardImagesPerSecond, g.peakTensorMB, g.stepSeconds / c.stepSeconds],
      [`${c.net}, CPU engine`, c.stepSeconds, c.forwardImagesPerSecond, c.peakTensorMB, 1],
    ];
  });
  console.log(table(['network, device', 'step s', 'forward img/s', 'peak tensors MB', 'step time / CPU engine'], rows));
  const file = writeResult(`device-${DEVICE}.json`, {
    machine: machine(),
    settings: { DEVICE, SIZE, STEPS, WARMUP, AGREE },
    device: gpu,
    cpu,
  });
  console.log(`\nresults: ${file}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
