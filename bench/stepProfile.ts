/**
 * Where one training step's time goes, call by call: the reference U-Net's step (batch 4 x
 * 3x256x256, 2 threads or GAPSEG_THREADS) under tf.profile, one line per kernel call with its input shapes
 * (optionally only the named kernels), and the total. A tool for kernel work, not a benchmark.
 *
 *   npm run build:dev && node build/bench/stepProfile.js [Conv2D Conv2DBackpropFilter ...]
 */
import * as tf from '@tensorflow/tfjs-core';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { createUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { createAdamState } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { referenceBatch, referenceHyper } from './reference.js';
await initEngine({ ...engineOptionsFromEnv(), threads: Number(process.env.GAPSEG_THREADS) || 2 });
const batch = referenceBatch();
const hyper = referenceHyper(1e-3);
const net = createUNet({ ...DEFAULT_UNET, numClasses: 2 }, 1);
const adam = createAdamState(net.params);
for (let i = 0; i < 3; i++) await trainStep(net, adam, batch, hyper, trainingLoss('none'));
const prof = await tf.profile(async () => {
  await trainStep(net, adam, batch, hyper, trainingLoss('none'));
});
const want = process.argv.slice(2);
let total = 0;
for (const k of prof.kernels) {
  total += k.kernelTimeMs as number;
  if (want.length === 0 || want.includes(k.name))
    console.log(k.name.padEnd(24), (k.kernelTimeMs as number).toFixed(1).padStart(7), JSON.stringify(k.inputShapes));
}
console.log(`total of all ${prof.kernels.length} kernel calls: ${total.toFixed(0)} ms`);
process.exit(0);
