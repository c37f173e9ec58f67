/**
 * What a PyTorch peer must reproduce before a benchmark prints a ratio against it: gapseg's
 * inference logits on a check input and its training-mode loss on the reference batch, from
 * the same weights (bench/train.ts, bench/trainMobile.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { netForward, type AnyNet } from '../src/nets/index.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { nhwcToNchw } from '../src/util/layout.js';
import { makeRng } from '../src/util/random.js';
import { REFERENCE_N, REFERENCE_SIZE, referenceBatch, referenceHyper } from './reference.js';

/** Engines agree when logits differ by at most this relative to max(1, largest logit), and losses likewise. */
export const AGREE = 1e-3;

/** The check's files, as the peers' --check reads them (NCHW float32). */
export interface CheckData {
  check: { input: string; logits: string; height: number; width: number };
  batch: { images: string; labels: string; n: number; size: number };
}

/**
 * Write gapseg's logits of `net` on a 64x96 check input and the reference batch with its labels
 * (-1 where void); returns the files and gapseg's training-mode loss on that batch (one Adam
 * step at rate lr, which changes `net`: take its weights first).
 */
export async function writeCheckData(dir: string, net: AnyNet, lr: number): Promise<CheckData & { gapsegLoss: number }> {
  const [ch, cw, k] = [64, 96, net.config.numClasses];
  const rng = makeRng(5);
  const cx = Float32Array.from({ length: ch * cw * 3 }, () => rng.next() * 4 - 2);
  const logits = tf.tidy(() => netForward(net, tf.tensor4d(cx, [1, ch, cw, 3]), false).dataSync() as Float32Array);
  const batch = referenceBatch();
  const oneHot = batch.targets.oneHot;
  const labels = Float32Array.from({ length: oneHot.length / k }, (_, i) => {
    for (let c = 0; c < k; c++) if (oneHot[k * i + c]) return c;
    return -1;
  });
  const adam = createAdamState(net.params);
  const gapsegLoss = await trainStep(net, adam, batch, referenceHyper(lr), trainingLoss('none'));
  disposeAdamState(adam);
  const file = (name: string, data: Float32Array) => {
    fs.writeFileSync(path.join(dir, name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return path.join(dir, name);
  };
  const [n, s] = [REFERENCE_N, REFERENCE_SIZE];
  return {
    check: {
      input: file('check-in.f32', nhwcToNchw(cx, 1, 3, ch, cw)),
      logits: file('check-out.f32', nhwcToNchw(logits, 1, k, ch, cw)),
      height: ch,
      width: cw,
    },
    batch: { images: file('batch-in.f32', nhwcToNchw(batch.images, n, 3, s, s)), labels: file('batch-labels.f32', labels), n, size: s },
    gapsegLoss,
  };
}

/** Throws, with no ratio to print, unless the peer's check agrees with gapseg; else says how closely. */
export function checkAgreement(
  peer: string,
  c: { logitsMaxAbsDiff: number; logitsMaxAbs: number; loss: number },
  gapsegLoss: number,
): string {
  const tol = AGREE * Math.max(1, c.logitsMaxAbs);
  if (!(c.logitsMaxAbsDiff <= tol))
    throw new Error(
      `${peer} and gapseg disagree: logits differ by ${c.logitsMaxAbsDiff} (tolerance ${tol.toExponential(1)}); no ratio is printed`,
    );
  if (!(Math.abs(c.loss - gapsegLoss) <= AGREE * Math.max(1, gapsegLoss)))
    throw new Error(`${peer} and gapseg disagree: training loss ${c.loss} vs ${gapsegLoss}; no ratio is printed`);
  return `${peer} computes gapseg's network: logits within ${c.logitsMaxAbsDiff.toExponential(2)} (largest ${c.logitsMaxAbs.toFixed(3)}), training loss ${c.loss.toFixed(6)} vs ${gapsegLoss.toFixed(6)}`;
}
